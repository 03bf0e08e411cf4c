"""One connected client: its protocol state and the asyncio protocol that feeds it.

The hot path lives here and in `Server.call`: bytes in, `RequestParser.feed`, one call per
request, replies appended to one buffer, one `transport.write` per read (or per
`FLUSH_AT` bytes of replies).

Flow control. A client's replies wait in two places: `out` (being built) and the
transport's buffer (what the socket did not take). Redis keeps running a client's
requests whatever waits and relies on client-output-buffer-limit alone; the arbiter also
stops running a client's requests while its transport reports a full buffer
(`pause_writing`) and runs them again once it drains (`resume_writing`), so a few
requests that each build a large reply (HGETALL of a big table) cannot make it build
gigabytes that nobody reads. It keeps *reading* meanwhile, holding the input unparsed:
a client that writes a whole pipeline before reading any reply must be able to finish
writing, or neither side moves (pausing reads on a full output buffer deadlocks there).
The held input has a bound (`held_input_limit`): past it the arbiter stops reading until
it is back under, and runs the held requests although their replies wait, as Redis
would, leaving client-output-buffer-limit to decide. Work is done in turns of bounded
size (`TURN_BUDGET`), so one client's pipeline cannot hold the loop for long.

So a client that reads never has more than about one reply waiting, and no reply is
cut for its size alone: the hard limit applies to replies built while earlier ones
wait unread past the held input, the soft limit also (by the cron's clock) to a client
with requests held behind replies it leaves unread. A client that stops reading costs
at most its held input plus the output limit.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .fastpath import NOTHING_DONE, READ_DONE
from .protocol import RequestParser, Resp2Writer, Resp3Writer

if TYPE_CHECKING:
    from .keyspace import Keyspace
    from .server import Server
    from .tracking import Subscriptions, TrackingState

log = logging.getLogger("resp_arbiter")

# Replies are written out (and the limits checked) once this much is built, so one read
# of pipelined requests cannot build an unbounded reply before anything is written.
FLUSH_AT = 64 * 1024
# Before AUTH, Redis closes a client once more than 1 KiB of replies waits beyond its
# 16 KiB static reply buffer (PROTO_REPLY_CHUNK_BYTES); the overflow list grows in 16 KiB
# blocks, so in effect once more than 16 KiB waits, unwritten. So does the arbiter.
UNAUTH_OUTPUT_LIMIT = 16 * 1024
# Unparsed input held for a client whose replies are not being read, at most.
HELD_INPUT_LIMIT = 16 * 1024 * 1024
# Held input is parsed in slices of this size.
INPUT_SLICE = 64 * 1024
# Writes and slices of held work per event-loop turn, before other clients get theirs.
TURN_BUDGET = 16
# A reply buffer at least this large is handed to the transport instead of copied.
GIVE_AWAY_AT = 1024 * 1024


class Client(asyncio.Protocol):
    """A connection, as Redis' `client` struct sees it."""

    __slots__ = ("server", "db", "id", "transport", "parser", "out", "reply", "resp", "name",
                 "lib_name", "lib_ver", "authenticated", "created", "last_interaction",
                 "close_after_reply", "address", "local_address", "last_command",
                 "multi", "multi_error", "dirty_cas", "watched", "fd", "unix", "monitor",
                 "no_evict", "redacted", "flush_at", "held", "backlog", "inbox",
                 "write_paused", "reading_paused", "postponed", "scheduled",
                 "soft_limit_since", "tracking", "subscriptions")

    def __init__(self, server: Server) -> None:
        self.server = server
        # The keyspace this client's commands read and write (Redis' c->db).
        self.db = server.databases[0]
        self.id = 0
        self.transport: asyncio.Transport | None = None
        config = server.config
        self.authenticated = not config["requirepass"]
        self.parser = RequestParser(config["proto-max-bulk-len"],
                                    config["client-query-buffer-limit"],
                                    self.authenticated)
        self.out = bytearray()
        self.reply: Resp2Writer = Resp2Writer(self.out, server.error_stats)
        self.resp = 2
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.created = self.last_interaction = time.monotonic()
        self.close_after_reply = False
        self.address = self.local_address = ""
        self.last_command = "NULL"
        # MULTI state: the queued (command, argv) pairs, or None outside a transaction.
        self.multi: list | None = None
        self.multi_error = False
        # WATCH state: the (database, key) pairs, and whether one of them changed since.
        self.watched: set[tuple[Keyspace, bytes]] = set()
        self.dirty_cas = False
        self.fd = -1
        self.unix = False
        self.monitor = False  # MONITOR: gets a line for every command run
        self.no_evict = False  # CLIENT NO-EVICT (shown in CLIENT LIST's flags)
        # (argv, what MONITOR and the slow log show instead) for a command that hides
        # arguments (AUTH, HELLO AUTH, CONFIG SET requirepass), as Redis' original_argv.
        self.redacted: tuple[list[bytes], list[bytes]] | None = None
        # Flow control (see the module's docstring): requests parsed but not run yet,
        # input not parsed yet, and whether either holds anything. `postponed`: CLIENT
        # PAUSE holds the first request of the backlog until the pause ends.
        self.flush_at = FLUSH_AT if self.authenticated else UNAUTH_OUTPUT_LIMIT + 1
        self.held = False
        self.backlog: collections.deque[list[bytes]] = collections.deque()
        self.inbox = bytearray()
        self.write_paused = False
        self.reading_paused = False
        self.postponed = False
        self.scheduled = False
        # When the output was first seen over the soft limit (0: it is not).
        self.soft_limit_since = 0.0
        # CLIENT TRACKING options while tracking is on; channels and patterns while
        # subscribed (see `tracking`).
        self.tracking: TrackingState | None = None
        self.subscriptions: Subscriptions | None = None

    # -- protocol switches --------------------------------------------------------------

    def set_protocol(self, version: int) -> None:
        self.resp = version
        self.reply = (Resp3Writer if version == 3 else Resp2Writer)(
            self.out, self.server.error_stats)

    def unwatch_all(self) -> None:
        for db, key in self.watched:
            db.unwatch(key, self)
        self.watched.clear()
        self.dirty_cas = False

    def reset_transaction(self) -> None:
        """Leave MULTI and forget WATCHed keys (RESET, disconnect)."""
        self.multi = None
        self.multi_error = False
        self.unwatch_all()

    def redact(self, argv: list[bytes], index: int) -> None:
        """Show `argv[index]` as "(redacted)" in MONITOR and the slow log (passwords)."""
        redacted = self.redacted
        if redacted is None or redacted[0] is not argv:
            redacted = self.redacted = (argv, list(argv))
        redacted[1][index] = b"(redacted)"

    def set_authenticated(self, value: bool) -> None:
        self.authenticated = value
        self.parser.authenticated = value
        self.flush_at = FLUSH_AT if value else UNAUTH_OUTPUT_LIMIT + 1

    def output_size(self) -> int:
        """Bytes of replies waiting for this client: being built, and in the transport."""
        transport = self.transport
        waiting = transport.get_write_buffer_size() if transport is not None else 0
        return len(self.out) + waiting

    def held_input_limit(self) -> int:
        """Input held unparsed at most (it is query buffer: never over that limit)."""
        return min(HELD_INPUT_LIMIT, self.parser.query_buffer_limit)

    def _flags(self) -> str:
        """CLIENT LIST's flags, in Redis' order; N when none applies."""
        tracking = self.tracking
        flags = "".join(flag for flag, on in (
            ("O", self.monitor), ("P", self.subscriptions is not None),
            ("x", self.multi is not None), ("b", self.postponed),
            ("t", tracking is not None), ("R", tracking is not None and tracking.broken),
            ("B", tracking is not None and tracking.bcast),
            ("d", self.dirty_cas and bool(self.watched)), ("c", self.close_after_reply),
            ("U", self.unix), ("e", self.no_evict)) if on)
        return flags or "N"

    def describe(self, argv: list[bytes] | None = None) -> bytes:
        """One line of CLIENT LIST / CLIENT INFO, in Redis' field order (7.2's, ending in
        lib-name and lib-ver). `argv` is the request being run, when this client asks.

        qbuf: bytes received and not yet parsed (all that arrives while CLIENT PAUSE holds
        the client), with the held requests beyond the first; argv-mem: the arguments of
        the request in hand (the one held, or the parsed part of a half-received one);
        multi-mem: the queued commands, counted as Redis does; omem: replies not yet sent
        (ours and the transport's write buffer); tot-mem: the sum of these. rbs, rbp and
        qbuf-free describe Redis' own buffers: 0."""
        now = time.monotonic()
        unparsed, partial = self.parser.held()
        unparsed += len(self.inbox)
        argv_mem = partial + (sum(map(len, argv)) if argv is not None else 0)
        backlog = self.backlog
        if backlog:
            argv_mem += sum(map(len, backlog[0]))
            unparsed += sum(len(arg) for i in range(1, len(backlog)) for arg in backlog[i])
        multi = -1 if self.multi is None else len(self.multi)
        multi_mem = 0 if self.multi is None else sum(
            sum(map(len, queued)) + 8 * len(queued) for _, queued in self.multi)
        transport = self.transport
        waiting = transport.get_write_buffer_size() if transport is not None else 0
        omem = len(self.out) + waiting
        events = ("r" if transport is not None else "") + ("w" if waiting else "")
        subscriptions = self.subscriptions
        sub = len(subscriptions.channels) if subscriptions is not None else 0
        psub = len(subscriptions.patterns) if subscriptions is not None else 0
        redir = self.tracking.redirect if self.tracking is not None else -1
        return (
            f"id={self.id} addr={self.address} laddr={self.local_address} fd={self.fd} "
            f"name={_text(self.name)} age={int(now - self.created)} "
            f"idle={int(now - self.last_interaction)} flags={self._flags()} db={self.db.id} "
            f"sub={sub} psub={psub} ssub=0 multi={multi} qbuf={unparsed} qbuf-free=0 "
            f"argv-mem={argv_mem} multi-mem={multi_mem} rbs=0 rbp=0 obl={len(self.out)} "
            f"oll=0 omem={omem} "
            f"tot-mem={unparsed + argv_mem + multi_mem + omem} events={events} "
            f"cmd={self.last_command} user=default redir={redir} resp={self.resp} "
            f"lib-name={_text(self.lib_name)} lib-ver={_text(self.lib_ver)}\n"
        ).encode()

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.client_connected(self)

    def data_received(self, data: bytes) -> None:
        server = self.server
        fast = server.fast_path
        taken = NOTHING_DONE if fast is None else fast.read(server, self, data)
        if taken == READ_DONE:  # the usual read: served and answered in C
            return
        if taken == NOTHING_DONE:
            server.stats.net_input_bytes += len(data)
            self.last_interaction = time.monotonic()
            taken = 0
        if not taken and (self.held or self.write_paused or self.postponed):
            self._hold(data)
            return
        parser = self.parser
        out = self.out
        if not taken and fast is not None and parser.pending_error is None \
                and not parser.idle():  # a request open across reads runs first
            opened, data = parser.feed_open(data)
            if not self._run(opened, data):
                return
            if data:
                taken = fast.serve(server, self, self.db, data)
        if taken:
            data = data[taken:]
            if data and len(out) >= self.flush_at:  # the fast path stopped at the bound
                self._hold_rest((), data)
                self._run_held()
                return
        if not data or self._run(parser.feed(data), b""):
            self._end_read(parser, out)

    def _run(self, requests: list[list[bytes]], rest: bytes) -> bool:
        """Run parsed requests of a read (`rest`: the read's bytes after them, not
        parsed yet). False when one stopped the read: a pause postponed it, or the
        replies reached their bound; what follows it is then held, to run later."""
        if self.close_after_reply:  # nothing runs after QUIT or a fatal error
            return True
        call = self.server.call
        out = self.out
        flush_at = self.flush_at
        requests = iter(requests)
        for argv in requests:
            call(self, argv)
            if self.close_after_reply:
                break
            if self.postponed:
                self._hold_rest(requests, rest)  # the held request is already first
                self.flush()
                return False
            if len(out) >= flush_at:
                self._hold_rest(requests, rest)
                self._run_held()
                return False
        return True

    def _hold_rest(self, requests: Iterable[list[bytes]], rest: bytes) -> None:
        """Hold the rest of a read: its parsed requests, then its unparsed bytes."""
        self.backlog.extend(requests)
        if rest:
            self.backlog.extend(self.parser.feed(rest))
        self.held = True

    def _end_read(self, parser: RequestParser, out: bytearray) -> None:
        """After a read's requests ran: send their replies (or finish the connection)."""
        if parser.pending_error is not None or not self.authenticated:
            self._finish()
            return
        server = self.server
        transport = self.transport
        aof = server.aof
        if aof.buffer or aof.held or server.tracking.undelivered or self.close_after_reply \
                or transport is None or len(out) >= GIVE_AWAY_AT or out is not self.out:
            self.flush()
        elif out:  # `send`, inline: the usual end of a read
            server.stats.net_output_bytes += len(out)
            transport.write(bytes(out))
            out.clear()

    def _hold(self, data: bytes) -> None:
        """Keep input for later (`resume_writing` or a scheduled turn runs it). Past the
        bound, stop reading until it is back under, and run it although replies wait:
        a client that is itself blocked writing can then finish its pipeline."""
        inbox = self.inbox
        inbox += data
        self.held = True
        if self.postponed:
            # As Redis' query buffer during a pause: reading goes on (a client that
            # leaves is seen), and past client-query-buffer-limit the client is closed.
            if len(inbox) > self.parser.query_buffer_limit:
                log.warning("Closing client id=%d addr=%s that reached max query buffer "
                            "length while paused (%d bytes)", self.id, self.address,
                            len(inbox))
                self.kill()
            return
        if len(inbox) > self.held_input_limit():
            self._pace_reading()
            if not self.scheduled:
                self._run_held()

    def _run_held(self) -> None:
        """Run held requests until none is left, the transport is full (and the held
        input within its bound), or this turn's budget is spent."""
        self.scheduled = False
        if self.transport is None:
            return
        call = self.server.call
        backlog, inbox, parser = self.backlog, self.inbox, self.parser
        hold = self.held_input_limit()
        budget = TURN_BUDGET
        while not self.close_after_reply and not self.postponed:
            if len(self.out) >= self.flush_at:
                if not self._write_out():
                    return
                budget -= 1
                if self.write_paused:
                    if len(inbox) <= hold:
                        break  # resume_writing() runs the rest
                    if self.server.output_limit_reached(self, time.monotonic()):
                        return
            elif self.write_paused and len(inbox) <= hold:
                break
            if budget <= 0:
                self._schedule()
                break
            if backlog:
                call(self, backlog.popleft())
            elif inbox and parser.pending_error is None:
                budget -= 1
                chunk = bytes(inbox[:INPUT_SLICE])
                del inbox[:INPUT_SLICE]
                backlog.extend(parser.feed(chunk))
            else:
                break
        if self.close_after_reply or (not backlog and parser.pending_error is not None):
            backlog.clear()  # nothing after a QUIT or a protocol error is run
            inbox.clear()
        self.held = bool(backlog or inbox)
        self._pace_reading()
        self._finish()

    def _pace_reading(self) -> None:
        """Read from the client only while its held input is within its bound."""
        over = len(self.inbox) > self.held_input_limit()
        transport = self.transport
        if over != self.reading_paused and transport is not None:
            self.reading_paused = over
            if over:
                transport.pause_reading()
            else:
                transport.resume_reading()

    def _schedule(self) -> None:
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self._run_held)

    def _finish(self) -> None:
        """End of a batch: a protocol error is answered once every request before it
        ran; then the replies are written."""
        if not self.held:
            error = self.parser.pending_error
            if error is not None and not self.close_after_reply:
                if error.message is not None:
                    self.server.error_stats.current = None  # no command's failure
                    self.reply.error(error.message)
                self.close_after_reply = True
        self._write_out()

    def _write_out(self) -> bool:
        """Write the replies built; False if the client is closing (before AUTH, it is
        closed instead once more than UNAUTH_OUTPUT_LIMIT waits, as in Redis)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        if not self.authenticated and self.output_size() > UNAUTH_OUTPUT_LIMIT:
            self.server.close_for_output_limit(self)
            return False
        self.flush()
        return not transport.is_closing()

    def resume(self) -> None:
        """The pause that held this client ended: serve what waited, in order."""
        self.postponed = False
        if self.held and self.transport is not None:
            self._run_held()

    def flush(self) -> None:
        """Write the replies built, once the append-only file holds the writes they
        acknowledge (`aof` sends them after its write, and fsync, of this loop turn)."""
        aof = self.server.aof
        if aof.buffer or aof.held:
            aof.defer(self)
        else:
            self.send()

    def send(self) -> None:
        """Write the replies built now (after any invalidation waiting for others)."""
        tracking = self.server.tracking
        if tracking.undelivered:
            tracking.before_reply()
        out = self.out
        transport = self.transport
        if out and transport is not None:
            self.server.stats.net_output_bytes += len(out)
            if len(out) >= GIVE_AWAY_AT:
                # The transport may keep a view of the buffer: start a new one.
                transport.write(out)
                self.out = self.reply.out = bytearray()
            else:
                transport.write(bytes(out))
                out.clear()
        if self.close_after_reply and transport is not None:
            transport.close()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.held:
            self._schedule()

    def connection_lost(self, exc: Exception | None) -> None:
        self.reset_transaction()
        self.server.client_disconnected(self)
        self.transport = None
        # Let go of everything a client that left mid-request or mid-pipeline had sent.
        self.parser.release()
        self.backlog.clear()
        self.inbox = bytearray()
        self.out = self.reply.out = bytearray()
        self.held = False

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def kill(self) -> None:
        """CLIENT KILL: gone at once, as Redis' freeClient (pending output dropped)."""
        self.reset_transaction()
        self.server.client_disconnected(self)
        self.out.clear()
        self.backlog.clear()
        self.inbox = bytearray()
        self.held = self.postponed = False
        self.close_after_reply = True  # a request loop serving it stops there
        self.abort()

    def abort(self) -> None:
        """Close at once, dropping replies not yet written."""
        if self.transport is not None:
            self.transport.abort()


def _text(arg: bytes) -> str:
    return arg.decode("utf-8", "surrogateescape")
