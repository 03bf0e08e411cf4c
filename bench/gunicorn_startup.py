"""What the stash arbiter adds to gunicorn's start: process start to first HTTP response.

    python -m bench.gunicorn_startup              # best of 7 rounds
    python -m bench.gunicorn_startup --rounds 3

Each start runs `python -m gunicorn -c bench/gunicorn_startup_conf.py` (two sync workers,
a trivial WSGI app, HTTP on a Unix socket in a fresh directory), once plain and once with
`enable_stash` in the config, alternating. The time runs from just before the master's
process is started until the first `GET /` on its socket is answered `200`; the socket is
polled every 2 ms. Each start is then stopped by PID (the master by SIGTERM, then any of
its children still alive: workers, arbiter) and its directory removed. Every process
caches its bytecode in the run's directory (an installed package has its bytecode),
filled by one untimed start of each kind first. The best round of each counts (other load
on the machine only ever slows a start down); the median of the rounds' differences is
printed too, as a busy machine may never be quiet long enough for two best rounds.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # `python bench/gunicorn_startup.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import REPO_ROOT, SetupError, alive, children, stop_pid

CONFIG = REPO_ROOT / "bench" / "gunicorn_startup_conf.py"
APP = "bench.gunicorn_startup_conf:app"
WORKERS = 2  # as the config says
START_TIMEOUT = 30.0
POLL_INTERVAL = 0.002
#: Inherited from a gunicorn around the benchmark, these would change what starts.
_FOREIGN_ENV = ("GUNICORN_STASH_URL", "GUNICORN_STASH_MASTER", "GUNICORN_STASH_DIR",
                "GUNICORN_STASH_CLIENT_CACHE", "GUNICORN_PID", "GUNICORN_FD",
                "XDG_RUNTIME_DIR")
REQUEST = b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n"


@dataclass(frozen=True)
class StartupTimes:
    """Best start-to-first-response times, in milliseconds, and the median of each
    round's difference (with minus without, started one after the other)."""

    without_arbiter: float
    with_arbiter: float
    median_added: float

    @property
    def added(self) -> float:
        return self.with_arbiter - self.without_arbiter


def answered(path: str) -> bool:
    """Whether a `GET /` on the Unix socket `path` gets a 200 response now."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(START_TIMEOUT)
            sock.connect(path)
            sock.sendall(REQUEST)
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
    except OSError:
        return False
    return reply.startswith((b"HTTP/1.0 200 ", b"HTTP/1.1 200 "))


@dataclass(frozen=True)
class Start:
    """One timed start: milliseconds to the first response, and the processes it ran
    (the master first), every one of them stopped by the time it is returned."""

    ms: float
    pids: list[int]


def timed_start(directory: Path, stash: bool, pycache: Path | None = None) -> Start:
    """Start gunicorn in `directory` (with the arbiter or not), time it to its first 200
    response, then stop it and everything it started. With `pycache`, every process
    caches its bytecode there, as an installed package has its own."""
    env = {key: value for key, value in os.environ.items() if key not in _FOREIGN_ENV}
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    # The arbiter's private socket directory goes under the run's directory.
    env["TMPDIR"] = str(directory)
    env["BENCH_STARTUP_DIR"] = str(directory)
    env["BENCH_STARTUP_STASH"] = "1" if stash else "0"
    http = str(directory / "http.sock")
    argv = [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), APP]
    log_path = directory / "gunicorn.log"
    with open(log_path, "wb") as log:
        started = time.monotonic()
        master = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                  stdout=log, stderr=subprocess.STDOUT)
    started_children: list[int] = []
    try:
        deadline = started + START_TIMEOUT
        while not answered(http):
            if master.poll() is not None or time.monotonic() > deadline:
                raise SetupError(f"gunicorn ({'with' if stash else 'without'} the arbiter) "
                                 f"did not answer; its log:\n"
                                 f"{log_path.read_text(errors='replace')}")
            time.sleep(POLL_INTERVAL)
        elapsed = time.monotonic() - started
        # The second worker may not be forked yet: wait for every process to stop.
        expected = WORKERS + (1 if stash else 0)
        while len(started_children := children(master.pid)) < expected:
            if master.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(POLL_INTERVAL)
    finally:
        stop_pid(master.pid, master)
        for pid in started_children:
            if alive(pid):
                stop_pid(pid)
    return Start(elapsed * 1000, [master.pid, *started_children])


def measure(rounds: int) -> StartupTimes:
    """Best of `rounds` starts each, alternating without and with the arbiter, after one
    untimed start of each that fills the bytecode cache (and the page cache)."""
    times: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="rab-start-") as name:
        pycache = Path(name) / "pycache"
        for number in range(-1, rounds):
            for stash in (False, True):
                directory = Path(name) / f"{number + 1}-{int(stash)}"
                directory.mkdir()
                ms = timed_start(directory, stash, pycache).ms
                if number >= 0:
                    times[stash].append(ms)
    added = [b - a for a, b in zip(times[False], times[True], strict=True)]
    return StartupTimes(min(times[False]), min(times[True]), statistics.median(added))


def describe(times: StartupTimes) -> str:
    return (f"without the arbiter {times.without_arbiter:.0f} ms, with it "
            f"{times.with_arbiter:.0f} ms: {times.added:+.0f} ms (median of the rounds' "
            f"differences {times.median_added:+.0f} ms)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gunicorn_startup",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="starts of each (best counts)")
    args = parser.parse_args(argv)
    try:
        times = measure(args.rounds)
    except SetupError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(f"gunicorn, 2 sync workers, start to first response, best of {args.rounds}: "
          f"{describe(times)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
