"""Real processes for the integration tests: servers, gunicorn masters, workers, arbiters.

Every process a test starts, or sees its gunicorn start, is remembered by pid and ended
by pid when the test is done; readiness is polled (log lines, HTTP, PING), never slept.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import servers
from servers import ServerProcess as Server
from servers import alive, require_binary, start_arbiter, start_redis

import gunicorn_ext
from gunicorn_ext.supervisor import ping

__all__ = ["Gunicorn", "Server", "free_port", "redis_cli", "require_binary", "start_arbiter",
           "start_redis", "wait_until"]

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
PACKAGE_ROOT = Path(gunicorn_ext.__file__).resolve().parent.parent
READY_RE = re.compile(r"Stash arbiter (?:ready|restarted) \(pid (\d+)\) at (\S+);")
LISTEN_RE = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+) \((\d+)\)")


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something true; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    """A loopback TCP port nothing listens on now (for a server the test starts next)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(pid: int) -> list[int]:
    """Live child processes of `pid`."""
    return servers.children(pid, live_only=True)


def descendants(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def is_arbiter(pid: int) -> bool:
    return "resp_arbiter" in cmdline(pid)


def end_process(pid: int) -> None:
    """SIGKILL one process we started (or saw our gunicorn start), by pid."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def gunicorn_command() -> list[str]:
    """The `gunicorn` script next to this Python (`python -m gunicorn` re-executes itself
    on USR2 as `python .../gunicorn/__main__.py` up to 23.0, which breaks imports)."""
    script = Path(sys.executable).with_name("gunicorn")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]


def config_text(worker_class: str = "sync", workers: int = 2, threads: int = 1,
                options: str = "", before: str = "", after: str = "") -> str:
    """A gunicorn config file: settings, `before`, enable_stash(options), `after`."""
    return "\n".join([
        "import gunicorn_ext",
        'bind = "127.0.0.1:0"',
        f"workers = {workers}",
        f"worker_class = {worker_class!r}",
        f"threads = {threads}",
        "graceful_timeout = 10",
        "timeout = 60",
        before,
        f"gunicorn_ext.enable_stash(globals(){', ' + options if options else ''})",
        after,
        "",
    ])


class Gunicorn:
    """A gunicorn master started from a config file (or `python:` module) in `directory`."""

    def __init__(self, directory: Path, config: str, app: str = "gunicorn_apps:app",
                 args: Iterable[str] = (), env: dict[str, str] | None = None) -> None:
        self.directory = directory
        if config.startswith("python:") or ("\n" not in config and Path(config).is_file()):
            config_arg = config
        else:
            path = directory / "gunicorn.conf.py"
            path.write_text(config)
            config_arg = str(path)
        self.log_path = directory / "gunicorn.log"
        environment = dict(os.environ if env is None else env)
        environment["PYTHONPATH"] = os.pathsep.join([str(HERE), str(PACKAGE_ROOT)])
        environment.pop("GUNICORN_STASH_MASTER", None)
        environment.pop("GUNICORN_STASH_DIR", None)
        if env is None:
            environment.pop("GUNICORN_STASH_URL", None)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [*gunicorn_command(), "-c", config_arg, *args, app],
            cwd=directory, env=environment, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        self.seen: set[int] = {self.pid}
        self.port = 0

    # --- observation -------------------------------------------------------------------

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> Gunicorn:
        """Wait until the master listens and a worker answers."""
        def listening() -> int:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            match = LISTEN_RE.search(self.log())
            return int(match.group(1)) if match else 0
        self.port = wait_until(listening, timeout, "gunicorn to listen")
        wait_until(self.answers, timeout, "a worker to answer")
        return self

    def answers(self) -> bool:
        """True once a worker answers HTTP at all (any status)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/env")
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()
        return True

    def arbiters(self, master: int | None = None) -> list[int]:
        pids = [pid for pid in children(master or self.pid) if is_arbiter(pid)]
        self.seen.update(pids)
        return pids

    def workers(self, master: int | None = None) -> list[int]:
        pids = [pid for pid in children(master or self.pid) if not is_arbiter(pid)]
        self.seen.update(pids)
        return pids

    def announced(self) -> list[tuple[int, str]]:
        """(pid, socket path) of each arbiter start or restart the master logged."""
        found = [(int(pid), path) for pid, path in READY_RE.findall(self.log())]
        self.seen.update(pid for pid, _ in found)
        return found

    # --- HTTP -------------------------------------------------------------------------

    def get(self, path: str, timeout: float = 20.0, **params: Any) -> dict[str, Any]:
        """GET `path`; fails the test unless gunicorn answers 200 with JSON."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", f"{path}?{urlencode(params)}", headers={"Connection": "close"})
            response = conn.getresponse()
            body = json.loads(response.read())
        finally:
            conn.close()
        assert response.status == 200, body
        self.seen.add(body["pid"])
        return body

    def concurrently(self, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(lambda call: self.get(call[0], **call[1]), calls))

    # --- control ----------------------------------------------------------------------

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait_exit(self, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"gunicorn did not exit within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        """TERM the master, then SIGKILL whatever we saw of it that is still running."""
        for pid in list(self.seen):
            if alive(pid):
                self.seen.update(descendants(pid))
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in sorted(self.seen):
            if pid != self.pid and alive(pid):
                end_process(pid)
        self._log.close()
        for sock in self.directory.glob("*.sock*"):
            if not ping(str(sock), timeout=0.2):
                sock.unlink()


def socket_gone(path: str) -> bool:
    return not os.path.exists(path)


def redis_cli(socket_path: str, *args: str, password: str | None = None) -> str:
    """Run redis-cli against a Unix socket; its standard output."""
    argv = [require_binary("redis-cli"), "-s", socket_path]
    env = dict(os.environ)
    if password:
        env["REDISCLI_AUTH"] = password
    result = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=10,
                            env=env, check=True)
    return result.stdout
