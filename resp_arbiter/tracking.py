"""Client-side caching (CLIENT TRACKING) and the Pub/Sub state its RESP2 redirect needs.

As in Redis 7.0's tracking.c, one table maps each key some tracking client read to the
ids of those clients, whatever database the key was read in (the table holds key names
only). A write to a key (`Keyspace.touch`, the single write path, expiry and eviction
included) removes its entry and sends each of those clients an invalidation: a RESP3
push `>2 invalidate [key]`, or, through REDIRECT, a message on `__redis__:invalidate` to
a RESP2 client that subscribed to it. BCAST clients name key prefixes instead; the keys
written under a prefix during one event-loop turn are sent together once the turn's
commands ran, sorted as Redis' radix tree sorts them. FLUSHDB/FLUSHALL send a null
invalidation to every tracking client and empty the table.

An invalidation meant for the client whose command wrote the key waits until that
command's reply is built (after the whole EXEC for a transaction), as Redis' pending
keys do; other clients get theirs in their output at once, counted against their output
limits like any reply.

While no client tracks, nothing here runs: the databases' change hook is None, and a
command pays one attribute check. The table is bounded by `tracking-table-max-keys`: a
read that takes it over the bound evicts the oldest entries, invalidating them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client import Client
    from .registry import Command
    from .server import Server

# The channel a RESP2 client subscribes to in order to receive invalidations redirected
# to it, and the messages' fixed parts.
CHANNEL = b"__redis__:invalidate"
_PUSH_INVALIDATE = b">2\r\n$10\r\ninvalidate\r\n"
_MESSAGE_INVALIDATE = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
_NULLS = {2: b"$-1\r\n", 3: b"_\r\n"}
# Entries evicted per cron tick when the table is over its bound (after CONFIG SET).
CRON_EVICTIONS = 1000


class TrackingState:
    """One client's CLIENT TRACKING options (its Redis CLIENT_TRACKING_* flags)."""

    __slots__ = ("bcast", "optin", "optout", "noloop", "caching", "broken", "redirect",
                 "prefixes")

    def __init__(self) -> None:
        self.bcast = self.optin = self.optout = self.noloop = False
        self.caching = False  # CLIENT CACHING given for the next command
        self.broken = False  # the redirect client was gone when a message was due
        self.redirect = 0
        self.prefixes: list[bytes] = []  # BCAST prefixes, as registered

    def flags(self) -> list[bytes]:
        """CLIENT TRACKINGINFO's flags after `on`, in Redis' order."""
        flags = [b"on"]
        if self.bcast:
            flags.append(b"bcast")
        if self.optin:
            flags.append(b"optin")
            if self.caching:
                flags.append(b"caching-yes")
        if self.optout:
            flags.append(b"optout")
            if self.caching:
                flags.append(b"caching-no")
        if self.noloop:
            flags.append(b"noloop")
        if self.broken:
            flags.append(b"broken_redirect")
        return flags


class Subscriptions:
    """A client's channels and patterns (only the tracking channel is ever published to)."""

    __slots__ = ("channels", "patterns")

    def __init__(self) -> None:
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}

    def count(self) -> int:
        return len(self.channels) + len(self.patterns)


class _Prefix:
    """A BCAST prefix: its clients, and the keys written under it this turn (each with
    the client that wrote it last, for NOLOOP)."""

    __slots__ = ("clients", "keys")

    def __init__(self) -> None:
        self.clients: dict[Client, None] = {}
        self.keys: dict[bytes, Client | None] = {}


def command_keys(spec: Command, argv: list[bytes]) -> list[bytes]:
    """The keys a request names, from its command's key specs (Redis' getKeysFromCommand
    for index/range specs)."""
    keys = []
    argc = len(argv)
    for key_spec in spec.key_specs:
        first = key_spec.index
        last = argc + key_spec.lastkey if key_spec.lastkey < 0 else first + key_spec.lastkey
        keys += argv[first:min(last, argc - 1) + 1:key_spec.keystep]
    return keys


class Tracking:
    """The server's tracking table, BCAST prefixes and invalidation delivery."""

    def __init__(self, server: Server) -> None:
        self.server = server
        # key -> the id of the one client that read it, or a set of ids.
        self.table: OrderedDict[bytes, int | set[int]] = OrderedDict()
        self.items = 0  # ids over the whole table (Redis' TrackingTableTotalItems)
        self.clients: dict[Client, None] = {}  # clients with tracking on
        self.prefixes: dict[bytes, _Prefix] = {}
        self._lengths: dict[int, int] = {}  # prefix length -> how many prefixes have it
        # The tracking client whose command runs now, and what it will be sent after
        # its reply (a key, or None for a flush).
        self.current: Client | None = None
        self.pending: list[bytes | None] = []
        self._broadcast_scheduled = False
        # Other clients given an invalidation whose output is not written yet: written
        # before any reply goes out (`before_reply`), so never after the write's reply.
        self.unsent: list[Client] = []
        self.undelivered = False  # a broadcast or an `unsent` client waits
        self._delivering = False
        self.max_keys = server.config["tracking-table-max-keys"]

    # -- CLIENT TRACKING ON/OFF ---------------------------------------------------------

    def enable(self, client: Client, redirect: int, bcast: bool, optin: bool, optout: bool,
               noloop: bool, prefixes: list[bytes]) -> None:
        state = client.tracking
        if state is None:
            state = client.tracking = TrackingState()
            self.clients[client] = None
            if len(self.clients) == 1:
                self._hook(True)
        state.broken = False
        state.redirect = redirect
        state.optin, state.optout, state.noloop = optin, optout, noloop
        state.bcast = bcast
        if bcast:
            for prefix in prefixes or [b""]:
                self._add_prefix(client, state, prefix)

    def disable(self, client: Client) -> None:
        state = client.tracking
        if state is None:
            return
        for prefix in state.prefixes:
            entry = self.prefixes[prefix]
            del entry.clients[client]
            if not entry.clients:
                del self.prefixes[prefix]
                self._lengths[len(prefix)] -= 1
                if not self._lengths[len(prefix)]:
                    del self._lengths[len(prefix)]
        client.tracking = None
        del self.clients[client]
        if not self.clients:
            # Nobody can be sent an invalidation any more: forget the keys, so that
            # writes cost nothing again (Redis keeps them; see the architecture notes).
            self.table = OrderedDict()
            self.items = 0
            self._hook(False)

    def _add_prefix(self, client: Client, state: TrackingState, prefix: bytes) -> None:
        entry = self.prefixes.get(prefix)
        if entry is None:
            entry = self.prefixes[prefix] = _Prefix()
            self._lengths[len(prefix)] = self._lengths.get(len(prefix), 0) + 1
        if client not in entry.clients:
            entry.clients[client] = None
            state.prefixes.append(prefix)

    def _hook(self, on: bool) -> None:
        """Have every database report its changes to the table, or stop doing so."""
        hook = self.invalidate if on else None
        for db in self.server.databases:
            db.on_change = hook

    # -- reads and writes ---------------------------------------------------------------

    def after_command(self, client: Client, spec: Command, argv: list[bytes]) -> None:
        """After a command of a tracking client: remember the keys a read named, and,
        at the top level (not inside EXEC), send what waited for the reply and end a
        CLIENT CACHING that applied to this command."""
        state = client.tracking
        if state is not None and not state.bcast and spec.key_specs and \
                "readonly" in spec.flags and not (
                    (state.optin and not state.caching) or (state.optout and state.caching)):
            self._remember(client.id, command_keys(spec, argv))
        if self.server.databases.frozen:
            return  # a command inside EXEC: EXEC's own turn comes later
        self.settle(client, spec.parent is not None and spec.parent.name == "client")

    def refused(self, client: Client, spec: Command | None) -> None:
        """A refused command ends CLIENT CACHING too, unless it is a CLIENT command or
        is refused while queueing in MULTI (Redis' resetClient runs after every one)."""
        state = client.tracking
        if state is not None and (client.multi is None or (
                spec is not None and spec.name == "exec")) and (
                spec is None or spec.parent is None or spec.parent.name != "client"):
            state.caching = False

    def settle(self, client: Client, keeps_caching: bool = False) -> None:
        """The end of a top-level command (EXEC included): CLIENT CACHING applied to it
        (unless it is a CLIENT command, or one queued in MULTI), and the invalidations
        its writes owe its own client follow its reply."""
        state = client.tracking
        if state is not None and state.caching and client.multi is None and \
                not keeps_caching:
            state.caching = False
        if self.pending:
            pending, self.pending = self.pending, []
            for key in pending:
                self._deliver(client, _NULLS[client.resp] if key is None
                              else b"*1\r\n$%d\r\n%s\r\n" % (len(key), key))
        self.current = None

    def _remember(self, client_id: int, keys: list[bytes]) -> None:
        table = self.table
        for key in keys:
            ids = table.get(key)
            if ids is None:
                table[key] = client_id
                self.items += 1
            elif ids.__class__ is int:
                if ids != client_id:
                    table[key] = {ids, client_id}
                    self.items += 1
            elif client_id not in ids:
                ids.add(client_id)
                self.items += 1
        self.limit(len(keys))

    def limit(self, effort: int) -> None:
        """Evict the oldest entries over `tracking-table-max-keys` (at most `effort`
        of them), invalidating them as Redis' trackingLimitUsedSlots does."""
        maximum = self.max_keys
        table = self.table
        while maximum and len(table) > maximum and effort > 0:
            effort -= 1
            key = next(iter(table))
            self._invalidate_entry(key)

    def invalidate(self, key: bytes) -> None:
        """A key changed (the databases' change hook: Redis' trackingInvalidateKey)."""
        if self._lengths:
            self._note_for_broadcast(key)
        if key in self.table:
            self._invalidate_entry(key)

    def _invalidate_entry(self, key: bytes) -> None:
        ids = self.table.pop(key)
        if ids.__class__ is int:
            ids = (ids,)
        self.items -= len(ids)
        clients = self.server.clients
        current = self.current
        message = None
        for client_id in ids:
            target = clients.get(client_id)
            if target is None:
                continue
            state = target.tracking
            if state is None or state.bcast:
                continue
            if target is current:
                if not state.noloop:
                    self.pending.append(key)
                continue
            if message is None:
                message = b"*1\r\n$%d\r\n%s\r\n" % (len(key), key)
            self._deliver(target, message)

    def flushed(self) -> None:
        """FLUSHDB/FLUSHALL: a null invalidation to every tracking client; the table is
        emptied."""
        for client in list(self.clients):
            if client is self.current:
                self.pending.append(None)
            else:
                self._deliver(client, _NULLS[client.resp])
        self.table = OrderedDict()
        self.items = 0

    # -- BCAST --------------------------------------------------------------------------

    def _note_for_broadcast(self, key: bytes) -> None:
        prefixes = self.prefixes
        writer = self.current
        for length in self._lengths:
            if length <= len(key):
                entry = prefixes.get(key[:length])
                if entry is not None:
                    entry.keys[key] = writer
        if not self._broadcast_scheduled:
            self._broadcast_scheduled = self.undelivered = True
            self._later(self.before_reply)

    def broadcast(self) -> None:
        """Send each prefix's clients the keys written under it since the last call
        (Redis does this in beforeSleep), sorted; a NOLOOP client is not told of its own."""
        self._broadcast_scheduled = False
        for prefix in sorted(self.prefixes):
            entry = self.prefixes[prefix]
            if not entry.keys:
                continue
            keys = sorted(entry.keys)
            common = _array(keys)
            for client in list(entry.clients):
                state = client.tracking
                if state is not None and state.noloop:
                    own = [key for key in keys if entry.keys[key] is not client]
                    if own:
                        self._deliver(client, _array(own))
                else:
                    self._deliver(client, common)
            entry.keys = {}

    # -- delivery -----------------------------------------------------------------------

    def _deliver(self, client: Client, value: bytes) -> None:
        """Send an invalidation whose value part (an array of keys, or a null) is
        `value` to `client`, or to the client it redirects to (Redis'
        sendTrackingMessage)."""
        state = client.tracking
        redirect = state.redirect if state is not None else 0
        if redirect:
            target = self.server.clients.get(redirect)
            if target is None:
                if state is not None:
                    state.broken = True
                if client.resp == 3:
                    self.push(client, b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % redirect)
                return
            if target.resp == 3:
                self.push(target, _PUSH_INVALIDATE + value)
            elif target.subscriptions is not None:
                self.push(target, _MESSAGE_INVALIDATE + value)
            return
        if client.resp == 3:
            self.push(client, _PUSH_INVALIDATE + value)

    def push(self, client: Client, data: bytes) -> None:
        """Add an out-of-band message to a client's output. Another client's output is
        written at the next loop turn (the client whose command runs writes its own),
        and counts against its output buffer limits as replies do."""
        transport = client.transport
        if transport is None or transport.is_closing():
            return
        out = client.out
        if not out and client is not self.current:
            self.unsent.append(client)
            if not self.undelivered:
                self.undelivered = True
                self._later(self.before_reply)
        out += data
        if client is not self.current:
            self.server.output_limit_reached(client, time.monotonic())

    def before_reply(self) -> None:
        """Write every waiting invalidation (a broadcast, other clients' output) now.

        Called before any client's reply is written (and at the end of the loop turn):
        Redis puts invalidations into the other clients' buffers before beforeSleep
        writes any reply, so once a write's reply reaches its client, every other
        client's invalidation for it is already in that client's socket. A client cache
        in another process relies on it: it may not serve the old value after the
        writer's caller has seen the write return."""
        if self._delivering or not self.undelivered:
            return
        self._delivering = True
        try:
            if self._broadcast_scheduled:
                self.broadcast()
            unsent, self.unsent = self.unsent, []
            self.undelivered = False
            for client in unsent:
                client.flush()
        finally:
            self._delivering = False

    def _later(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this loop turn's work is done (at once without a loop)."""
        loop = self.server._loop
        if loop is None:
            callback()
        else:
            loop.call_soon(callback)

    def cron(self) -> None:
        if self.clients:
            self.limit(CRON_EVICTIONS)

    def client_gone(self, client: Client) -> None:
        if client.tracking is not None:
            self.disable(client)
        if self.current is client:
            self.current = None
            self.pending = []


def _array(keys: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(keys) + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)
