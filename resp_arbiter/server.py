"""The arbiter process: listeners, clients, dispatch, the periodic cron, shutdown.

`Server.call` is the one place every command passes through (Redis' `call()`): lookup,
arity, authentication, execution and statistics. Writes are recognised there by the
`write` flag and the keyspace's dirty counter, which is where propagation (an append-only
file, client-side-cache invalidation) attaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import __version__, errors
from .client import Client
from .config import Config
from .keyspace import Keyspace
from .registry import Command, lookup

log = logging.getLogger("resp_arbiter")
NOTICE = 25  # Redis' default log level sits between INFO and WARNING
logging.addLevelName(NOTICE, "NOTICE")
VERBOSE = 15
logging.addLevelName(VERBOSE, "VERBOSE")
LOG_LEVELS = {"debug": logging.DEBUG, "verbose": VERBOSE, "notice": NOTICE,
              "warning": logging.WARNING}

CRON_INTERVAL = 0.1  # seconds; Redis' default hz is 10
# Active expiry may use this much of each cron tick (Redis' slow cycle takes up to 25%).
ACTIVE_EXPIRE_BUDGET = 0.01


@dataclass
class Stats:
    """The counters INFO reports."""

    commands_processed: int = 0
    connections_received: int = 0
    rejected_connections: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    unexpected_error_replies: int = 0
    ops_sample_time: float = 0.0
    ops_sample_count: int = 0
    instantaneous_ops: int = 0


class StartupError(Exception):
    """The arbiter cannot start (bad socket path, address in use, ...)."""


class Server:
    """Owns the keyspace and the clients; runs on one asyncio loop, one thread."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.keyspace = Keyspace()
        self.clients: dict[int, Client] = {}
        self.stats = Stats()
        self.started = time.time()
        self.started_monotonic = time.monotonic()
        self.run_id = os.urandom(20).hex()
        self._next_client_id = 1
        self._servers: list[asyncio.AbstractServer] = []
        self._cron: asyncio.TimerHandle | None = None
        self._stopped: asyncio.Future | None = None
        self._write_hooks: list[Callable[[Client, list[bytes]], None]] = []

    # -- dispatch -----------------------------------------------------------------------

    def call(self, client: Client, argv: list[bytes]) -> None:
        """Check and run one request for `client` (or queue it inside MULTI)."""
        spec = lookup(argv[0])
        if spec is None:
            self._reject(client, _unknown_command(argv))
            return
        argc = len(argv)
        if not spec.accepts(argc):
            self._reject(client, errors.WRONG_ARITY.format(spec.name), spec)
            return
        if spec.subcommands and argc > 1:
            sub = spec.subcommands.get(argv[1].lower())
            if sub is None:
                self._reject(client, errors.UNKNOWN_SUBCOMMAND.format(
                    _text(_c_string(argv[1], 128)), spec.name.upper()))
                return
            if not sub.accepts(argc):
                self._reject(client, errors.WRONG_ARITY.format(sub.full_name))
                return
            spec = sub
        if not client.authenticated and not spec.no_auth:
            self._reject(client, errors.NOAUTH, spec)
            return
        if client.multi is not None and not spec.runs_in_multi:
            client.multi.append((spec, argv))
            client.reply.status(b"QUEUED")
            return
        self.execute(spec, client, argv)

    @staticmethod
    def _reject(client: Client, message: str, spec: Command | None = None) -> None:
        """A refused command's error; inside MULTI it also dooms the EXEC. A refused EXEC
        discards the transaction and the watches, in or out of MULTI (Redis'
        execCommandAbort), and says why in an EXECABORT error."""
        if spec is not None and spec.name == "exec":
            client.multi = None
            client.multi_error = False
            client.unwatch_all()
            client.reply.error(errors.EXECABORT_BECAUSE.format(message.removeprefix("ERR ")))
            return
        client.reply.error(message)
        if client.multi is not None:
            client.multi_error = True

    def execute(self, spec: Command, client: Client, argv: list[bytes]) -> None:
        """Run a checked command: the one place every execution passes, EXEC's included."""
        self.stats.commands_processed += 1
        client.last_command = spec.full_name
        keyspace = self.keyspace
        keyspace.new_command()
        dirty = keyspace.dirty
        reply_start = len(client.out)
        try:
            spec.handler(client, argv)
        except errors.CommandError as exc:
            del client.out[reply_start:]
            client.reply.error(exc.message)
        except Exception:
            # A bug must cost one error reply, not the connection or the other clients.
            log.exception("command %s failed", spec.full_name)
            del client.out[reply_start:]
            client.reply.error(errors.INTERNAL_ERROR.format(spec.full_name))
        if spec.is_write and keyspace.dirty != dirty:
            for hook in self._write_hooks:
                hook(client, argv)

    def on_write(self, hook: Callable[[Client, list[bytes]], None]) -> None:
        """Call `hook(client, argv)` after every command that changed the data."""
        self._write_hooks.append(hook)

    def apply_config(self) -> None:
        """Make CONFIG SET changes take effect for connected clients too."""
        config = self.config
        logging.getLogger("resp_arbiter").setLevel(LOG_LEVELS[config["loglevel"]])
        for client in self.clients.values():
            client.parser.max_bulk_len = config["proto-max-bulk-len"]
            client.parser.query_buffer_limit = config["client-query-buffer-limit"]

    def reset_stats(self) -> None:
        self.stats = Stats()

    # -- clients ------------------------------------------------------------------------

    def client_connected(self, client: Client) -> None:
        client.id = self._next_client_id
        self._next_client_id += 1
        self.stats.connections_received += 1
        transport = client.transport
        sockname = transport.get_extra_info("sockname") if transport else None
        peername = transport.get_extra_info("peername") if transport else None
        if isinstance(peername, tuple):
            client.address = f"{peername[0]}:{peername[1]}"
            client.local_address = f"{sockname[0]}:{sockname[1]}"
        else:
            path = sockname or self.config["unixsocket"]
            client.address = client.local_address = f"{path}:0"
        if len(self.clients) >= self.config["maxclients"]:
            self.stats.rejected_connections += 1
            client.reply.error(errors.MAX_CLIENTS)
            client.close_after_reply = True
            client.flush()
            return
        self.clients[client.id] = client

    def client_disconnected(self, client: Client) -> None:
        self.clients.pop(client.id, None)

    # -- cron ---------------------------------------------------------------------------

    def _schedule_cron(self) -> None:
        loop = asyncio.get_running_loop()
        self._cron = loop.call_later(CRON_INTERVAL, self._run_cron)

    def _run_cron(self) -> None:
        """Periodic housekeeping in small steps, as Redis' serverCron."""
        now = time.monotonic()
        self._sample_ops(now)
        self.keyspace.expire_cycle(ACTIVE_EXPIRE_BUDGET)
        self._close_idle_clients(now)
        self._check_parent()
        self._schedule_cron()

    def _sample_ops(self, now: float) -> None:
        stats = self.stats
        elapsed = now - stats.ops_sample_time
        if elapsed >= 1.0:
            stats.instantaneous_ops = int(
                (stats.commands_processed - stats.ops_sample_count) / elapsed)
            stats.ops_sample_time = now
            stats.ops_sample_count = stats.commands_processed

    def _close_idle_clients(self, now: float) -> None:
        timeout = self.config["timeout"]
        if timeout:
            for client in list(self.clients.values()):
                if now - client.last_interaction > timeout:
                    client.close()

    def _check_parent(self) -> None:
        parent = self.config.parent_pid
        if parent and os.getppid() != parent:
            log.warning("parent process %d is gone, shutting down", parent)
            self.stop()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the listeners; raises StartupError when that is impossible."""
        loop = asyncio.get_running_loop()
        path = self.config["unixsocket"]
        port = self.config["port"]
        if not path and not port:
            raise StartupError("no listener: give --unixsocket PATH and/or --port N")
        if path:
            sock = _bind_unix(path, self.config["unixsocketperm"])
            self._servers.append(await loop.create_unix_server(
                lambda: Client(self), sock=sock, backlog=511))
        if port:
            for address in str(self.config["bind"]).split():
                try:
                    self._servers.append(await loop.create_server(
                        lambda: Client(self), address.lstrip("-"), port, backlog=511,
                        reuse_address=True))
                except OSError as exc:
                    self._close_listeners()
                    raise StartupError(f"could not bind {address}:{port}: {exc}") from exc
        self._schedule_cron()
        self._stopped = loop.create_future()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)

    def stop(self) -> None:
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)

    async def serve(self) -> None:
        """Run until stop(); then close everything and remove the socket file."""
        assert self._stopped is not None
        try:
            await self._stopped
        finally:
            if self._cron is not None:
                self._cron.cancel()
            self._close_listeners()
            for client in list(self.clients.values()):
                client.flush()
                client.close()
            log.log(NOTICE, "resp-arbiter is now ready to exit, bye bye...")

    def _close_listeners(self) -> None:
        path = self.config["unixsocket"]
        for listener in self._servers:
            listener.close()
        self._servers.clear()
        if path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic

    def version_banner(self) -> str:
        return f"resp-arbiter {__version__}"


def _bind_unix(path: str, perm: int) -> socket.socket:
    """Bind a Unix socket at `path`, taking over a stale socket file but never a live one."""
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise StartupError(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        except OSError as exc:
            raise StartupError(f"cannot check existing socket {path}: {exc}") from exc
        else:
            raise StartupError(f"another server is already answering on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o777 & ~perm)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise StartupError(f"could not bind {path}: {exc}") from exc
    finally:
        os.umask(old_umask)
    os.chmod(path, perm)
    sock.setblocking(False)
    return sock


def _text(arg: bytes) -> str:
    return arg.decode("utf-8", "surrogateescape")


def _c_string(arg: bytes, limit: int) -> bytes:
    """What Redis' "%.*s" prints of an argument: up to its first NUL, at most `limit` bytes."""
    return arg.split(b"\0", 1)[0][:limit]


def _unknown_command(argv: list[bytes]) -> str:
    """Redis' text: the name and up to 128 bytes of quoted arguments."""
    args = b""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += b"'%s' " % _c_string(arg, 128 - len(args))
    return errors.UNKNOWN_COMMAND.format(_text(_c_string(argv[0], 128)), _text(args))
