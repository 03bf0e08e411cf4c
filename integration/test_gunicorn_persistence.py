"""persist_dir: the tables survive an arbiter crash and a stop and start of gunicorn."""

from __future__ import annotations

import json
import os
import signal
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from gunicorn_procs import Gunicorn, alive, config_text, redis_cli, wait_until

from gunicorn_ext.options import StashOptions
from gunicorn_ext.supervisor import ArbiterSupervisor, Owner

VALUES = {f"user:{n}": {"n": n, "name": f"user {n}"} for n in range(20)}


def persistent(gunicorn: Callable[..., Gunicorn], data: Path, sock: str) -> Gunicorn:
    """A master whose arbiter keeps its tables in `data`; ready to serve."""
    return gunicorn(config_text(options=f"socket_path={sock!r}, persist_dir={str(data)!r}, "
                                        "tables=['boot']")).wait_ready()


def put_values(master: Gunicorn) -> None:
    for key, value in VALUES.items():
        master.get("/put", table="sessions", key=key, value=json.dumps(value))
    assert master.get("/incr", table="counters", key="hits")["value"] == 1


def assert_values_back(master: Gunicorn) -> None:
    for key, value in VALUES.items():
        assert master.get("/get", table="sessions", key=key)["value"] == value
    assert master.get("/incr", table="counters", key="hits")["value"] == 2
    assert "boot" in master.get("/tables")["tables"]


def test_a_killed_arbiter_reloads_every_table(gunicorn: Callable[..., Gunicorn],
                                              short_dir: Path) -> None:
    data, sock = short_dir / "data" / "stash", str(short_dir / "stash.sock")
    master = persistent(gunicorn, data, sock)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert "Stash arbiter loaded 0 tables from " + str(data) in master.log()
    put_values(master)
    [(arbiter, _)] = master.announced()
    os.kill(arbiter, signal.SIGKILL)
    wait_until(lambda: len(master.announced()) == 2, 20, "the restart")
    assert not alive(arbiter)
    # sessions, counters and the (empty, pinned) declared table.
    assert f"Stash arbiter reloaded 3 tables from {data}" in master.log()
    assert "restarted empty" not in master.log()
    assert_values_back(master)


def test_a_stop_and_start_of_gunicorn_keeps_every_table(gunicorn: Callable[..., Gunicorn],
                                                        short_dir: Path) -> None:
    data, sock = short_dir / "data", str(short_dir / "stash.sock")
    first = persistent(gunicorn, data, sock)
    put_values(first)
    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0
    assert not os.path.exists(sock)
    second = persistent(gunicorn, data, sock)
    assert f"Stash arbiter loaded 3 tables from {data}" in second.log()
    assert_values_back(second)


def resp_command(*args: str) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Lines:
    """A logger that keeps what the supervisor says."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, text: str, *args: object) -> None:
        self.lines.append(text % args)

    warning = error = info


def test_the_readiness_wait_covers_a_reload_longer_than_ready_timeout(
        short_dir: Path) -> None:
    data = short_dir / "data"
    (data / "appendonlydir").mkdir(parents=True)
    fields = 300_000
    with open(data / "appendonlydir" / "appendonly.aof.1.base.aof", "wb") as base:
        for start in range(0, fields, 100):
            pairs = [text for n in range(start, start + 100) for text in (f"k{n}", "v")]
            base.write(resp_command("HSET", "big", *pairs))
    (data / "appendonlydir" / "appendonly.aof.manifest").write_text(
        "file appendonly.aof.1.base.aof seq 1 type b\n")
    log = Lines()
    sock = str(short_dir / "stash.sock")
    supervisor = ArbiterSupervisor(StashOptions(persist_dir=str(data), ready_timeout=0.5),
                                   log, sock, Owner(os.geteuid(), os.getegid()))
    try:
        began = time.monotonic()
        supervisor.start()
        # The test means something only if the reload outlasted ready_timeout.
        assert time.monotonic() - began > 1.0
        assert supervisor.loaded == 1
        assert redis_cli(sock, "HLEN", "big").strip() == str(fields)
        assert f"Stash arbiter loaded 1 tables from {data}" in log.lines
    finally:
        supervisor.stop()
    assert supervisor.process is not None and supervisor.process.poll() is not None


def test_the_readiness_wait_gives_up_on_an_arbiter_that_stopped_working(
        short_dir: Path) -> None:
    """An arbiter that accepts connections but never answers and uses no CPU time (here:
    SIGSTOP in the middle of a reload) fails the start after ready_timeout, where the
    wait used to last for as long as the process existed."""
    data = short_dir / "data"
    (data / "appendonlydir").mkdir(parents=True)
    with open(data / "appendonlydir" / "appendonly.aof.1.base.aof", "wb") as base:
        for start in range(0, 300_000, 100):
            pairs = [text for n in range(start, start + 100) for text in (f"k{n}", "v")]
            base.write(resp_command("HSET", "big", *pairs))
    (data / "appendonlydir" / "appendonly.aof.manifest").write_text(
        "file appendonly.aof.1.base.aof seq 1 type b\n")
    sock = str(short_dir / "stash.sock")
    supervisor = ArbiterSupervisor(StashOptions(persist_dir=str(data), ready_timeout=1.0),
                                   Lines(), sock, Owner(os.geteuid(), os.getegid()))
    stopped: list[int] = []

    def stop_it_once_it_listens() -> None:
        wait_until(lambda: supervisor.process is not None and os.path.exists(sock), 20,
                   "the arbiter to listen")
        assert supervisor.process is not None
        os.kill(supervisor.process.pid, signal.SIGSTOP)
        stopped.append(supervisor.process.pid)

    stopper = threading.Thread(target=stop_it_once_it_listens)
    stopper.start()
    try:
        began = time.monotonic()
        with pytest.raises(RuntimeError, match=r"used no CPU time for 1\.0s without answering"):
            supervisor.start()
        assert time.monotonic() - began < 15
    finally:
        stopper.join(30)
        supervisor.stop()
    assert stopped and not alive(stopped[0])


def test_kill_9_of_the_arbiter_under_load_loses_nothing_acknowledged(
        gunicorn: Callable[..., Gunicorn], short_dir: Path) -> None:
    """Clients write distinct keys through gunicorn while the arbiter is killed with
    SIGKILL: every write a client saw acknowledged (HTTP 200) is in the restarted
    arbiter, which reloaded it from `persist_dir` (appendfsync always)."""
    data, sock = short_dir / "data", str(short_dir / "stash.sock")
    master = gunicorn(config_text(options=f"socket_path={sock!r}, persist_dir="
                                          f"{str(data)!r}, appendfsync='always'")
                      ).wait_ready()
    [(arbiter, _)] = master.announced()
    stop = threading.Event()
    acknowledged: list[str] = []
    failures: list[str] = []

    def load(client: int) -> None:
        n = 0
        while not stop.is_set():
            key = f"{client}:{n}"
            try:
                master.get("/put", table="writes", key=key, value=str(n))
                acknowledged.append(key)
            except Exception as error:  # reported below: the retries should hide the crash
                failures.append(repr(error))
            n += 1

    threads = [threading.Thread(target=load, args=(client,)) for client in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(acknowledged) > 200, 30, "the load to run")
        os.kill(arbiter, signal.SIGKILL)
        killed_at = len(acknowledged)
        wait_until(lambda: len(master.announced()) == 2, 20, "the restart")
        wait_until(lambda: len(acknowledged) > killed_at + 200, 30, "writes after it")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failures == []
    stored = set(redis_cli(sock, "HKEYS", "writes").split())
    missing = [key for key in acknowledged if key not in stored]
    print(f"{len(acknowledged)} writes acknowledged, {killed_at} before the kill; "
          f"{len(missing)} missing after the restart")
    assert missing == []
