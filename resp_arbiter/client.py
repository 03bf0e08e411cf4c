"""One connected client: its protocol state and the asyncio protocol that feeds it.

The hot path lives here and in `Server.call`: bytes in, `RequestParser.feed`, one call per
request, replies appended to one buffer, one `transport.write` per read.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from .protocol import RequestParser, Resp2Writer, Resp3Writer

if TYPE_CHECKING:
    from .server import Server


class Client(asyncio.Protocol):
    """A connection, as Redis' `client` struct sees it."""

    __slots__ = ("server", "id", "transport", "parser", "out", "reply", "resp", "name",
                 "lib_name", "lib_ver", "authenticated", "created", "last_interaction",
                 "close_after_reply", "address", "local_address", "last_command",
                 "multi", "multi_error", "dirty_cas", "watched")

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

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.client_connected(self)

    def data_received(self, data: bytes) -> None:
        server = self.server
        server.stats.net_input_bytes += len(data)
        self.last_interaction = time.monotonic()
        parser = self.parser
        requests = parser.feed(data)
        call = server.call
        for argv in requests:
            call(self, argv)
            if self.close_after_reply:
                break
        error = parser.pending_error
        if error is not None and not self.close_after_reply:
            if error.message is not None:
                self.reply.error(error.message)
            self.close_after_reply = True
        aof = server.aof
        if aof.buffer or aof.held:
            aof.defer(self)  # replies go out after the AOF write (and fsync) they need
        else:
            self.flush()

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
