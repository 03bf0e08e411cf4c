"""One connected client: its protocol state and the asyncio protocol that feeds it.

The hot path lives here and in `Server.call`: bytes in, `RequestParser.feed`, one call per
request, replies appended to one buffer, one `transport.write` per read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from .protocol import RequestParser, Resp2Writer, Resp3Writer

if TYPE_CHECKING:
    from .server import Server

log = logging.getLogger("resp_arbiter")


class Client(asyncio.Protocol):
    """A connection, as Redis' `client` struct sees it."""

    __slots__ = ("server", "id", "transport", "parser", "out", "reply", "resp", "name",
                 "lib_name", "lib_ver", "authenticated", "created", "last_interaction",
                 "close_after_reply", "address", "local_address", "last_command",
                 "multi", "multi_error", "dirty_cas", "watched", "fd", "unix", "monitor",
                 "no_evict", "backlog", "held_input", "redacted")

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
        # WATCH state: the keys, and whether one of them changed since.
        self.watched: set[bytes] = set()
        self.dirty_cas = False
        self.fd = -1
        self.unix = False
        self.monitor = False  # MONITOR: gets a line for every command run
        self.no_evict = False  # CLIENT NO-EVICT (shown in CLIENT LIST's flags)
        # While CLIENT PAUSE holds this client: the requests it sent that wait, in order.
        self.backlog: list[list[bytes]] | None = None
        self.held_input = bytearray()  # bytes received while held, not parsed yet
        # (argv, what MONITOR and the slow log show instead) for a command that hides
        # arguments (AUTH, HELLO AUTH, CONFIG SET requirepass), as Redis' original_argv.
        self.redacted: tuple[list[bytes], list[bytes]] | None = None

    # -- protocol switches --------------------------------------------------------------

    def set_protocol(self, version: int) -> None:
        self.resp = version
        self.reply = (Resp3Writer if version == 3 else Resp2Writer)(
            self.out, self.server.error_stats)

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

    def redact(self, argv: list[bytes], index: int) -> None:
        """Show `argv[index]` as "(redacted)" in MONITOR and the slow log (passwords)."""
        redacted = self.redacted
        if redacted is None or redacted[0] is not argv:
            redacted = self.redacted = (argv, list(argv))
        redacted[1][index] = b"(redacted)"

    def set_authenticated(self, value: bool) -> None:
        self.authenticated = value
        self.parser.authenticated = value

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.client_connected(self)

    def data_received(self, data: bytes) -> None:
        server = self.server
        server.stats.net_input_bytes += len(data)
        self.last_interaction = time.monotonic()
        if self.backlog is not None:
            self._hold(data)
            return
        self.run(self.parser.feed(data))

    def _hold(self, data: bytes) -> None:
        """While CLIENT PAUSE holds this client, what it sends waits unparsed (Redis'
        query buffer), at most client-query-buffer-limit bytes: past that the client is
        closed, as Redis closes it. Reading goes on, so a client that leaves is seen."""
        held = self.held_input
        held += data
        if len(held) > self.server.config["client-query-buffer-limit"]:
            log.warning("Closing client id=%d addr=%s that reached max query buffer "
                        "length while paused (%d bytes)", self.id, self.address, len(held))
            self.kill()

    def run(self, requests: list[list[bytes]]) -> None:
        """Serve `requests` in order, then a protocol error met after them, then flush.

        A request that CLIENT PAUSE holds starts the backlog: it and the ones after it
        are served by `resume` when the pause ends."""
        call = self.server.call
        remaining = iter(requests)
        for argv in remaining:
            call(self, argv)
            if self.close_after_reply:
                break
            if self.backlog is not None:
                self.backlog += remaining
                self.flush()
                return
        error = self.parser.pending_error
        if error is not None and not self.close_after_reply:
            if error.message is not None:
                self.server.error_stats.current = None  # no command's failure
                self.reply.error(error.message)
            self.close_after_reply = True
        self.flush()

    def resume(self) -> None:
        """The pause that held this client ended: serve what waited, in order."""
        backlog, self.backlog = self.backlog, None
        if backlog is None or self.transport is None:
            return
        self.run(backlog)
        if self.backlog is None and self.held_input and not self.close_after_reply:
            data = bytes(self.held_input)
            self.held_input.clear()
            self.run(self.parser.feed(data))

    def flush(self) -> None:
        out = self.out
        transport = self.transport
        if out and transport is not None:
            self.server.stats.net_output_bytes += len(out)
            transport.write(bytes(out))
            out.clear()
        if self.close_after_reply and transport is not None:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.reset_transaction()
        self.server.client_disconnected(self)
        self.transport = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def kill(self) -> None:
        """CLIENT KILL: gone at once, as Redis' freeClient (pending output dropped)."""
        self.reset_transaction()
        self.server.client_disconnected(self)
        self.out.clear()
        self.backlog = None
        self.held_input.clear()
        self.close_after_reply = True  # a request loop serving it stops there
        if self.transport is not None:
            self.transport.abort()

    @property
    def pending_output(self) -> int:
        """Reply bytes not yet sent: our buffer and the transport's (CLIENT LIST omem)."""
        transport = self.transport
        waiting = transport.get_write_buffer_size() if transport is not None else 0
        return len(self.out) + waiting
