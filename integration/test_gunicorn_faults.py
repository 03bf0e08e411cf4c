"""Every supervision promise, tested by doing the damage to real processes."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from gunicorn_procs import (
    Gunicorn,
    alive,
    children,
    config_text,
    redis_cli,
    start_redis,
    wait_until,
)

from gunicorn_ext.supervisor import ping


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


@pytest.fixture
def started(gunicorn: Callable[..., Gunicorn], short_dir: Path) -> tuple[Gunicorn, int, str]:
    """A master with 2 sync workers; its arbiter's pid and socket."""
    sock = str(short_dir / "stash.sock")
    master = gunicorn(config_text(options=f"socket_path={sock!r}, tables=['boot']"))
    master.wait_ready()
    [(arbiter, path)] = master.announced()
    assert path == sock and master.arbiters() == [arbiter]
    return master, arbiter, sock


def test_killed_arbiter_is_restarted_at_the_same_path(started: tuple[Gunicorn, int, str]
                                                      ) -> None:
    master, arbiter, sock = started
    master.get("/put", table="t", key="k", value="1")
    for starts in (2, 3):
        os.kill(arbiter, signal.SIGKILL)
        # The very next request reconnects by itself once the master restarted the arbiter
        # (a put: an increment sent just as the arbiter died may raise "outcome unknown").
        master.get("/put", table="after", key="n", value="1")
        assert master.get("/get", table="after", key="n")["value"] == 1
        wait_until(lambda n=starts: len(master.announced()) == n, 10, "the restart log")
        assert not alive(arbiter)
        arbiter, path = master.announced()[-1]
        assert path == sock
        assert master.arbiters() == [arbiter]
        assert redis_cli(sock, "EXISTS", "boot").strip() == "1"
        assert master.get("/get", table="t", key="k")["value"] is None
        redis_cli(sock, "DEL", "after")
    assert alive(master.pid)
    assert master.log().count(f"; restarting it at {sock}") == 2
    # gunicorn reaps every child with waitpid(-1); the status is claimed before it does.
    assert master.log().count("died (killed by SIGKILL); restarting") == 2
    # Without persist_dir the master says the data is gone.
    assert master.log().count("Stash arbiter restarted empty: every stash table it held "
                              "is lost") == 2


def test_master_sigkill_takes_the_arbiter_down(started: tuple[Gunicorn, int, str]) -> None:
    master, arbiter, sock = started
    master.workers()
    master.signal(signal.SIGKILL)
    wait_until(lambda: not alive(arbiter), 2.0, "the arbiter to exit after its master")
    assert not os.path.exists(sock)


def test_hup_keeps_the_arbiter_and_its_data(started: tuple[Gunicorn, int, str]) -> None:
    master, arbiter, _ = started
    master.get("/put", table="t", key="k", value='{"kept": true}')
    old_workers = set(master.workers())
    master.signal(signal.SIGHUP)
    wait_until(lambda: len(new := set(master.workers())) == 2 and not new & old_workers,
               30, "the workers to be replaced")
    assert master.arbiters() == [arbiter]
    answer = master.get("/get", table="t", key="k")
    assert answer["value"] == {"kept": True} and answer["pid"] not in old_workers
    assert len(master.announced()) == 1


def test_term_stops_the_arbiter_after_the_workers(started: tuple[Gunicorn, int, str]) -> None:
    master, arbiter, sock = started
    answers: list[dict] = []
    request = threading.Thread(target=lambda: answers.append(master.get(
        "/slow-put", table="t", key="late", value="42", hold=1.0)))
    request.start()
    wait_until(lambda: redis_cli(sock, "HEXISTS", "t", "late:started").strip() == "1", 10,
               "the slow request to start")
    master.signal(signal.SIGTERM)
    request.join(30)
    assert answers == [{"value": 42, "pid": answers[0]["pid"]}]
    assert master.wait_exit() == 0
    assert not alive(arbiter)
    assert not os.path.exists(sock)


def test_gunicorn_bind_failure_leaves_no_orphan(gunicorn: Callable[..., Gunicorn],
                                                short_dir: Path) -> None:
    sock = str(short_dir / "stash.sock")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        master = gunicorn(config_text(options=f"socket_path={sock!r}"),
                          args=["-b", f"127.0.0.1:{port}"])
        assert master.wait_exit(60) != 0
    [(arbiter, _)] = master.announced()
    wait_until(lambda: not alive(arbiter), 2.0, "the arbiter to exit")
    assert not os.path.exists(sock)


def test_arbiter_bind_failure_fails_the_start_cleanly(gunicorn: Callable[..., Gunicorn],
                                                      short_dir: Path) -> None:
    squatter = start_redis(short_dir, name="stash")
    try:
        master = gunicorn(config_text(options=f"socket_path={squatter.socket_path!r}"))
        assert master.wait_exit(30) != 0
        assert "the stash arbiter could not start" in master.log()
        assert not children(master.pid)
        assert ping(squatter.socket_path)
    finally:
        squatter.stop()
