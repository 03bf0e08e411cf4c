"""Starting, watching and stopping the arbiter from the gunicorn master.

The master runs the arbiter as a program of its own (`python -m resp_arbiter`, a fresh
interpreter: it inherits neither the application nor gunicorn's listening sockets) in a
session of its own (a Ctrl-C in the terminal reaches gunicorn, which stops its workers
first, and not the arbiter). The arbiter is told the master's pid and exits, removing
its socket, as soon as the master is gone, even after a SIGKILL.

gunicorn has no hook that runs on every turn of the master's loop, and it reaps every
child itself with `waitpid(-1)`. So `check()` is chained in front of the master's own
`manage_workers()` (which every gunicorn from 21.2 to 27 calls once a second and after
each signal) and tells a dead arbiter by `Popen.poll()`, which also covers gunicorn
having reaped it first. A dead arbiter is restarted at the same socket path, so
workers reconnect by themselves. The arbiter never exits with code 3 or 4 (which
gunicorn up to 26.0 takes for a worker that failed to boot and halts on).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import redis

#: Set with the URL by the master that started an arbiter: a master that inherits the
#: URL from another master (USR2 re-exec) starts its own arbiter instead of borrowing.
OWNER_ENV = "GUNICORN_STASH_MASTER"
STOP_TIMEOUT = 5.0
MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class StashOptions:
    """What `enable_stash(...)` accepts (all optional).

    socket_path: where the arbiter listens (default: `gunicorn-stash-<master pid>.sock`
        in `$XDG_RUNTIME_DIR`, or the temporary directory).
    socket_perm: permissions of the socket file (default 0o700: only this user).
    password: clients must AUTH with it (workers get it through the URL).
    maxclients, idle_timeout, proto_max_bulk_len, client_query_buffer_limit: the
        arbiter's limits, as redis-server's options of the same names.
    loglevel, logfile: the arbiter's own log (default: warnings, to gunicorn's stderr).
    tables: tables created at start (and again after a restart).
    url: use this server instead of starting an arbiter (as GUNICORN_STASH_URL does).
    ready_timeout: seconds the master waits for the arbiter to answer.
    extra_args: more arbiter command-line options, passed as given.
    """

    socket_path: str | None = None
    socket_perm: int = 0o700
    password: str | None = None
    maxclients: int | None = None
    idle_timeout: int | None = None
    proto_max_bulk_len: int | str | None = None
    client_query_buffer_limit: int | str | None = None
    loglevel: str = "warning"
    logfile: str | None = None
    tables: tuple[str, ...] = field(default=())
    url: str | None = None
    ready_timeout: float = 10.0
    extra_args: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if isinstance(self.tables, str) or not all(isinstance(t, str) for t in self.tables):
            raise TypeError("tables must be a list of table names")
        object.__setattr__(self, "tables", tuple(self.tables))
        object.__setattr__(self, "extra_args", tuple(str(a) for a in self.extra_args))
        if isinstance(self.socket_perm, str):
            object.__setattr__(self, "socket_perm", int(self.socket_perm, 8))


def default_socket_path(pid: int) -> str:
    """A per-master path in the user's runtime directory (or the temporary directory)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    directory = runtime if runtime and os.access(runtime, os.W_OK) else tempfile.gettempdir()
    return os.path.join(directory, f"gunicorn-stash-{pid}.sock")


def ping(path: str, timeout: float = 1.0) -> bool:
    """True when a server answers on the Unix socket (PONG, or NOAUTH: up, with a password)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith((b"+PONG", b"-NOAUTH"))


def unix_url(path: str, password: str | None) -> str:
    """The redis-py URL of a Unix socket, with the password if any."""
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"unix://{auth}{path}"


def redact(url: str) -> str:
    """The URL without its password, for the log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def describe_exit(code: int | None) -> str:
    """How a child ended; 0 also when gunicorn's `waitpid(-1)` took the status first."""
    if code is None:
        return "running"
    if code == 0:
        return "exited"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ArbiterSupervisor:
    """One master's arbiter: start, check (restart if dead), stop."""

    def __init__(self, options: StashOptions, log: Any, socket_path: str) -> None:
        self.options = options
        self.log = log
        self.socket_path = socket_path
        self.master_pid = os.getpid()
        self.url = unix_url(socket_path, options.password)
        self.process: subprocess.Popen[bytes] | None = None
        self.stopped = False
        self.failures = 0
        self.next_attempt = 0.0
        atexit.register(self._at_exit)

    def argv(self) -> list[str]:
        o = self.options
        argv = [sys.executable, "-m", "resp_arbiter",
                "--unixsocket", self.socket_path,
                "--unixsocketperm", "700",
                "--parent-pid", str(self.master_pid),
                "--loglevel", o.loglevel]
        for flag, value in (("--maxclients", o.maxclients), ("--timeout", o.idle_timeout),
                            ("--proto-max-bulk-len", o.proto_max_bulk_len),
                            ("--client-query-buffer-limit", o.client_query_buffer_limit),
                            ("--logfile", o.logfile)):
            if value is not None:
                argv += [flag, str(value)]
        return argv + list(o.extra_args)

    def start(self) -> None:
        """Start the arbiter and wait until it answers; RuntimeError if it cannot."""
        error = self._spawn()
        if error:
            raise RuntimeError(f"the stash arbiter could not start: {error}")
        self._announce("ready")

    def _spawn(self) -> str | None:
        """Start the arbiter and prepare it; the reason on failure, None on success."""
        if ping(self.socket_path, timeout=0.5):
            return f"another server is already answering on {self.socket_path}"
        self.process = subprocess.Popen(
            self.argv(), stdin=subprocess.DEVNULL, close_fds=True, start_new_session=True)
        deadline = time.monotonic() + self.options.ready_timeout
        while not ping(self.socket_path, timeout=0.5):
            code = self.process.poll()
            if code is not None:
                return f"arbiter {describe_exit(code)} before answering on {self.socket_path}"
            if time.monotonic() > deadline:
                self._terminate()
                return f"no answer on {self.socket_path} after {self.options.ready_timeout}s"
            time.sleep(0.01)
        try:
            self._prepare(self.process.pid)
        except (redis.RedisError, OSError, RuntimeError) as exc:
            self._terminate()
            return f"cannot prepare the arbiter: {exc}"
        return None

    def _prepare(self, pid: int) -> None:
        """Check that it is our arbiter answering, create the tables, then set the password
        and the socket's final permissions.

        The password is set over the (still owner-only) socket rather than on the command
        line, where any user could read it with `ps`.
        """
        with redis.Redis(unix_socket_path=self.socket_path, socket_timeout=5) as client:
            answering = client.info("server").get("process_id")
            if answering != pid:
                raise RuntimeError(f"process {answering} answers on {self.socket_path}, "
                                   f"not the arbiter (pid {pid})")
            for name in self.options.tables:
                client.execute_command("STASH.ENSURE", name)
            if self.options.password:
                client.config_set("requirepass", self.options.password)
        os.chmod(self.socket_path, stat.S_IMODE(self.options.socket_perm))

    def _announce(self, what: str) -> None:
        assert self.process is not None
        askpass = " --askpass" if self.options.password else ""
        self.log.info("Stash arbiter %s (pid %s) at %s; inspect it with: redis-cli -s %s%s",
                      what, self.process.pid, self.socket_path, self.socket_path, askpass)

    def check(self) -> None:
        """Called from the master's loop: restart the arbiter if it has died."""
        if self.stopped or self.process is None or os.getpid() != self.master_pid:
            return
        code = self.process.poll()
        if code is None or time.monotonic() < self.next_attempt:
            return
        if self.failures == 0:
            self.log.warning("Stash arbiter (pid %s) died (%s); restarting it at %s",
                             self.process.pid, describe_exit(code), self.socket_path)
        error = self._spawn()
        if error is None:
            self.failures = 0
            self._announce("restarted")
            return
        self.failures += 1
        delay = min(MAX_BACKOFF, 2.0 ** (self.failures - 1))
        self.next_attempt = time.monotonic() + delay
        self.log.error("Stash arbiter restart failed (%s); next attempt in %.0fs", error, delay)

    def stop(self) -> None:
        """Stop the arbiter (gracefully, then by force) and leave no socket behind."""
        if self.stopped or os.getpid() != self.master_pid:
            return
        self.stopped = True
        self._terminate()
        if self.process is not None:
            self.log.info("Stash arbiter (pid %s) stopped", self.process.pid)
        if os.path.exists(self.socket_path) and not ping(self.socket_path, timeout=0.2):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)

    def _terminate(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _at_exit(self) -> None:
        """The master is exiting without on_exit (bind failure, crash): no orphan arbiter."""
        if os.getpid() == self.master_pid:
            self.stop()


def ensure_tables(url: str, tables: Iterable[str], log: Any) -> None:
    """Create the declared tables on a server we did not start (a no-op on plain Redis)."""
    names = list(tables)
    if not names:
        return
    try:
        with redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5) as client:
            for name in names:
                client.execute_command("STASH.ENSURE", name)
    except redis.ResponseError:
        log.info("Stash server at %s has no STASH.ENSURE: tables appear on first put",
                 redact(url))
    except (redis.RedisError, OSError) as exc:
        log.warning("Stash server at %s: cannot create tables %s: %s", redact(url), names, exc)
