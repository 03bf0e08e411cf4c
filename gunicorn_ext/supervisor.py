"""Starting, watching and stopping the arbiter from the gunicorn master.

The master runs the arbiter as a program of its own (`python -m resp_arbiter`, a fresh
interpreter: it inherits neither the application nor gunicorn's listening sockets) in a
session of its own (a Ctrl-C in the terminal reaches gunicorn, which stops its workers
first, and not the arbiter). The arbiter is told the master's pid and exits, removing
its socket, as soon as the master is gone, even after a SIGKILL.

gunicorn has no hook that runs on every turn of the master's loop, and it reaps every
child itself with `waitpid(-1)`, in `reap_workers()` only (every gunicorn from 21.2 to
27). So the hooks chain `claim_exit()` in front of the master's `reap_workers()`: it
collects the arbiter's own exit status with a `waitpid` of its pid before gunicorn's
`waitpid(-1)` can take it (and leave `Popen` nothing but a 0), so the log says how the
arbiter ended. `check()` is chained in front of `manage_workers()` (called once a second
and after each signal) and restarts a dead arbiter at the same socket path, so workers
reconnect by themselves. The arbiter never exits with code 3 or 4 (which
gunicorn up to 26.0 takes for a worker that failed to boot and halts on).

Workers may run as another user than the master (gunicorn's `user`/`group`, `-u`/`-g`).
The arbiter keeps the master's user (the workers' user may be unable to run the
interpreter at all: workers are forked, never executed) but runs in the workers' group,
so its socket is open to the workers from the moment it exists, restarts included; once
the arbiter is ready the socket is handed to the workers' user. By default the socket
lives in a directory of its own that the master creates with a random name, so no other
local user can take or block the path.

A USR2 upgrade hands the arbiter over rather than starting a second one: the old master
passes the URL on to the new one (`pre_exec`), which adopts the running arbiter
(STASH.ADOPT: the arbiter now runs while either master lives). Whichever master lives
restarts a dead arbiter, and a master that loses that race (the arbiter takes its socket
path atomically and locks its append-only directory) adopts the winner. A master that
stops releases the arbiter (STASH.RELEASE) and stops it only if no other master owns it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import wire
from .options import arbiter_flags
from .wire import ping, redact, unix_url

__all__ = ["DIRECTORY_ENV", "OWNER_ENV", "ArbiterSupervisor", "Owner", "check_server",
           "describe_exit", "ping", "redact", "unix_url"]

#: Set with the URL by the master that started (or adopted) an arbiter. A master started
#: by that master's USR2 (`GUNICORN_PID` names it too) adopts the arbiter; any other
#: master that inherits the URL starts its own rather than borrowing another's.
OWNER_ENV = "GUNICORN_STASH_MASTER"
#: The private directory of the socket, handed over at USR2 for the last owner to remove.
DIRECTORY_ENV = "GUNICORN_STASH_DIR"
STOP_TIMEOUT = 5.0
MAX_BACKOFF = 30.0
#: Between two probes of a starting arbiter's socket: a probe of a socket that does not
#: exist yet costs microseconds, and every millisecond waited delays gunicorn's start.
PROBE_INTERVAL = 0.002


@dataclass(frozen=True)
class Owner:
    """Who the workers run as (gunicorn's `cfg.uid`/`cfg.gid`): the socket is theirs."""

    uid: int
    gid: int

    @classmethod
    def of(cls, server: Any) -> Owner:
        cfg = getattr(server, "cfg", None)
        return cls(getattr(cfg, "uid", os.geteuid()), getattr(cfg, "gid", os.getegid()))

    @property
    def is_other(self) -> bool:
        """Whether the workers run as another user or group than this process."""
        return (self.uid, self.gid) != (os.geteuid(), os.getegid())


def private_directory(pid: int, owner: Owner, socket_perm: int) -> str:
    """A new directory with a random name for the socket, reachable by the workers only.

    It is in `$XDG_RUNTIME_DIR` when the workers share this user (another user cannot
    reach that directory), else in the temporary directory. When the workers are another
    user it stays this user's, in the workers' group, so they can reach the socket but
    cannot replace it with a link while the master (maybe root) works on it by path.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = (runtime if not owner.is_other and runtime and os.access(runtime, os.W_OK)
            else tempfile.gettempdir())
    directory = tempfile.mkdtemp(prefix=f"gunicorn-stash-{pid}-", dir=base)
    _make_private(directory, owner, socket_perm)
    return directory


def _make_private(directory: str, owner: Owner, socket_perm: int) -> None:
    mode = 0o700
    if owner.is_other or socket_perm & 0o070:
        mode |= 0o010
    if socket_perm & 0o007:
        mode |= 0o001
    if owner.gid != os.getegid():
        os.chown(directory, -1, owner.gid)
    os.chmod(directory, mode)


def _check_private(directory: str, owner: Owner, socket_perm: int) -> None:
    """Recreate the socket's directory if something removed it (a temp cleaner); refuse
    one that someone else made in the meantime."""
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    else:
        _make_private(directory, owner, socket_perm)
    info = os.lstat(directory)
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid()
            or info.st_mode & 0o022):
        raise RuntimeError(f"{directory} is no longer a private directory of this user")

def persist_directory(path: str) -> None:
    """Make the arbiter's data directory if it is missing (this user's only: the files
    hold every table), and refuse one the arbiter, which runs as this user, cannot use."""
    if not os.path.isdir(path):
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    if not os.access(path, os.W_OK | os.X_OK):
        raise RuntimeError(f"persist_dir {path} is not writable by uid {os.geteuid()}")


def _probe(path: str, alive: Any) -> bool | None:
    """Connect and PING. True once it answers (PONG, or NOAUTH: up, with a password);
    None if it does not accept connections; False if it closed without answering. While
    connected it waits as long as `alive()` holds: the arbiter accepts connections while
    it reloads its data and answers once that is done."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(path)
            sock.sendall(b"PING\r\n")
        except OSError:
            return None
        while True:
            try:
                reply = sock.recv(64)
            except TimeoutError:
                if alive():
                    continue
                return False
            except OSError:
                return False
            return reply.startswith((b"+PONG", b"-NOAUTH"))


class CpuProgress:
    """Whether a process still works: its CPU time moved within the last `limit` seconds
    (read from /proc; where there is none, it is taken to be working)."""

    def __init__(self, pid: int, limit: float) -> None:
        self.path = f"/proc/{pid}/stat"
        self.limit = limit
        self.ticks = self._ticks()
        self.changed = time.monotonic()

    def _ticks(self) -> int | None:
        try:
            with open(self.path, "rb") as stat_file:
                fields = stat_file.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return int(fields[11]) + int(fields[12])  # utime + stime

    def moving(self) -> bool:
        ticks, now = self._ticks(), time.monotonic()
        if ticks is None:
            return True
        if ticks != self.ticks:
            self.ticks, self.changed = ticks, now
        return now - self.changed < self.limit


class ProcessWatch:
    """Whether a process that is not this one's child (an adopted arbiter) has ended: a
    pidfd where Linux has them (it can never come to name another process), else the
    pid, checked with signal 0."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fd: int | None = None
        opener = getattr(os, "pidfd_open", None)
        if opener is not None:
            with contextlib.suppress(OSError):
                self.fd = opener(pid)

    def ended(self) -> bool:
        if self.fd is not None:
            return bool(select.select([self.fd], [], [], 0)[0])
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


def describe_exit(code: int | None) -> str:
    """How a child ended, as `Popen.returncode` says it."""
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


def arbiter_argv(options: Any, master_pid: int, socket_path: str | None, *,
                 config_on_stdin: bool, group_access: bool) -> list[str]:
    """The arbiter's command line (without `socket_path`, its socket comes in the
    configuration on standard input)."""
    return [sys.executable, "-m", "resp_arbiter", *(["-"] if config_on_stdin else []),
            *(["--unixsocket", socket_path] if socket_path is not None else []),
            # Workers of another user reach it through the group until it is theirs.
            "--unixsocketperm", "770" if group_access else "700",
            "--parent-pid", str(master_pid),
            *arbiter_flags(options), *options.extra_args]


def _directive(name: str, value: bytes) -> str:
    """A configuration file line setting `name` to `value`, whatever bytes it holds."""
    quoted = "".join(f"\\x{byte:02x}" for byte in value)
    return f'{name} "{quoted}"\n'


def _stdio() -> tuple[tuple[int, int] | None, ...]:
    """What standard output and error are (device and inode), which an arbiter writes
    its log to."""
    found = []
    for fd in (1, 2):
        try:
            info = os.fstat(fd)
        except OSError:
            found.append(None)
        else:
            found.append((info.st_dev, info.st_ino))
    return tuple(found)


class Prestarted:
    """An arbiter started as gunicorn reads its config file, before the master knows
    where the socket goes or as which user the workers run.

    Most of an arbiter's start is its interpreter's (Python, asyncio, its own modules):
    this one does that while the master goes on with its own start (gunicorn's worker
    and logger modules), then waits for the rest of its configuration, its socket, on
    standard input. It is given it (`configure`) only if the master's start has changed
    nothing it was started with: the same process (not a daemon's child), directory,
    standard output and error, and workers of this same user (the arbiter would
    otherwise run in their group). Otherwise it is stopped (`discard`) and an arbiter is
    started as usual; until it is configured it listens nowhere."""

    def __init__(self, options: Any) -> None:
        self.master_pid = os.getpid()
        self.cwd = os.getcwd()
        self.stdio = _stdio()
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            arbiter_argv(options, self.master_pid, None, config_on_stdin=True,
                         group_access=False),
            stdin=subprocess.PIPE, close_fds=True, start_new_session=True)
        atexit.register(self.discard)

    def fits(self, owner: Owner) -> bool:
        """Whether this arbiter was started as the master would start it now."""
        return (os.getpid() == self.master_pid and not owner.is_other
                and os.getcwd() == self.cwd and _stdio() == self.stdio)

    def configure(self, config: bytes) -> subprocess.Popen[bytes]:
        """Send the rest of its configuration; the process, now the master's arbiter."""
        process = self.process
        assert process is not None and process.stdin is not None
        self.process = None
        atexit.unregister(self.discard)
        # One that has already exited says why when the master waits for its answer.
        with contextlib.suppress(BrokenPipeError), process.stdin:
            process.stdin.write(config)
        return process

    def discard(self) -> None:
        """Stop it unconfigured: it has opened no socket and written nothing."""
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.discard)
        if os.getpid() == self.master_pid:
            process.kill()
            process.wait()
        # Otherwise this is a daemon's child, and the arbiter's parent is gone: at the end
        # of its (empty) configuration it finds that out and exits.
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.close()


class ArbiterSupervisor:
    """One master's arbiter: start, check (restart if dead), stop."""

    def __init__(self, options: Any, log: Any, socket_path: str | None,
                 owner: Owner, directory: str | None = None) -> None:
        self.options = options
        self.log = log
        self.owner = owner
        self.master_pid = os.getpid()
        # Only a directory made here (or handed over with the arbiter) is checked,
        # recreated and removed at the end.
        self.directory = directory
        if socket_path is None:
            self.directory = private_directory(self.master_pid, owner, options.socket_perm)
            socket_path = os.path.join(self.directory, "stash.sock")
        self.socket_path = socket_path
        self.url = unix_url(socket_path, options.password)
        #: The arbiter this master started (its child), if it did.
        self.process: subprocess.Popen[bytes] | None = None
        #: The arbiter another master started and this one adopted, if it did.
        self.adopted: ProcessWatch | None = None
        #: How many tables the arbiter held when it first answered (reloaded ones).
        self.loaded = 0
        self.stopped = False
        #: Set once this master has an arbiter (started or adopted) to keep alive.
        self.supervising = False
        self.failures = 0
        self.next_attempt = 0.0
        atexit.register(self._at_exit)

    @property
    def arbiter_pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        return self.adopted.pid if self.adopted is not None else None

    def adopt(self, previous_master: int) -> bool:
        """Adopt the arbiter that answers at the socket (started by another master: the
        one before a USR2 upgrade, or one that restarted it first); False if nothing
        answers there. RuntimeError if something answers that cannot be adopted."""
        try:
            with wire.Connection.open(self.url, timeout=5) as server:
                found = re.search(rb"^process_id:(\d+)", server.call("INFO", "server"),
                                  re.M)
                owners = server.call("STASH.ADOPT", self.master_pid)
                for name in self.options.tables:
                    server.call("STASH.ENSURE", name)
        except (FileNotFoundError, ConnectionRefusedError):
            return False
        except (OSError, wire.ReplyError) as exc:
            raise RuntimeError(f"cannot adopt the stash arbiter at {self.socket_path}: "
                               f"{exc}") from exc
        if found is None:
            raise RuntimeError(f"the server at {self.socket_path} is no stash arbiter")
        if self.adopted is not None:
            self.adopted.close()
        self.process = None
        self.adopted = ProcessWatch(int(found.group(1)))
        self.supervising = True
        self.log.info("Stash arbiter (pid %s) at %s adopted from master %s: one arbiter "
                      "for %s masters", self.adopted.pid, self.socket_path, previous_master,
                      owners)
        return True

    def _running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return self.adopted is not None and not self.adopted.ended()

    def argv(self) -> list[str]:
        # With a password, the configuration comes first from standard input ("-").
        return arbiter_argv(self.options, self.master_pid, self.socket_path,
                            config_on_stdin=bool(self.options.password),
                            group_access=self.owner.is_other)

    def start(self, prestarted: Prestarted | None = None) -> None:
        """Start the arbiter (giving `prestarted` its configuration, when there is one)
        and wait until it answers; RuntimeError if it cannot."""
        error = self._spawn(prestarted)
        if error:
            raise RuntimeError(f"the stash arbiter could not start: {error}")
        self.supervising = True
        self._announce("ready")
        if self.options.persist_dir is not None:
            self.log.info("Stash arbiter loaded %d tables from %s", self.loaded,
                          self.options.persist_dir)

    def _spawn(self, prestarted: Prestarted | None = None) -> str | None:
        """Start the arbiter, or configure `prestarted`, and prepare it; the reason on
        failure, None on success."""
        try:
            if ping(self.socket_path, timeout=0.5):
                return f"another server is already answering on {self.socket_path}"
            if self.directory is not None:
                _check_private(self.directory, self.owner, self.options.socket_perm)
            if self.options.persist_dir is not None:
                persist_directory(self.options.persist_dir)
            if prestarted is not None:
                self.process = prestarted.configure(self._stdin_config(socket=True))
                prestarted = None
            else:
                # In the workers' group, the socket is open to them from its first moment.
                group = self.owner.gid if self.owner.gid != os.getegid() else None
                self.process = subprocess.Popen(
                    self.argv(), stdin=subprocess.PIPE if self.options.password else
                    subprocess.DEVNULL, close_fds=True, start_new_session=True, group=group)
                if self.options.password:
                    self._send_password(self.process)
        except (OSError, RuntimeError) as exc:
            return str(exc)
        finally:
            if prestarted is not None:
                prestarted.discard()
        error = self._wait_ready(self.process)
        if error:
            return error
        try:
            self._prepare(self.process.pid)
        except (wire.ReplyError, OSError, RuntimeError) as exc:
            self._terminate()
            return f"cannot prepare the arbiter: {exc}"
        return None

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> str | None:
        """Wait for the arbiter's first answer; the reason on failure, None once ready.

        `ready_timeout` bounds the wait for the socket to accept a connection. Once it
        does, the master waits for the answer as long as the arbiter works (it answers
        only once it has reloaded `persist_dir`, however long that takes), but not for
        one that has used no CPU time for `ready_timeout` (stopped, or stuck)."""
        limit = self.options.ready_timeout
        deadline = time.monotonic() + limit
        progress = CpuProgress(process.pid, limit)
        while True:
            answered = _probe(self.socket_path,
                              lambda: process.poll() is None and progress.moving())
            if answered:
                return None
            code = process.poll()
            if code is not None:
                return f"arbiter {describe_exit(code)} before answering on {self.socket_path}"
            if answered is False and not progress.moving():
                self._terminate()
                return (f"the arbiter accepted a connection on {self.socket_path} but used "
                        f"no CPU time for {limit}s without answering (stopped or stuck)")
            if answered is None and time.monotonic() > deadline:
                self._terminate()
                return f"no answer on {self.socket_path} after {limit}s"
            time.sleep(PROBE_INTERVAL)

    def _send_password(self, process: subprocess.Popen[bytes]) -> None:
        """Give the arbiter its password as a configuration file on standard input: it
        never appears in the process list, and the arbiter asks for it from its first
        connection on (a worker reconnecting during a restart never finds it open)."""
        assert process.stdin is not None
        with process.stdin:
            process.stdin.write(self._stdin_config(socket=False))

    def _stdin_config(self, socket: bool) -> bytes:
        """The configuration file the arbiter reads on standard input: its password, and
        (for a prestarted arbiter) its socket."""
        text = _directive("unixsocket", os.fsencode(self.socket_path)) if socket else ""
        if self.options.password:
            text += _directive("requirepass", self.options.password.encode())
        return text.encode()

    def _prepare(self, pid: int) -> None:
        """Check that it is our arbiter answering, create the tables, then give the socket
        its final owner and permissions."""
        with wire.Connection.open(self.url, timeout=5) as server:
            found = re.search(rb"^process_id:(\d+)", server.call("INFO", "server"), re.M)
            answering = int(found.group(1)) if found else None
            if answering != pid:
                raise RuntimeError(f"process {answering} answers on {self.socket_path}, "
                                   f"not the arbiter (pid {pid})")
            keyspace = server.call("INFO", "keyspace")
            found = re.search(rb"^db%d:keys=(\d+)" % wire.url_db(self.url), keyspace, re.M)
            self.loaded = int(found.group(1)) if found else 0
            for name in self.options.tables:
                server.call("STASH.ENSURE", name)
        if self.owner.is_other:
            # Never follow a link here: the master may be root.
            os.chown(self.socket_path, self.owner.uid, self.owner.gid, follow_symlinks=False)
        os.chmod(self.socket_path, stat.S_IMODE(self.options.socket_perm))

    def _announce(self, what: str) -> None:
        assert self.process is not None
        askpass = " --askpass" if self.options.password else ""
        self.log.info("Stash arbiter %s (pid %s) at %s; inspect it with: redis-cli -s %s%s",
                      what, self.process.pid, self.socket_path, self.socket_path, askpass)

    def claim_exit(self) -> None:
        """Called just before gunicorn's `waitpid(-1)`: collect the arbiter's exit status
        first (a `waitpid` of its pid), so that `Popen.returncode` holds it."""
        if self.process is not None and os.getpid() == self.master_pid:
            self.process.poll()

    def check(self) -> None:
        """Called from the master's loop: restart the arbiter if it has died (or adopt
        the one another master owning it has restarted first)."""
        if self.stopped or not self.supervising or os.getpid() != self.master_pid:
            return
        if self._running() or time.monotonic() < self.next_attempt:
            return
        if self.failures == 0:
            how = (describe_exit(self.process.returncode) if self.process is not None
                   else "it was another master's child")
            self.log.warning("Stash arbiter (pid %s) died (%s); restarting it at %s",
                             self.arbiter_pid, how, self.socket_path)
        if self.adopted is not None:
            self.adopted.close()
            self.adopted = None
        error = self._spawn()
        if error is not None and self._adopt_restarted():
            return
        if error is None:
            self.failures = 0
            self._announce("restarted")
            self._report_data()
            return
        self.failures += 1
        delay = min(MAX_BACKOFF, 2.0 ** (self.failures - 1))
        self.next_attempt = time.monotonic() + delay
        self.log.error("Stash arbiter restart failed (%s); next attempt in %.0fs", error, delay)

    def _adopt_restarted(self) -> bool:
        """After a failed restart: whether another master restarted the arbiter first
        (then this one adopts it)."""
        try:
            adopted = self.adopt(self.master_pid)
        except RuntimeError:
            return False
        if adopted:
            self.failures = 0
            self.log.info("Stash arbiter was restarted by another master; adopted it")
        return adopted

    def _report_data(self) -> None:
        """After a restart, say what became of the tables: reloaded, or lost."""
        if self.options.persist_dir is not None:
            self.log.info("Stash arbiter reloaded %d tables from %s", self.loaded,
                          self.options.persist_dir)
        else:
            self.log.warning("Stash arbiter restarted empty: every stash table it held is "
                             "lost (persist_dir keeps them across restarts)")

    def stop(self) -> None:
        """Release the arbiter; unless another master still owns it, stop it (gracefully,
        then by force) and leave no socket behind."""
        if self.stopped or os.getpid() != self.master_pid:
            return
        self.stopped = True
        others = self._release()
        if others:
            self.log.info("Stash arbiter (pid %s) stays up for the other master(s) that "
                          "own it (%d)", self.arbiter_pid, others)
            return
        self._terminate()
        if self.arbiter_pid is not None:
            self.log.info("Stash arbiter (pid %s) stopped", self.arbiter_pid)
        if os.path.lexists(self.socket_path) and not ping(self.socket_path, timeout=0.2):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
        if self.directory is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self.directory)

    def _release(self) -> int:
        """Tell the arbiter this master no longer owns it; how many owners it has left
        (0 if it cannot say: then it is stopped)."""
        if not self._running():
            return 0
        try:
            with wire.Connection.open(self.url, timeout=2) as server:
                left = server.call("STASH.RELEASE", self.master_pid)
        except (OSError, wire.ReplyError):
            return 0
        return left if isinstance(left, int) else 0

    def _terminate(self) -> None:
        if self.adopted is not None:
            self._terminate_adopted(self.adopted)
            return
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)  # a stopped arbiter handles it at once
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @staticmethod
    def _terminate_adopted(watch: ProcessWatch) -> None:
        """SIGTERM, then SIGKILL, for an arbiter that is not this master's child."""
        for signum, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            if watch.ended():
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(watch.pid, signum)
            deadline = time.monotonic() + wait
            while not watch.ended() and time.monotonic() < deadline:
                time.sleep(0.01)
        watch.close()

    def _at_exit(self) -> None:
        """The master is exiting without on_exit (bind failure, crash): no orphan arbiter."""
        if os.getpid() == self.master_pid:
            self.stop()


def check_server(url: str, source: str, tables: Iterable[str], log: Any) -> None:
    """At start, for a server we did not start: say in one line if it cannot be used (each
    stash call would otherwise wait `retry_timeout` and fail), and create the declared
    tables there (a plain Redis has no STASH.ENSURE: tables appear on first put)."""
    where = f"{redact(url)} ({source})"
    try:
        with wire.Connection.open(url, timeout=5) as server:
            server.call("PING")
            for name in tables:
                server.call("STASH.ENSURE", name)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        log.error("Stash: cannot reach the server at %s: %s; every stash call fails until "
                  "it answers", where, reason)
    except wire.ReplyError as error:
        if "unknown command" in str(error).lower():
            log.info("Stash server at %s has no STASH.ENSURE: tables appear on first put",
                     where)
        else:
            log.error("Stash: the server at %s refused us: %s", where, error)
