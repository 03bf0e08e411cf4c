"""Real server processes for tests: the arbiter and a reference redis-server.

Both listen on a Unix socket in a temporary directory, are ready when they answer PING,
and are stopped (by PID) and their sockets removed when the test is done. A missing
binary fails the test: a skipped comparison would hide a regression.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from gunicorn_ext.supervisor import ping

READY_TIMEOUT = 15.0
# redis-py speaks RESP3 by default from 8.0 on, RESP2 before.
REDIS_PY_DEFAULT_PROTOCOL = 3 if int(redis.__version__.split(".")[0]) >= 8 else 2


def poll_until(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def require_binary(name: str) -> str:
    """The path of `name`; fails (never skips) the test when it is not installed."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; the test suite needs it "
                    "(Debian packages redis-server and redis-tools)")
    return path


class ServerProcess:
    """A server subprocess listening on `socket_path`."""

    def __init__(self, argv: list[str], socket_path: str, log_path: Path,
                 preexec_fn: Callable[[], None] | None = None) -> None:
        self.socket_path = socket_path
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, preexec_fn=preexec_fn)
        self.pid = self.process.pid
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if ping(self.socket_path):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"server did not become ready:\n{self.log_path.read_text()}")

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it lingers; returns the exit code."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()
        if os.path.exists(self.socket_path) and not ping(self.socket_path):
            os.unlink(self.socket_path)
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_arbiter(directory: Path, *options: str, name: str = "arbiter",
                  preexec_fn: Callable[[], None] | None = None) -> ServerProcess:
    """An arbiter on `directory`/`name`.sock; `preexec_fn` runs in the child before exec
    (to start it under other limits)."""
    socket_path = str(directory / f"{name}.sock")
    # --parent-pid: an arbiter outlives no crashed test run.
    argv = [sys.executable, "-m", "resp_arbiter", "--unixsocket", socket_path,
            "--parent-pid", str(os.getpid()), *options]
    return ServerProcess(argv, socket_path, directory / f"{name}.log", preexec_fn)


def start_redis(directory: Path, *options: str, name: str = "redis",
                preexec_fn: Callable[[], None] | None = None) -> ServerProcess:
    socket_path = str(directory / f"{name}.sock")
    argv = [require_binary("redis-server"), "--port", "0", "--unixsocket", socket_path,
            "--save", "", "--appendonly", "no", "--dir", str(directory), *options]
    return ServerProcess(argv, socket_path, directory / f"{name}.log", preexec_fn)
