"""The arbiter's interpreter starts as gunicorn reads its config file, and is configured
(given its socket) by the master's first hook only when nothing it was started with has
changed since; otherwise it is stopped and an arbiter started as before."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from gunicorn_procs import (
    LISTEN_RE,
    Gunicorn,
    alive,
    children,
    cmdline,
    config_text,
    redis_cli,
    wait_until,
)

import gunicorn_ext
from gunicorn_ext import hooks


def arbiters_of(master: int) -> list[int]:
    """Live arbiter processes started for `master` (its children or not)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            words = cmdline(int(entry)).split()
            if ("resp_arbiter" in words and "--parent-pid" in words
                    and words[words.index("--parent-pid") + 1] == str(master)):
                found.append(int(entry))
    return found


def test_the_arbiter_started_while_gunicorn_read_its_config_serves(
        gunicorn: Callable[..., Gunicorn], short_dir: Path) -> None:
    sock = str(short_dir / 'a"b.sock')  # given on standard input, quoted
    master = gunicorn(config_text(options=f"socket_path={sock!r}, tables=['boot'], "
                                          "password='p\"w'")).wait_ready()
    [(arbiter, path)] = master.announced()
    assert path == sock and master.arbiters() == [arbiter]
    # Prestarted: its socket and password came on standard input, not its command line.
    words = cmdline(arbiter).split()
    assert words[words.index("resp_arbiter") + 1] == "-" and "--unixsocket" not in words
    assert arbiters_of(master.pid) == [arbiter]
    assert redis_cli(sock, "exists", "boot", password='p"w').strip() == "1"
    assert master.get("/incr", table="t", key="k")["value"] == 1


def test_a_prestarted_arbiter_that_no_longer_fits_is_replaced(
        gunicorn: Callable[..., Gunicorn], short_dir: Path) -> None:
    # capture_output sends the master's standard output and error to the error log as
    # gunicorn sets up its logger, after the config file is read: the arbiter started
    # then would write elsewhere than the one gunicorn starts with that setting.
    error_log = short_dir / "error.log"
    master = gunicorn(config_text(options="loglevel='notice'",
                                  before=f"capture_output = True\nerrorlog = "
                                         f"{str(error_log)!r}"))
    listening = wait_until(lambda: error_log.exists() and LISTEN_RE.search(
        error_log.read_text()), 30, "gunicorn to listen")
    master.port = int(listening.group(1))
    wait_until(master.answers, 30, "a worker to answer")
    assert "Stash arbiter ready" in error_log.read_text()
    [arbiter] = master.arbiters()
    assert "--unixsocket" in cmdline(arbiter).split()
    assert arbiters_of(master.pid) == [arbiter]  # the prestarted one is gone
    wait_until(lambda: "resp-arbiter" in error_log.read_text()
               and f"ready (pid {arbiter})" in error_log.read_text(), 20,
               "the arbiter's own log line in gunicorn's error log")
    assert master.get("/incr", table="t", key="k")["value"] == 1


def test_a_daemon_master_replaces_the_arbiter_prestarted_before_it_forked(
        short_dir: Path) -> None:
    pidfile, error_log = short_dir / "g.pid", short_dir / "error.log"
    config = config_text(options=f"socket_path={str(short_dir / 's.sock')!r}",
                         before=f"daemon = True\npidfile = {str(pidfile)!r}\n"
                                f"errorlog = {str(error_log)!r}")
    master = Gunicorn(short_dir, config)  # exits once the daemon has forked
    daemon = 0
    try:
        assert master.wait_exit() == 0
        daemon = wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 20,
                            "the daemon's pid file")
        daemon = int(daemon)
        wait_until(lambda: "Stash arbiter ready" in error_log.read_text(), 20,
                   "the arbiter to be ready")
        [arbiter] = [pid for pid in children(daemon) if "resp_arbiter" in cmdline(pid)]
        # The one started before the fork had the first process as parent: it has exited.
        wait_until(lambda: arbiters_of(master.pid) == [], 20, "the prestarted arbiter to exit")
        assert arbiters_of(daemon) == [arbiter]
        assert redis_cli(str(short_dir / "s.sock"), "ping").strip() == "PONG"
    finally:
        if daemon:
            os.kill(daemon, signal.SIGTERM)
            wait_until(lambda: not alive(daemon), 30, "the daemon to stop")
        master.stop()
    assert arbiters_of(daemon) == []


def test_enable_stash_outside_gunicorn_starts_nothing() -> None:
    before = set(children(os.getpid()))
    gunicorn_ext.enable_stash({}, tables=["t"])
    assert hooks._prestarted is None
    assert set(children(os.getpid())) == before
