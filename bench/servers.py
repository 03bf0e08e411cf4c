"""Server processes for the test suite and the benchmark: redis-server, the arbiter, and
a gunicorn master whose dirty arbiter serves gunicorn's stash.

Each listens only on a Unix socket inside a temporary directory the caller owns, counts
as ready when it answers PING, and is stopped by its PID (SIGTERM, then SIGKILL) with its
socket removed. This module does not depend on pytest (`python -m bench.run` runs
without it); the test suite's `servers` module wraps it so that a missing binary fails
the test instead of raising `SetupError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from gunicorn_ext.supervisor import ping

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
REPO_ROOT = Path(__file__).resolve().parent.parent


class SetupError(RuntimeError):
    """A server or tool is missing or did not start."""



def require_binary(name: str) -> str:
    """The path of `name`, or a loud failure: a comparison with a missing side is void."""
    path = shutil.which(name)
    if path is None:
        raise SetupError(f"{name} is not installed; it is needed here "
                         "(Debian packages redis-server and redis-tools)")
    return path


def poll_until(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def accepts_connections(path: str) -> bool:
    """True when something listens on the Unix socket `path`."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(path)
    except OSError:
        return False
    return True


def alive(pid: int) -> bool:
    """True for a running process, ours or not (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def children(pid: int, live_only: bool = False) -> list[int]:
    """The processes whose parent is `pid` (read from /proc); with `live_only`, zombies
    are left out (a child that ended but is not reaped yet is still listed otherwise)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and not (live_only and fields[0] == b"Z"):
            found.append(int(entry))
    return found


def encode_request(*argv: bytes | str | int) -> bytes:
    """One request as a RESP multibulk, the way every client library sends it."""
    parts = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def process_memory(pid: int) -> dict[str, int]:
    """A process' resident memory now (VmRSS) and at its peak so far (VmHWM), in bytes."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) * 1024
    return values


def stop_pid(pid: int, process: subprocess.Popen | None = None) -> None:
    """SIGTERM `pid`, SIGKILL it if it lingers. `process` reaps our own children."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not alive(pid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if process is not None:
        process.wait(STOP_TIMEOUT)


class ServerProcess:
    """A server subprocess listening on `socket_path`, its output in `log_path`; ready
    (answering PING) when the constructor returns."""

    def __init__(self, argv: list[str], socket_path: str, log_path: Path,
                 preexec_fn: Callable[[], None] | None = None, *,
                 cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.name = log_path.stem
        self.socket_path = socket_path
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, preexec_fn=preexec_fn,
                                        cwd=cwd, env=env)
        self.pid = self.process.pid
        self._wait_ready()

    def ready(self) -> bool:
        """Whether the server serves yet."""
        return ping(self.socket_path)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.ready():
                return
            time.sleep(0.02)
        self.stop()
        raise SetupError(f"{self.name} did not become ready; its log:\n"
                         f"{self.log_path.read_text(errors='replace')}")

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it lingers; returns the exit code."""
        if self.process.poll() is None:
            stop_pid(self.pid, self.process)
        self._log.close()
        if (self.socket_path and os.path.exists(self.socket_path)
                and not accepts_connections(self.socket_path)):
            os.unlink(self.socket_path)
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_arbiter(directory: Path, *options: str, name: str = "arbiter",
                  preexec_fn: Callable[[], None] | None = None,
                  prefix: tuple[str, ...] = ()) -> ServerProcess:
    """`python [prefix...] -m resp_arbiter` on `directory`/`name`.sock. `prefix` can add a
    profiler (`-m cProfile -o FILE`); `preexec_fn` runs in the child before exec (to start
    it under other limits). The arbiter exits when this process is gone."""
    socket_path = str(directory / f"{name}.sock")
    # Its own directory for any file it writes (the append-only file), never the cwd.
    argv = [sys.executable, *prefix, "-m", "resp_arbiter", "--unixsocket", socket_path,
            "--parent-pid", str(os.getpid()), "--dir", str(directory), *options]
    return ServerProcess(argv, socket_path, directory / f"{name}.log", preexec_fn)


def start_redis(directory: Path, *options: str, name: str = "redis",
                preexec_fn: Callable[[], None] | None = None) -> ServerProcess:
    """redis-server on `directory`/`name`.sock, without TCP and (unless `options` say
    otherwise) without persistence."""
    socket_path = str(directory / f"{name}.sock")
    argv = [require_binary("redis-server"), "--port", "0", "--unixsocket", socket_path,
            "--save", "", "--appendonly", "no", "--dir", str(directory), *options]
    return ServerProcess(argv, socket_path, directory / f"{name}.log", preexec_fn)


class Pair(NamedTuple):
    """An arbiter and a redis-server started with the same options, to compare."""

    arbiter: ServerProcess
    redis: ServerProcess


@contextlib.contextmanager
def start_pair(directory: Path, *options: str, name: str = "",
               preexec_fn: Callable[[], None] | None = None) -> Iterator[Pair]:
    """Both servers with the same `options` (sockets `arbiter<name>`, `redis<name>`);
    both are stopped when the block ends."""
    with start_redis(directory, *options, name=f"redis{name}",
                     preexec_fn=preexec_fn) as redis_server, \
            start_arbiter(directory, *options, name=f"arbiter{name}",
                          preexec_fn=preexec_fn) as arbiter:
        yield Pair(arbiter, redis_server)


class GunicornStash(ServerProcess):
    """A gunicorn master with one dirty worker, so that its dirty arbiter (and with it
    gunicorn's stash) runs. `bench/gunicorn_stash.py` is its config; its `when_ready`
    hook reports the dirty arbiter's socket and PID in a JSON file."""

    def __init__(self, directory: Path) -> None:
        self.info_path = directory / "gunicorn-stash.json"
        self.dirty_pid = 0
        env = dict(os.environ)
        # gunicorn puts the dirty arbiter's socket and PID file in the temp directory.
        env["TMPDIR"] = str(directory)
        env["BENCH_GUNICORN_DIR"] = str(directory)
        env.pop("GUNICORN_DIRTY_SOCKET", None)
        argv = [sys.executable, "-m", "gunicorn", "-c",
                str(REPO_ROOT / "bench" / "gunicorn_stash.py"), "bench.gunicorn_stash:app"]
        super().__init__(argv, "", directory / "gunicorn.log", cwd=REPO_ROOT, env=env)

    def ready(self) -> bool:
        """The dirty arbiter, named in the info file, listens."""
        if not self.socket_path:
            try:
                info = json.loads(self.info_path.read_text())
            except (OSError, ValueError):
                return False
            self.socket_path = info["socket"]
            self.dirty_pid = info["pid"]
        return accepts_connections(self.socket_path)

    def stop(self) -> int | None:
        """The master stops its dirty arbiter; make sure, by its PID, that it did."""
        returncode = super().stop()
        if self.dirty_pid and alive(self.dirty_pid):
            stop_pid(self.dirty_pid)
        if self.socket_path and os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        return returncode
