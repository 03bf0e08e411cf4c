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
import time
from typing import TYPE_CHECKING

from .protocol import RequestParser, Resp2Writer, Resp3Writer

if TYPE_CHECKING:
    from .server import Server

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

    __slots__ = ("server", "id", "transport", "parser", "out", "reply", "resp", "name",
                 "lib_name", "lib_ver", "authenticated", "created", "last_interaction",
                 "close_after_reply", "address", "local_address", "last_command",
                 "multi", "multi_error", "dirty_cas", "watched", "flush_at", "held",
                 "backlog", "inbox", "write_paused", "reading_paused", "scheduled",
                 "soft_limit_since")

    def __init__(self, server: Server) -> None:
        self.server = server
        self.id = 0
        self.transport: asyncio.Transport | None = None
        config = server.config
        self.authenticated = not config["requirepass"]
        self.parser = RequestParser(config["proto-max-bulk-len"],
                                    config["client-query-buffer-limit"],
                                    self.authenticated)
        self.out = bytearray()
        self.reply: Resp2Writer = Resp2Writer(self.out)
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
        # WATCH state: the keys, and whether one of them changed since.
        self.watched: set[bytes] = set()
        self.dirty_cas = False
        # Flow control (see the module's docstring): requests parsed but not run yet,
        # input not parsed yet, and whether either holds anything.
        self.flush_at = FLUSH_AT if self.authenticated else UNAUTH_OUTPUT_LIMIT + 1
        self.held = False
        self.backlog: collections.deque[list[bytes]] = collections.deque()
        self.inbox = bytearray()
        self.write_paused = False
        self.reading_paused = False
        self.scheduled = False
        # When the output was first seen over the soft limit (0: it is not).
        self.soft_limit_since = 0.0

    # -- protocol switches --------------------------------------------------------------

    def set_protocol(self, version: int) -> None:
        self.resp = version
        self.reply = (Resp3Writer if version == 3 else Resp2Writer)(self.out)

    def unwatch_all(self) -> None:
        keyspace = self.server.keyspace
        for key in self.watched:
            keyspace.unwatch(key, self)
        self.watched.clear()
        self.dirty_cas = False

    def reset_transaction(self) -> None:
        """Leave MULTI and forget WATCHed keys (RESET, disconnect)."""
        self.multi = None
        self.multi_error = False
        self.unwatch_all()

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

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.client_connected(self)

    def data_received(self, data: bytes) -> None:
        server = self.server
        server.stats.net_input_bytes += len(data)
        self.last_interaction = time.monotonic()
        if self.held or self.write_paused:
            self._hold(data)
            return
        parser = self.parser
        requests = iter(parser.feed(data))
        call = server.call
        out = self.out
        flush_at = self.flush_at
        for argv in requests:
            call(self, argv)
            if self.close_after_reply:
                break
            if len(out) >= flush_at:
                self.backlog.extend(requests)  # the rest of this read
                self.held = True
                self._run_held()
                return
        if parser.pending_error is None and self.authenticated:
            self.flush()
        else:
            self._finish()

    def _hold(self, data: bytes) -> None:
        """Keep input for later (`resume_writing` or a scheduled turn runs it). Past the
        bound, stop reading until it is back under, and run it although replies wait:
        a client that is itself blocked writing can then finish its pipeline."""
        inbox = self.inbox
        inbox += data
        self.held = True
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
        while not self.close_after_reply:
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

    def flush(self) -> None:
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

    def abort(self) -> None:
        """Close at once, dropping replies not yet written."""
        if self.transport is not None:
            self.transport.abort()
