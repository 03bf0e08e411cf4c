"""The server processes a benchmark run owns: redis-server, the arbiter, a gunicorn master.

Each listens only on a Unix socket inside the run's temporary directory, counts as ready
when it answers, and is stopped by its PID (SIGTERM, then SIGKILL) with its socket
removed, whatever way the run ends. The benchmark must not depend on pytest, so this is a
small sibling of the test suite's helpers rather than an import of them.
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
from pathlib import Path

from gunicorn_ext.supervisor import ping

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
REPO_ROOT = Path(__file__).resolve().parent.parent


class BenchSetupError(RuntimeError):
    """A server or tool the benchmark needs is missing or did not start."""


def require_binary(name: str) -> str:
    """The path of `name`, or a loud failure: a benchmark with a missing side is void."""
    path = shutil.which(name)
    if path is None:
        raise BenchSetupError(f"{name} is not installed; the benchmark needs it "
                              "(Debian packages redis-server and redis-tools)")
    return path


def accepts_connections(path: str) -> bool:
    """True when something listens on the Unix socket `path`."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(path)
    except OSError:
        return False
    return True


def stop_pid(pid: int, process: subprocess.Popen | None = None) -> None:
    """SIGTERM `pid`, SIGKILL it if it lingers. `process` reaps our own children."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not _alive(pid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if process is not None:
        process.wait(STOP_TIMEOUT)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Server:
    """One server subprocess whose log goes to a file in the run directory."""

    def __init__(self, name: str, argv: list[str], socket_path: str, directory: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.socket_path = socket_path
        self.log_path = directory / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=REPO_ROOT, env=env)
        self.pid = self.process.pid

    def wait_ready(self, check) -> None:
        """Poll `check()` until it is true; fail with the log if the process dies first."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if check():
                return
            time.sleep(0.02)
        self.stop()
        raise BenchSetupError(f"{self.name} did not become ready; its log:\n"
                              f"{self.log_path.read_text(errors='replace')}")

    def stop(self) -> None:
        stop_pid(self.pid, self.process)
        self._log.close()
        if os.path.exists(self.socket_path) and not accepts_connections(self.socket_path):
            os.unlink(self.socket_path)


def start_redis(directory: Path) -> Server:
    """redis-server without TCP and without persistence."""
    path = str(directory / "redis.sock")
    argv = [require_binary("redis-server"), "--port", "0", "--unixsocket", path,
            "--save", "", "--appendonly", "no", "--dir", str(directory)]
    server = Server("redis-server", argv, path, directory)
    server.wait_ready(lambda: ping(path))
    return server


def start_arbiter(directory: Path, *prefix: str, name: str = "arbiter",
                  options: tuple[str, ...] = ()) -> Server:
    """`python [prefix...] -m resp_arbiter --unixsocket ... [options...]`; the prefix can
    add a profiler (`-m cProfile -o FILE`). The arbiter exits when this process is gone."""
    path = str(directory / f"{name}.sock")
    argv = [sys.executable, *prefix, "-m", "resp_arbiter", "--unixsocket", path,
            "--parent-pid", str(os.getpid()), *options]
    server = Server(name, argv, path, directory)
    server.wait_ready(lambda: ping(path))
    return server


class GunicornStash(Server):
    """A gunicorn master with one dirty worker, so that its dirty arbiter (and with it
    gunicorn's stash) runs. `bench/gunicorn_stash.py` is its config; its `when_ready`
    hook reports the dirty arbiter's socket and PID in a JSON file."""

    def __init__(self, directory: Path) -> None:
        self.info_path = directory / "gunicorn-stash.json"
        env = dict(os.environ)
        # gunicorn puts the dirty arbiter's socket and PID file in the temp directory.
        env["TMPDIR"] = str(directory)
        env["BENCH_GUNICORN_DIR"] = str(directory)
        env.pop("GUNICORN_DIRTY_SOCKET", None)
        argv = [sys.executable, "-m", "gunicorn", "-c",
                str(REPO_ROOT / "bench" / "gunicorn_stash.py"), "bench.gunicorn_stash:app"]
        super().__init__("gunicorn", argv, "", directory, env)
        self.dirty_pid = 0
        self.wait_ready(self._dirty_arbiter_listens)

    def _dirty_arbiter_listens(self) -> bool:
        if not self.socket_path:
            try:
                info = json.loads(self.info_path.read_text())
            except (OSError, ValueError):
                return False
            self.socket_path = info["socket"]
            self.dirty_pid = info["pid"]
        return accepts_connections(self.socket_path)

    def stop(self) -> None:
        """The master stops its dirty arbiter; make sure, by its PID, that it did."""
        stop_pid(self.pid, self.process)
        if self.dirty_pid and _alive(self.dirty_pid):
            stop_pid(self.dirty_pid)
        self._log.close()
        if self.socket_path and os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
