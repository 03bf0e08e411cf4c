"""One arbiter per socket and per append-only directory, and its owners (STASH.ADOPT):
what lets a USR2 upgrade hand the arbiter to the new master without ever running two."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from aof_helpers import arbiter_with_aof
from servers import accepts_connections, alive, poll_until, start_arbiter, stop_pid

from resp_arbiter import errors


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def _arbiter_argv(directory: Path, socket_path: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "resp_arbiter", "--unixsocket", socket_path,
            "--dir", str(directory), *options]


def test_adopted_owner_keeps_the_arbiter_after_its_parent_dies(workdir: Path) -> None:
    """The parent (the old master) goes first, even by SIGKILL: the adopting process
    keeps the arbiter; once that one is gone too, the arbiter exits and removes its
    socket."""
    parent = subprocess.Popen(  # a parent that starts the arbiter, then waits
        [sys.executable, "-c", "import subprocess, sys, os, time;"
         f"subprocess.Popen({_arbiter_argv(workdir, str(workdir / 'a.sock'))!r}"
         " + ['--parent-pid', str(os.getpid())]); time.sleep(120)"])
    adopter = _sleeper()
    socket_path = str(workdir / "a.sock")
    try:
        assert poll_until(lambda: accepts_connections(socket_path), 10)
        client = redis.Redis(unix_socket_path=socket_path)
        assert client.execute_command("STASH.OWNERS") == [parent.pid]
        assert client.execute_command("STASH.ADOPT", adopter.pid) == 2
        assert client.execute_command("STASH.ADOPT", adopter.pid) == 2  # idempotent
        assert sorted(client.execute_command("STASH.OWNERS")) == sorted(
            [parent.pid, adopter.pid])
        arbiter = client.info("server")["process_id"]
        client.hset("t", "k", "v")
        client.close()

        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        client = redis.Redis(unix_socket_path=socket_path)
        assert poll_until(lambda: client.execute_command("STASH.OWNERS") == [adopter.pid], 5)
        assert alive(arbiter) and client.hget("t", "k") == b"v"
        client.close()

        os.kill(adopter.pid, signal.SIGKILL)
        adopter.wait(10)
        assert poll_until(lambda: not alive(arbiter), 10)
        assert not os.path.exists(socket_path)
    finally:
        for process in (parent, adopter):
            stop_pid(process.pid, process)


def test_released_owner_leaves_the_arbiter_to_the_others(workdir: Path) -> None:
    adopter = _sleeper()
    try:
        with start_arbiter(workdir) as server:
            client = redis.Redis(unix_socket_path=server.socket_path)
            assert client.execute_command("STASH.ADOPT", adopter.pid) == 2
            assert client.execute_command("STASH.RELEASE", adopter.pid) == 1
            assert client.execute_command("STASH.RELEASE", adopter.pid) == 1
            # A released owner's death no longer matters.
            os.kill(adopter.pid, signal.SIGKILL)
            adopter.wait(10)
            assert client.execute_command("STASH.OWNERS") == [os.getpid()]
            assert client.execute_command("STASH.RELEASE", os.getpid()) == 0
            # Releasing the last owner leaves the arbiter running (its master stops it).
            assert client.ping() and client.execute_command("STASH.OWNERS") == []
            client.close()
    finally:
        stop_pid(adopter.pid, adopter)


@pytest.mark.parametrize("pid", ["0", "-5", "abc", "99999999999", "4194304"])
def test_adopt_refuses_what_is_not_a_live_process(arbiter, pid: str) -> None:
    client = redis.Redis(unix_socket_path=arbiter.socket_path)
    expected = errors.NOT_INTEGER if pid == "abc" \
        else errors.NO_SUCH_PROCESS
    # (4194304 is past Linux's largest pid, so no process can have it.)
    with pytest.raises(redis.ResponseError, match=f"^{expected.removeprefix('ERR ')}$"):
        client.execute_command("STASH.ADOPT", pid)
    assert client.execute_command("STASH.OWNERS") == [os.getpid()]


def test_two_arbiters_started_at_once_on_one_path_never_both_run(workdir: Path) -> None:
    """Each round starts two arbiters on one socket path at the same moment: exactly one
    serves, the other says another server answers there (with a plain bind, the second
    can take the first's socket for stale before it listens, and unlink it)."""
    socket_path = str(workdir / "race.sock")
    for round_number in range(15):
        logs = [workdir / f"race-{round_number}-{i}.log" for i in range(2)]
        processes = [subprocess.Popen(
            _arbiter_argv(workdir, socket_path, "--parent-pid", str(os.getpid())),
            stdout=log.open("wb"), stderr=subprocess.STDOUT) for log in logs]
        try:
            assert poll_until(lambda ps=processes: accepts_connections(socket_path)
                              and sum(p.poll() is None for p in ps) == 1, 15), \
                [log.read_text() for log in logs]
            [survivor] = [p for p in processes if p.poll() is None]
            [loser] = [p for p in processes if p is not survivor]
            assert loser.returncode == 1
            assert "another server is already answering" in logs[
                processes.index(loser)].read_text()
            client = redis.Redis(unix_socket_path=socket_path)
            assert client.info("server")["process_id"] == survivor.pid
            client.close()
        finally:
            for process in processes:
                stop_pid(process.pid, process)
        assert not os.path.exists(socket_path)
        assert sorted(os.listdir(workdir)) == sorted(
            p.name for p in workdir.iterdir() if p.suffix == ".log")


def test_second_arbiter_on_one_append_only_directory_refuses(workdir: Path) -> None:
    with arbiter_with_aof(workdir, name="first") as first:
        redis.Redis(unix_socket_path=first.socket_path).hset("t", "k", "v")
        result = subprocess.run(
            _arbiter_argv(workdir, str(workdir / "second.sock"), "--appendonly", "yes"),
            capture_output=True, text=True, timeout=30)
        assert result.returncode == 1
        assert "Another process holds the append-only directory" in result.stdout
        assert not os.path.exists(workdir / "second.sock")
        # Nor may a running arbiter switch AOF on there.
        with start_arbiter(workdir, name="third") as third:
            client = redis.Redis(unix_socket_path=third.socket_path)
            with pytest.raises(redis.ResponseError, match="Unable to turn on AOF"):
                client.config_set("appendonly", "yes")
            assert client.config_get("appendonly") == {"appendonly": "no"}
            client.close()
        assert redis.Redis(unix_socket_path=first.socket_path).hget("t", "k") == b"v"
    # Once the first is gone (even killed: the lock goes with the process), it starts.
    with arbiter_with_aof(workdir, name="second") as second:
        assert redis.Redis(unix_socket_path=second.socket_path).hget("t", "k") == b"v"
