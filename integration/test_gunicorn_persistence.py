"""persist_dir: the tables survive an arbiter crash and a stop and start of gunicorn."""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path

from gunicorn_procs import Gunicorn, alive, config_text, wait_until

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
