"""The client cache: hot reads served from the process's memory, kept fresh by the server.

With `configure(client_cache=True)` each stash session keeps the replies of its field
reads (`HGET`, `HMGET`, `HEXISTS`: `get`, `get_many`, `get_item`, `exists(table, key)`)
and answers a repeated read of an unchanged field without a round trip.

Freshness comes from server-assisted tracking in broadcasting mode, on a connection of
its own (the *listener*), in RESP2 so that every redis-py version and the master's own
hiredis reader serve it alike::

    CLIENT ID                                    -> id
    CLIENT TRACKING ON BCAST REDIRECT <id>        (its own invalidations go to itself)
    SUBSCRIBE __redis__:invalidate

From then on the server sends the listener the name of every key (every table) that
changes, and a null for FLUSHDB/FLUSHALL. All the tracking state lives on that one
connection, so the connections that carry the commands (any number, reconnecting at
will) need no tracking of their own, and the only event that can lose an invalidation
is the loss of the listener itself: then the whole cache is dropped (and the listener
is made again at the next read). The same happens when a drain finds a backlog (the
server may still hold more for us than the socket delivered).

The listener is read without a thread: every cache lookup first drains whatever the
socket holds (a `poll` with no wait, a few hundred nanoseconds when nothing came). So
once a write has returned to any client, the invalidation the server sent before that
reply is in this process's socket, and the next lookup applies it before answering.

A read reply and the invalidation of what it read travel on different connections and
may arrive in either order. So each miss takes a *ticket* before its command is sent:
an invalidation of the table while the ticket is out (or a lost listener, or a flush)
forbids storing the reply. A write sent by this process drops its table's entries
when it completes, so a process always reads its own writes, whatever the server's
ordering.

Tracking is per Redis key, and a table is one key: any write to a table drops every
cached field of that table.
"""

from __future__ import annotations

import select
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import StashError
from .wire import Connection, ReplyError, redact

CHANNEL = b"__redis__:invalidate"
#: The field reads the cache answers.
READS = frozenset({"HGET", "HMGET", "HEXISTS"})
#: Commands that change the table they name first: a completed one drops the table's
#: entries here, so that this process reads its own writes.
WRITES = frozenset({"HSET", "HDEL", "HINCRBY", "HINCRBYFLOAT", "HPEXPIRE", "DEL",
                    "STASH.CLEAR"})
#: A drain that reads this much assumes the server holds more: the cache is dropped.
BACKLOG = 64 * 1024
#: What one entry costs beyond its table, field and value bytes (the tuple, the dict
#: slots, the index set).
OVERHEAD = 200
DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_BYTES = 16 * 1024 * 1024

_NOT_CACHED = object()
#: The field exists; its value was not read (`exists` only).
_PRESENT = object()
#: What a lookup answers when memory cannot: send the command.
MISS: Any = object()


class _Poller:
    """Whether a socket has bytes to read, without waiting: `poll` where the select
    module has it (a few hundred nanoseconds), else `select`."""

    def __init__(self, sock: Any) -> None:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            self.poll = poller.poll
        else:
            self.poll = lambda timeout: select.select([sock], [], [], timeout)[0]


@dataclass(frozen=True)
class Ticket:
    """A read on its way: it may be stored if nothing changed its table meanwhile."""

    command: str
    table: bytes
    fields: tuple[bytes, ...]
    epoch: int
    seq: int


def _read(batch: Any) -> tuple[str, bytes, tuple[bytes, ...]] | None:
    """(command, table, fields) of a batch the cache can answer, else None."""
    if batch.transaction or len(batch.commands) != 1:
        return None
    command = batch.commands[0]
    if command[0] not in READS:
        return None
    return command[0], command[1], tuple(command[2:])


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


class ClientCache:
    """One session's cache and its listener. Safe between threads (one lock, never held
    across I/O other than the listener's own non-blocking reads and its setup)."""

    def __init__(self, url: str, timeout: float, max_entries: int = DEFAULT_MAX_ENTRIES,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.url = url
        self.timeout = timeout
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple[bytes, bytes], Any] = OrderedDict()
        self.sizes: dict[tuple[bytes, bytes], int] = {}
        self.by_table: dict[bytes, set[bytes]] = {}
        self.bytes = 0
        self.listener: Connection | None = None
        self.poller: Any = None
        self.tls = False
        self.epoch = 0
        self.seq = 0
        self.inflight: dict[bytes, int] = {}
        self.changed_at: dict[bytes, int] = {}
        self.hits = self.misses = self.invalidations = self.flushes = self.evictions = 0

    # --- the listener -------------------------------------------------------------------

    def _listen(self) -> bool:
        """Make the listener if there is none; False when the server cannot be reached
        (the read then goes uncached), StashError when it refuses tracking."""
        if self.listener is not None:
            return True
        try:
            listener = Connection.open(self.url, self.timeout)
        except (OSError, ReplyError, ValueError):
            return False
        try:
            client_id = listener.call("CLIENT", "ID")
            listener.call("CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", client_id)
            listener.call("SUBSCRIBE", CHANNEL)
        except ReplyError as error:
            listener.close()
            raise StashError(
                f"client_cache needs a server with CLIENT TRACKING (broadcasting mode, "
                f"redirected to a subscriber of {CHANNEL.decode()}); the stash server at "
                f"{redact(self.url)} refused it: {str(error).rstrip('.')}. Turn "
                "client_cache off, or use "
                "a server that supports tracking (redis-server 6 and newer).") from None
        except OSError:
            listener.close()
            return False
        listener.sock.setblocking(False)
        self.poller = _Poller(listener.sock)
        # TLS may hold decrypted bytes that the socket no longer shows.
        self.tls = isinstance(listener.sock, ssl.SSLSocket)
        self.listener = listener
        self._flush()  # nothing stored before now was tracked
        return True

    def _lose(self) -> None:
        if self.listener is not None:
            self.listener.close()
        self.listener = self.poller = None
        self._flush()

    def _clean(self) -> bool:
        """Apply every invalidation that has reached this process; False if the cache
        cannot answer now (no listener, or half a message still on its way)."""
        listener = self.listener
        if listener is None:
            return False
        if self.poller.poll(0) or (self.tls and listener.sock.pending()):
            self._drain()
            listener = self.listener
            if listener is None:
                return False
        return not listener.reader.has_data()

    def _drain(self) -> None:
        assert self.listener is not None
        listener, total = self.listener, 0
        while True:
            try:
                data = listener.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError):
                break
            except OSError:
                self._lose()
                return
            if not data:
                self._lose()
                return
            total += len(data)
            listener.reader.feed(data)
            while (message := listener.reader.gets()) is not False:
                self._apply(message)
        if total >= BACKLOG:
            self._flush()

    def _apply(self, message: Any) -> None:
        if not (isinstance(message, list) and len(message) == 3 and message[0] == b"message"
                and message[1] == CHANNEL):
            return
        keys = message[2]
        if keys is None:
            self._flush()
        else:
            for key in keys if isinstance(keys, list) else [keys]:
                self._invalidate(_bytes(key))

    # --- entries ------------------------------------------------------------------------

    def _flush(self) -> None:
        self.entries.clear()
        self.sizes.clear()
        self.by_table.clear()
        self.bytes = 0
        self.epoch += 1
        self.flushes += 1

    def _invalidate(self, table: bytes) -> None:
        self.seq += 1
        self.invalidations += 1
        if table in self.inflight:
            self.changed_at[table] = self.seq
        for field in self.by_table.pop(table, ()):
            self.entries.pop((table, field), None)
            self.bytes -= self.sizes.pop((table, field))

    def _store(self, table: bytes, field: bytes, value: Any) -> None:
        entry = (table, field)
        size = OVERHEAD + len(table) + len(field) + (
            len(value) if isinstance(value, (bytes, str)) else 0)
        if entry in self.entries:
            self._remove(entry)
        if size > self.max_bytes or self.max_entries <= 0:
            return
        while self.entries and (len(self.entries) >= self.max_entries
                                or self.bytes + size > self.max_bytes):
            self._remove(next(iter(self.entries)))
            self.evictions += 1
        self.entries[entry] = value
        self.sizes[entry] = size
        self.bytes += size
        self.by_table.setdefault(table, set()).add(field)

    def _remove(self, entry: tuple[bytes, bytes]) -> None:
        del self.entries[entry]
        self.bytes -= self.sizes.pop(entry)
        fields = self.by_table[entry[0]]
        fields.discard(entry[1])
        if not fields:
            del self.by_table[entry[0]]

    # --- what the plan and the runners call ---------------------------------------------

    def lookup(self, batch: Any) -> list[Any] | None:
        """The replies to `batch` from memory, or None: send it."""
        if batch.transaction or len(batch.commands) != 1:
            return None
        command = batch.commands[0]
        kind = command[0]
        if kind not in READS:
            return None
        if kind == "HGET":
            value = self.field(command[1], command[2])
            return None if value is MISS else [value]
        table, entries = command[1], self.entries
        with self.lock:
            if not self._clean():
                self.misses += 1
                return None
            if kind == "HMGET":
                found = [entries.get((table, field), _NOT_CACHED) for field in command[2:]]
                if any(value is _NOT_CACHED or value is _PRESENT for value in found):
                    self.misses += 1
                    return None
                for field in command[2:]:
                    entries.move_to_end((table, field))
                self.hits += 1
                return [found]
            entry = (table, command[2])  # HEXISTS
            value = entries.get(entry, _NOT_CACHED)
            if value is _NOT_CACHED:
                self.misses += 1
                return None
            entries.move_to_end(entry)
            self.hits += 1
        return [int(value is not None)]

    def field(self, table: bytes, field: bytes) -> Any:
        """What `HGET table field` would answer (None: no such field), or MISS: for
        `lookup`, and for `get` without a batch (the read a worker repeats most)."""
        entry = (table, field)
        with self.lock:
            if self._clean():
                value = self.entries.get(entry, _NOT_CACHED)
                if value is not _NOT_CACHED and value is not _PRESENT:
                    self.entries.move_to_end(entry)
                    self.hits += 1
                    return value
            self.misses += 1
        return MISS

    def begin(self, batch: Any) -> Ticket | None:
        """Before a read is sent: a ticket to store its reply (None: do not store, the
        listener cannot be made now)."""
        read = _read(batch)
        if read is None:
            return None
        with self.lock:
            if not self._listen():
                return None
            table = read[1]
            self.inflight[table] = self.inflight.get(table, 0) + 1
            return Ticket(*read, self.epoch, self.seq)

    def end(self, ticket: Ticket, replies: list[Any] | None) -> None:
        """After the read: store its replies (None: it failed) unless its table changed,
        or the listener was lost, since the ticket was taken."""
        table = ticket.table
        with self.lock:
            left = self.inflight[table] - 1
            changed = self.changed_at.get(table, 0) > ticket.seq
            if left:
                self.inflight[table] = left
            else:
                del self.inflight[table]
                self.changed_at.pop(table, None)
            if replies is None or changed or ticket.epoch != self.epoch:
                return
            if ticket.command == "HGET":
                self._store(table, ticket.fields[0], replies[0])
            elif ticket.command == "HMGET":
                for field, value in zip(ticket.fields, replies[0], strict=True):
                    self._store(table, field, value)
            elif (table, ticket.fields[0]) not in self.entries:
                self._store(table, ticket.fields[0], _PRESENT if replies[0] else None)

    def wrote(self, batch: Any) -> None:
        """After a batch that may have changed tables (whether or not it succeeded):
        drop their entries, so this process never reads past its own write."""
        tables = [command[1] for command in batch.commands if command[0] in WRITES]
        if tables:
            with self.lock:
                for table in tables:
                    self._invalidate(_bytes(table))

    def info(self) -> dict[str, int]:
        """Counters for monitoring and benchmarks."""
        with self.lock:
            return {"hits": self.hits, "misses": self.misses, "entries": len(self.entries),
                    "bytes": self.bytes, "invalidations": self.invalidations,
                    "flushes": self.flushes, "evictions": self.evictions,
                    "max_entries": self.max_entries, "max_bytes": self.max_bytes}

    def close(self) -> None:
        with self.lock:
            self._lose()


#: What a decoded value may be made of for `Memo` to keep it (JSON's types, and bytes).
_IMMUTABLE = (str, int, float, bool, type(None), bytes)
#: `Memo` keeps values decoded from at most this many bytes, this many of them.
MEMO_VALUE_BYTES = 1024
MEMO_ENTRIES = 1024


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether `value` is made only of JSON's types and bytes (so `_copy` copies it)."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return True
    if depth > 16:
        return False
    if kind is list:
        return all(_plain(item, depth + 1) for item in value)
    if kind is dict:
        return all(type(key) in _IMMUTABLE and _plain(item, depth + 1)
                   for key, item in value.items())
    return False


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _copy(item) for key, item in value.items()}
    if kind is list:
        return [_copy(item) for item in value]
    return value


class Memo:
    """A codec that remembers what it decoded from the very bytes a cache hit hands it
    again, so that a hit does not pay for decoding. Each call returns a value of its
    own: lists and dicts are copied (faster than decoding), so a caller that changes
    what it got never changes what the next caller gets. Bounded in entries and in the
    size of the data it keeps values for."""

    def __init__(self, codec: Any) -> None:
        self.codec = codec
        self.memo: dict[bytes, Any] = {}

    def encode(self, value: Any) -> bytes:
        return self.codec.encode(value)

    def decode(self, data: bytes) -> Any:
        kept = self.memo.get(data)
        if kept is not None:
            value, copy = kept
            return value if copy is None else copy(value)
        value = self.codec.decode(data)
        if len(data) <= MEMO_VALUE_BYTES and _plain(value):
            if len(self.memo) >= MEMO_ENTRIES:
                self.memo.clear()
            copy = _copier(value)
            self.memo[data] = (value, copy)
            return value if copy is None else copy(value)
        return value


def _copier(value: Any) -> Callable[[Any], Any] | None:
    """How to copy a `_plain` value: not at all (None), one level in C, or all the way
    down."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return None
    items = value.values() if kind is dict else value
    if all(type(item) in _IMMUTABLE for item in items):
        return dict.copy if kind is dict else list.copy
    return _copy
