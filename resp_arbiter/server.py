"""The arbiter process: listeners, clients, dispatch, the periodic cron, shutdown.

`Server.call` is the one place every command passes through (Redis' `call()`): lookup,
arity, authentication, execution and statistics. Writes are recognised there by the
`write` flag and the keyspace's dirty counter, which is where propagation (the
append-only file) attaches. Client-side-cache invalidation is per key: it attaches to
`Keyspace.touch` (see `tracking`), and `execute` tells it which tracking client runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import stat
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from . import __version__, errors, fastpath
from .aof import AofStartError, AppendOnlyFile
from .client import Client
from .config import Config
from .databases import Databases
from .listeners import BACKLOG, RESERVED_FDS, Listener, bind_tcp, fit_open_files, open_files_limit
from .logs import LOG_LEVELS, NOTICE, log
from .memory import EVICTION_BUDGET, Memory
from .owners import Owners
from .registry import Command, lookup, spelled
from .stats import CommandStats, ErrorStats, SlowLog, monitor_line
from .tracking import Subscriptions, Tracking

CRON_INTERVAL = 0.1  # seconds; Redis' default hz is 10
# Active expiry may use this much of each cron tick (Redis' slow cycle takes up to 25%).
ACTIVE_EXPIRE_BUDGET = 0.01
# Freeing removed large values, and evicting, may each use this much of a cron tick.
LAZYFREE_BUDGET = 0.01
CRON_EVICTION_BUDGET = 0.01
# CLIENT PAUSE modes, in Redis' order of strictness.
PAUSE_OFF, PAUSE_WRITE, PAUSE_ALL = 0, 1, 2
# A MONITOR client that lets this much output pile up (it reads slower than commands
# arrive) is disconnected, so that it cannot make the arbiter's memory grow without end.
MONITOR_OUTPUT_LIMIT = 64 * 1024 * 1024
_NEVER = 1 << 80  # a slow-log threshold no duration reaches (slowlog-log-slower-than < 0)
_clock = time.perf_counter_ns
_spelled = spelled.get


@dataclass(slots=True)
class Stats:
    """The counters INFO reports (slots: the compiled fast path counts bytes in them)."""

    connections_received: int = 0
    rejected_connections: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0
    client_output_buffer_limit_disconnections: int = 0
    ops_sample_time: float = 0.0
    ops_sample_count: int = 0
    instantaneous_ops: int = 0


class StartupError(Exception):
    """The arbiter cannot start (bad socket path, address in use, ...)."""


class Server:
    """Owns the keyspace and the clients; runs on one asyncio loop, one thread."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # The numbered databases; `keyspace` is db 0 (SWAPDB exchanges data, not objects).
        self.databases = Databases(config["databases"])
        self.keyspace = self.databases[0]
        self.memory = Memory(self.databases)
        self.owners = Owners(self.stop)
        self._socket_inode: int | None = None
        self.maxmemory = 0  # read on every command: 0 skips the memory check
        self._apply_memory_config()
        self.clients: dict[int, Client] = {}
        self.stats = Stats()
        self.started = time.time()
        self.started_monotonic = time.monotonic()
        self.run_id = os.urandom(20).hex()
        self._next_client_id = 1
        self._servers: list[Listener] = []
        self._connecting: set[asyncio.Task] = set()  # accepted, transport not made yet
        self._cron: asyncio.TimerHandle | None = None
        self._stopped: asyncio.Future | None = None
        self._write_hooks: list[Callable[[Client, Command, list[bytes]], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        # INFO errorstats/commandstats/latencystats, keyspace hits and misses, slow log.
        self.error_stats = ErrorStats()
        self.command_stats: defaultdict[Command, CommandStats] = defaultdict(CommandStats)
        self.lookups = [0, 0]  # keyspace hits, misses (read commands' key lookups)
        self.slowlog = SlowLog()
        self._slowlog_us = self._observe_us = _NEVER
        # MONITOR clients; CLIENT PAUSE state and the clients it holds, in arrival order.
        self.monitors: list[Client] = []
        self.pause_type = PAUSE_OFF
        self.pause_end = 0  # Unix ms
        self._pause_timer: asyncio.TimerHandle | None = None
        self.postponed: list[Client] = []
        self._gated = False  # a pause or a monitor exists: `call` has more to check
        self._cache_settings()
        # Set while the AOF cannot be written: write commands get this error (MISCONF).
        self.deny_writes: str | None = None
        self.aof = AppendOnlyFile(self)
        self.on_write(self.aof.feed)
        # CLIENT TRACKING's table and delivery; clients subscribed to any channel.
        self.tracking = Tracking(self)
        self.subscribed = 0
        # HGET, HSET, GET and SET at the start of a read, in C when built (`fastpath`).
        self.fast_path = fastpath.load()

    # -- dispatch -----------------------------------------------------------------------

    def call(self, client: Client, argv: list[bytes]) -> None:
        """Check and run one request for `client` (or queue it inside MULTI).

        The common case runs inline: a spelling seen before of a command without
        subcommands, with its arity, from an authenticated client outside MULTI and
        without tracking, while nothing gates commands (no monitor, pause or
        subscriber), no maxmemory applies and writes are allowed. It does what
        `_check` and `execute` would do for it, without their calls."""
        spec = _spelled(argv[0])
        if spec is None or not spec.plain or client.multi is not None \
                or not client.authenticated or client.tracking is not None \
                or self._gated or self.maxmemory or self.deny_writes is not None:
            self._check(client, argv)
            return
        arity = spec.arity
        if len(argv) != arity if arity > 0 else len(argv) < -arity:
            self._check(client, argv)
            return
        client.last_command = spec.full_name
        keyspace = client.db
        if not keyspace.frozen:
            keyspace.snapshot = 0
        dirty = keyspace.dirty
        reply_start = len(client.out)
        keyspace.lookups = self.lookups if spec.counts_lookups else None
        stats = self.command_stats[spec]
        self.error_stats.current = stats
        start = _clock()
        try:
            spec.handler(client, argv)
        except Exception as exc:  # written as `execute` writes it
            self._failed(exc, spec, client, reply_start)
        micros = (_clock() - start) // 1000
        try:
            stats.histogram[micros] += 1
        except IndexError:
            stats.record_long(micros)
        if micros >= self._observe_us:
            self._observe(spec, client, argv, micros)
        if keyspace.dirty != dirty and spec.is_write:
            for hook in self._write_hooks:
                hook(client, spec, argv)

    def _check(self, client: Client, argv: list[bytes]) -> None:
        """`call` for any request: every check, in Redis' order, then `execute`."""
        spec = lookup(argv[0])
        if spec is None:
            client.last_command = "NULL"
            self._reject(client, _unknown_command(argv))
            return
        argc = len(argv)
        if spec.subcommands and argc > 1:
            sub = spec.subcommands.get(argv[1].lower())
            if sub is None:
                client.last_command = "NULL"
                self._reject(client, errors.UNKNOWN_SUBCOMMAND.format(
                    _text(_c_string(argv[1], 128)), spec.name.upper()))
                return
            spec = sub
        client.last_command = spec.full_name
        arity = spec.arity  # Command.accepts, inline: this runs for every request
        if argc != arity if arity > 0 else argc < -arity:
            self._reject(client, errors.WRONG_ARITY.format(spec.full_name), spec)
            return
        if not client.authenticated and not spec.no_auth:
            self._reject(client, errors.NOAUTH, spec)
            return
        if self._gated and self._gate(client, spec, argv):
            return
        if self.maxmemory and not self._memory_allows(spec, client):
            return
        if client.multi is not None and "no_multi" in spec.flags:
            self._reject(client, errors.NOT_IN_TRANSACTION)
            return
        if self.deny_writes is not None and _changes_data(client, spec):
            self._reject(client, self.deny_writes)
            return
        if client.multi is not None and not spec.runs_in_multi:
            client.multi.append((spec, argv))
            client.reply.status(b"QUEUED")
            return
        self.execute(spec, client, argv)

    def _reject(self, client: Client, message: str, spec: Command | None = None) -> None:
        """A refused command's error (counted as a rejected call of `spec`, when the
        command is known); inside MULTI it also dooms the EXEC. A refused EXEC discards
        the transaction and the watches, in or out of MULTI (Redis' execCommandAbort),
        and says why in an EXECABORT error."""
        self.error_stats.current = None  # a refusal is no failed call of the last command
        if client.tracking is not None and client.tracking.caching:
            self.tracking.refused(client, spec)
        if spec is not None:
            self.command_stats[spec].rejected += 1
            if spec.name == "exec":
                client.reset_transaction()
                client.reply.error(errors.EXECABORT_BECAUSE.format(
                    message.removeprefix("ERR ")))
                return
        client.reply.error(message)
        if client.multi is not None:
            client.multi_error = True

    def _memory_allows(self, spec: Command, client: Client) -> bool:
        """Evict as needed (Redis' performEvictions, before every command) and refuse
        a command that could grow the data when memory stays over `maxmemory`: one with
        the `denyoom` flag, anything queued in MULTI, an EXEC that queued such a one."""
        if self.memory.make_room(EVICTION_BUDGET):
            return True
        name = spec.full_name
        queued = client.multi
        if queued is None:
            if "denyoom" not in spec.flags:
                return True
        elif name == "exec":
            if not any("denyoom" in command.flags for command, _ in queued):
                return True
            client.reset_transaction()
            client.reply.error(errors.EXECABORT_BECAUSE.format(errors.OOM))
            return False
        elif name in ("discard", "quit", "reset"):
            return True
        self._reject(client, errors.OOM, spec)
        return False

    def _gate(self, client: Client, spec: Command, argv: list[bytes]) -> bool:
        """The checks that only matter while a monitor is connected, clients are
        paused or subscribed (Redis' processCommand order). True when the request was
        dealt with."""
        if client.subscriptions is not None and client.resp == 2 and \
                spec.full_name not in _SUBSCRIBED_COMMANDS:
            self._reject(client, errors.SUBSCRIBED_CONTEXT.format(spec.full_name), spec)
            return True
        if client.monitor:
            # Monitors are replicas to Redis: never paused, kept away from the keys.
            if spec.is_write or "readonly" in spec.flags or "may_replicate" in spec.flags:
                self._reject(client, errors.REPLICA_KEYSPACE, spec)
                return True
            return False
        if self.pause_type == PAUSE_ALL or (
                self.pause_type == PAUSE_WRITE and _writes(client, spec)):
            client.backlog.appendleft(argv)
            client.postponed = client.held = True
            self.postponed.append(client)
            return True
        return False

    def execute(self, spec: Command, client: Client, argv: list[bytes]) -> None:
        """Run a checked command: the one place every execution passes, EXEC's included.

        Also where each command is timed and counted (commandstats, latencystats, failed
        calls), logged when slow, and fed to MONITOR clients, as in Redis' call()."""
        keyspace = client.db
        if not keyspace.frozen:  # Keyspace.new_command, inline
            keyspace.snapshot = 0
        # EXEC's commands may change any database (SELECT inside MULTI): it compares the
        # sum. A command that changes another database also counts a change in its own
        # (Redis' server.dirty++).
        counter = self.databases if spec.name == "exec" else keyspace
        dirty = counter.dirty
        reply_start = len(client.out)
        keyspace.lookups = self.lookups if spec.counts_lookups else None
        stats = self.command_stats[spec]
        self.error_stats.current = stats
        tracking = client.tracking  # None unless the client turned CLIENT TRACKING on
        if tracking is not None:
            self.tracking.current = client
        start = _clock()
        try:
            spec.handler(client, argv)
        except Exception as exc:  # see `_failed`
            self._failed(exc, spec, client, reply_start)
        micros = (_clock() - start) // 1000
        try:
            stats.histogram[micros] += 1  # a slot per whole microsecond under 1024
        except IndexError:
            stats.record_long(micros)
        if micros >= self._observe_us:
            self._observe(spec, client, argv, micros)
        if tracking is not None:  # (EXEC settles a client that began tracking in it)
            self.tracking.after_command(client, spec, argv)
        # EXEC's hook call comes after those of the commands it ran (the AOF closes the
        # transaction there).
        if counter.dirty != dirty and (spec.is_write or spec.name == "exec"):
            for hook in self._write_hooks:
                hook(client, spec, argv)

    @staticmethod
    def _failed(exc: Exception, spec: Command, client: Client, reply_start: int) -> None:
        """A command raised: its partial reply is replaced by the error, `CommandError`'s
        text or, for a bug, an internal error (one error reply, not the connection or
        the other clients)."""
        del client.out[reply_start:]
        if isinstance(exc, errors.CommandError):
            client.reply.error(exc.message)
        else:
            log.error("command %s failed", spec.full_name, exc_info=exc)
            client.reply.error(errors.INTERNAL_ERROR.format(spec.full_name))

    def on_write(self, hook: Callable[[Client, Command, list[bytes]], None]) -> None:
        """Call `hook(client, command, argv)` after every command that changed the data
        (inside EXEC, for each command it ran, then for EXEC)."""
        self._write_hooks.append(hook)

    def _observe(self, spec: Command, client: Client, argv: list[bytes],
                 micros: int) -> None:
        """The slow log and the MONITOR feed: only reached for a command slower than
        slowlog-log-slower-than, or for every command while a monitor is connected."""
        if micros >= self._slowlog_us and spec.slowlogged:
            self.slowlog.push(_shown(client, argv), int(time.time()), micros,
                              client.address, client.name, self.config["slowlog-max-len"])
        if self.monitors and spec.monitored:
            self._feed_monitors(client, argv)

    def _feed_monitors(self, client: Client, argv: list[bytes]) -> None:
        """One line per command to every MONITOR client, written at the next loop turn."""
        source = f"unix:{self.config['unixsocket']}" if client.unix else client.address
        line = monitor_line(time.time_ns(), client.db.id, source, _shown(client, argv))
        for monitor in list(self.monitors):
            out = monitor.out
            if not out and monitor.transport is not None and self._loop is not None:
                self._loop.call_soon(monitor.flush)
            out += line
            if monitor.output_size() > MONITOR_OUTPUT_LIMIT:
                log.warning("Client id=%d addr=%s closed for overcoming of output buffer "
                            "limits.", monitor.id, monitor.address)
                monitor.kill()

    def add_monitor(self, client: Client) -> None:
        client.monitor = True
        self.monitors.append(client)
        self._gated = True
        self._cache_settings()

    def remove_monitor(self, client: Client) -> None:
        """The client leaves MONITOR mode (RESET, or it is gone)."""
        client.monitor = False
        self.monitors.remove(client)
        self._regate()
        self._cache_settings()

    def _regate(self) -> None:
        self._gated = bool(self.monitors) or self.pause_type != PAUSE_OFF or \
            bool(self.subscribed)

    def subscriptions_of(self, client: Client) -> Subscriptions:
        """The client's channels and patterns, entering Pub/Sub mode (Redis'
        CLIENT_PUBSUB) if it was not in it."""
        if client.subscriptions is None:
            client.subscriptions = Subscriptions()
            self.subscribed += 1
            self._regate()
        return client.subscriptions

    def leave_pubsub(self, client: Client) -> None:
        """The client has no channel or pattern left (UNSUBSCRIBE, RESET, gone)."""
        if client.subscriptions is not None:
            client.subscriptions = None
            self.subscribed -= 1
            self._regate()

    # -- CLIENT PAUSE -------------------------------------------------------------------

    def pause(self, end_ms: int, kind: int) -> None:
        """CLIENT PAUSE: a pause already on keeps its stricter mode and later end."""
        if self.pause_type != PAUSE_OFF:
            kind = max(kind, self.pause_type)
            end_ms = max(end_ms, self.pause_end)
        self.pause_type, self.pause_end = kind, end_ms
        self._check_pause()

    def _check_pause(self) -> None:
        """End the pause once its time has passed, else wake up when it will have."""
        if self._pause_timer is not None:
            self._pause_timer.cancel()
            self._pause_timer = None
        if self.pause_type == PAUSE_OFF:
            return
        remaining = self.pause_end - time.time() * 1000
        if remaining < 0:
            self.unpause()
            return
        self._gated = True
        loop = self._loop or asyncio.get_running_loop()
        self._pause_timer = loop.call_later(remaining / 1000 + 0.001, self._check_pause)

    def unpause(self) -> None:
        """End the pause; the held clients are served, in the order they were held, at
        the next loop turn (as Redis does in beforeSleep), never within this command."""
        if self._pause_timer is not None:
            self._pause_timer.cancel()
            self._pause_timer = None
        self.pause_type, self.pause_end = PAUSE_OFF, 0
        self._regate()
        if self.postponed:
            loop = self._loop or asyncio.get_running_loop()
            loop.call_soon(self._resume_postponed)

    def _resume_postponed(self) -> None:
        held, self.postponed = self.postponed, []
        for client in held:
            if self.pause_type == PAUSE_ALL:  # paused again by one of them
                self.postponed.append(client)
            else:
                client.resume()

    # -- settings -----------------------------------------------------------------------

    def apply_config(self) -> None:
        """Make CONFIG SET changes take effect for connected clients too."""
        config = self.config
        log.setLevel(LOG_LEVELS[config["loglevel"]])
        self._apply_memory_config()
        self.tracking.max_keys = config["tracking-table-max-keys"]
        for client in self.clients.values():
            client.parser.max_bulk_len = config["proto-max-bulk-len"]
            client.parser.query_buffer_limit = config["client-query-buffer-limit"]
        self._cache_settings()
        if config["slowlog-log-slower-than"] >= 0:  # Redis trims after each command
            self.slowlog.trim(config["slowlog-max-len"])

    def _cache_settings(self) -> None:
        """Settings read on every command, kept where `execute` reads them fastest."""
        threshold = self.config["slowlog-log-slower-than"]
        self._slowlog_us = threshold if threshold >= 0 else _NEVER
        # One comparison in `execute` decides whether `_observe` has anything to do.
        self._observe_us = 0 if self.monitors else self._slowlog_us

    def commands_processed(self) -> int:
        """INFO's total_commands_processed: every execution (Redis counts its calls the
        same way), summed from the command rows rather than counted a second time."""
        return sum(stats.calls for stats in self.command_stats.values())

    def _apply_memory_config(self) -> None:
        config = self.config
        self.memory.configure(config["maxmemory"], config["maxmemory-policy"],
                              config["maxmemory-samples"], config["lfu-log-factor"],
                              config["lfu-decay-time"])
        self.maxmemory = config["maxmemory"]

    def reset_stats(self) -> None:
        """CONFIG RESETSTAT: Redis' resetServerStats and resetCommandTableStats."""
        self.stats = Stats()
        self.error_stats.reset()
        for stats in self.command_stats.values():  # in place: the running command's row
            stats.reset()                          # (CONFIG RESETSTAT's) still counts it
        self.lookups[:] = [0, 0]

    # -- clients ------------------------------------------------------------------------

    def client_connected(self, client: Client) -> None:
        client.id = self._next_client_id
        self._next_client_id += 1
        self.stats.connections_received += 1
        transport = client.transport
        sockname = transport.get_extra_info("sockname") if transport else None
        peername = transport.get_extra_info("peername") if transport else None
        sock = transport.get_extra_info("socket") if transport else None
        if sock is not None:
            client.fd = sock.fileno()
        if isinstance(peername, tuple):
            client.address = f"{peername[0]}:{peername[1]}"
            client.local_address = f"{sockname[0]}:{sockname[1]}"
        else:
            # (Not sockname: the socket was bound under a private name, then linked.)
            path = self.config["unixsocket"] or sockname
            client.address = client.local_address = f"{path}:0"
            client.unix = True
        if len(self.clients) >= self.config["maxclients"]:
            self.stats.rejected_connections += 1
            # Written past the reply writer: Redis does not count this among error replies.
            client.out += b"-%s\r\n" % errors.MAX_CLIENTS.encode()
            client.close_after_reply = True
            client.flush()
            return
        self.clients[client.id] = client

    def client_disconnected(self, client: Client) -> None:
        self.clients.pop(client.id, None)
        self.tracking.client_gone(client)
        self.leave_pubsub(client)
        if client.monitor:
            self.remove_monitor(client)
        if client.postponed and client in self.postponed:
            self.postponed.remove(client)

    def accept_client(self, sock: socket.socket) -> None:
        """A connection just accepted: refused at once with Redis' error when `maxclients`
        clients are connected (or being connected), else given a transport and a Client."""
        if len(self.clients) + len(self._connecting) >= self.config["maxclients"]:
            self.stats.rejected_connections += 1
            with contextlib.suppress(OSError):
                sock.send(_MAX_CLIENTS_REPLY)
                # Read what the client already sent, so that closing sends FIN, not RST
                # (a reset can destroy the error before the client reads it).
                sock.recv(65536)
            sock.close()
            return
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = asyncio.get_running_loop().create_task(self._connect(sock))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, sock: socket.socket) -> None:
        try:
            await asyncio.get_running_loop().connect_accepted_socket(
                lambda: Client(self), sock)
        except OSError:
            sock.close()

    def output_limit_reached(self, client: Client, now: float, soft_only: bool = False) -> bool:
        """Redis' checkClientOutputBufferLimits for the client's class (pubsub while it
        is subscribed, else normal): the waiting
        replies reach the hard limit, or stay at or over the soft limit for more than its
        seconds. Closes the client and returns True if so."""
        kind = "pubsub" if client.subscriptions is not None else "normal"  # Redis' class
        hard, soft, seconds = self.config["client-output-buffer-limit"][kind]
        size = client.output_size()
        over = bool(hard) and size >= hard and not soft_only
        if soft and size >= soft:
            if not client.soft_limit_since:
                client.soft_limit_since = now
            elif now - client.soft_limit_since > seconds:
                over = True
        else:
            client.soft_limit_since = 0.0
        if over:
            self.close_for_output_limit(client)
        return over

    def close_for_output_limit(self, client: Client) -> None:
        """Close a client whose replies wait over a limit, dropping them, logged and
        counted as Redis does."""
        log.warning("Client %s scheduled to be closed ASAP for overcoming of output "
                    "buffer limits.", client.describe().decode(errors="replace").rstrip("\n"))
        self.stats.client_output_buffer_limit_disconnections += 1
        client.abort()

    # -- cron ---------------------------------------------------------------------------

    def _schedule_cron(self) -> None:
        loop = asyncio.get_running_loop()
        self._cron = loop.call_later(CRON_INTERVAL, self._run_cron)

    def _run_cron(self) -> None:
        """Periodic housekeeping in small steps, as Redis' serverCron."""
        now = time.monotonic()
        self._sample_ops(now)
        databases = self.databases
        databases.tick()
        if self.pause_type == PAUSE_OFF:  # as Redis, no active expiry during a pause
            databases.expire_cycle(ACTIVE_EXPIRE_BUDGET)
        databases.lazy.step(LAZYFREE_BUDGET)
        if self.maxmemory:
            self.memory.make_room(CRON_EVICTION_BUDGET)
        self.memory.used()  # keeps used_memory_peak current
        self.aof.cron()
        self.tracking.cron()
        self._close_idle_clients(now)
        self._check_output_limits(now)
        self.owners.check()
        self._schedule_cron()

    def _sample_ops(self, now: float) -> None:
        stats = self.stats
        elapsed = now - stats.ops_sample_time
        if elapsed >= 1.0:
            processed = self.commands_processed()
            stats.instantaneous_ops = int((processed - stats.ops_sample_count) / elapsed)
            stats.ops_sample_time = now
            stats.ops_sample_count = processed

    def _close_idle_clients(self, now: float) -> None:
        timeout = self.config["timeout"]
        if timeout:
            for client in list(self.clients.values()):
                # Redis never times out monitors (replicas to it) or held clients.
                if now - client.last_interaction > timeout and not client.monitor \
                        and not client.postponed:
                    client.close()

    def _check_output_limits(self, now: float) -> None:
        """The soft limit's clock, for clients whose held requests wait for their
        replies to be read (the arbiter runs none of them, so checks nothing otherwise).
        Not the hard limit: no reply is cut for its size alone."""
        for client in list(self.clients.values()):
            if client.held and client.write_paused:
                self.output_limit_reached(client, now, soft_only=True)

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the listeners; raises StartupError when that is impossible."""
        loop = self._loop = asyncio.get_running_loop()
        path = self.config["unixsocket"]
        port = self.config["port"]
        if not path and not port:
            raise StartupError("no listener: give --unixsocket PATH and/or --port N")
        self._fit_maxclients()
        if path:
            sock, self._socket_inode = _bind_unix(path, self.config["unixsocketperm"])
            self._servers.append(Listener(sock, self.accept_client))
        if port:
            for address in str(self.config["bind"]).split():
                try:
                    sockets = bind_tcp(address.lstrip("-"), port)
                except OSError as exc:
                    self._close_listeners()
                    raise StartupError(f"could not bind {address}:{port}: {exc}") from exc
                self._servers += [Listener(sock, self.accept_client) for sock in sockets]
        try:
            self.aof.start()
        except AofStartError as exc:
            self._close_listeners()
            raise StartupError(str(exc)) from exc
        self._schedule_cron()
        self._stopped = loop.create_future()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        self.owners.start(self.config.parent_pid)

    def _fit_maxclients(self) -> None:
        """Make room for `maxclients` descriptors, or lower it to what fits (Redis'
        adjustOpenFilesLimit); a client past it gets an error, never a silent reset."""
        wanted = self.config["maxclients"]
        fitting = fit_open_files(wanted)
        if fitting < 1:
            raise StartupError(
                f"Your current 'ulimit -n' of {open_files_limit()} is not enough for the "
                f"server to start. Please increase your open file limit to at least "
                f"{wanted + RESERVED_FDS}.")
        self.config.values["maxclients"] = fitting

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
            self.owners.close()
            self._close_listeners()
            self.aof.stop()
            for client in list(self.clients.values()):
                client.flush()
                client.close()
            log.log(NOTICE, "resp-arbiter is now ready to exit, bye bye...")

    def _close_listeners(self) -> None:
        path = self.config["unixsocket"]
        for listener in self._servers:
            listener.close()
        self._servers.clear()
        # Only our own socket file: another server may have taken the path since.
        if path and self._socket_inode is not None:
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == self._socket_inode:
                    os.unlink(path)
            self._socket_inode = None

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic

    def version_banner(self) -> str:
        return f"resp-arbiter {__version__}"


UNIX_PATH_MAX = 107  # sun_path holds 108 bytes, the last a NUL
_MAX_CLIENTS_REPLY = f"-{errors.MAX_CLIENTS}\r\n".encode()


def _bind_unix(path: str, perm: int) -> tuple[socket.socket, int]:
    """Bind and listen on a Unix socket at `path`, taking over a stale socket file but
    never a live one; the socket and the inode of its file.

    The socket is bound and listening under a name of its own first, then hard-linked to
    `path`, which fails if `path` exists: of two arbiters started at once on one path,
    one starts and the other says another server answers there. A plain bind would let
    the second see the first's socket before it listens, take it for stale and unlink it.
    """
    private = f"{path}.{os.getpid()}"
    if len(os.fsencode(private)) > UNIX_PATH_MAX:
        private = path  # no room for a private name: bind in place
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o777 & ~perm)
    try:
        with contextlib.suppress(FileNotFoundError):
            if private != path:
                os.unlink(private)  # left by an arbiter of this pid that was killed
        sock.bind(private)
        os.chmod(private, perm)
        sock.listen(BACKLOG)
        if private != path:
            _link_in_place(private, path)
    except OSError as exc:
        sock.close()
        raise StartupError(f"could not bind {path}: {exc}") from exc
    except StartupError:
        sock.close()
        raise
    finally:
        os.umask(old_umask)
        if private != path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(private)
    sock.setblocking(False)
    return sock, os.stat(path).st_ino


def _link_in_place(private: str, path: str) -> None:
    """Give the listening socket at `private` its public name, unless a live one has it."""
    for _ in range(2):
        try:
            os.link(private, path)
            return
        except FileExistsError:
            _remove_stale_socket(path)
    raise StartupError(f"another server is already answering on {path}")


def _remove_stale_socket(path: str) -> None:
    """Unlink `path` if it is a socket nobody listens on; StartupError if it is live or
    not a socket."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
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


# What a RESP2 client in Pub/Sub mode may run (Redis' processCommand).
_SUBSCRIBED_COMMANDS = frozenset((
    "ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
    "punsubscribe", "quit", "reset"))


def _writes(client: Client, spec: Command) -> bool:
    """Whether CLIENT PAUSE WRITE holds this command: one that changes data, or may."""
    return "may_replicate" in spec.flags or _changes_data(client, spec)


def _shown(client: Client, argv: list[bytes]) -> list[bytes]:
    """The arguments MONITOR and the slow log show: `argv`, or its redacted copy."""
    redacted = client.redacted
    if redacted is not None and redacted[0] is argv:
        return redacted[1]
    return argv


def _changes_data(client: Client, spec: Command) -> bool:
    """Whether a command writes, as Redis' disk-error check sees it: a write command, or
    EXEC of a transaction holding one. (PING is not refused, unlike Redis: it is the
    supervisor's liveness probe.)"""
    if spec.is_write:
        return True
    return spec.name == "exec" and bool(client.multi) and any(
        queued.is_write for queued, _ in client.multi)


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
