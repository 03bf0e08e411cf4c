"""The data: tables (hash keys) with their fields, expiry, and the cursor scans.

Every change to the data goes through `Keyspace` methods, which end in `Keyspace.touch`
with the key they changed. That single place is where WATCH invalidation and keyspace
statistics hook in; command-level propagation (an append-only file) hangs on the
`write` flag in `Server.call`.

Reads go through `Keyspace.get`, which applies lazy expiry: a key or field whose time
has passed is deleted on access and never returned, counted or scanned. Active expiry
(`expire_cycle`) reclaims the rest in small time-bounded steps from the server cron.
"""

from __future__ import annotations

import heapq
import random
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Protocol

# redis-server's hash-max-listpack-entries / hash-max-listpack-value defaults. While a
# hash is within both, Redis stores it as a listpack: insertion ordered, and HSCAN returns
# it whole with cursor 0. The arbiter reproduces that so replies match byte for byte.
LISTPACK_MAX_ENTRIES = 512
LISTPACK_MAX_VALUE = 64
# Active expiry reclaims a table's due fields in batches of this size, so one table with
# many fields due at once cannot hold the loop past the cycle's time budget.
FIELDS_PER_STEP = 128

_DEAD = object()


def now_ms() -> int:
    """Unix time in milliseconds, the unit of every deadline in the keyspace."""
    return time.time_ns() // 1_000_000


class ScanIndex:
    """Insertion-ordered members with stable cursors, for SCAN-style iteration.

    Each member gets a sequence number when added; a cursor is the sequence number to
    resume from. Removal leaves a hole that is compacted away later, and compaction keeps
    sequence numbers, so an element present for a whole iteration is always returned,
    whatever is added or removed meanwhile. A scan call costs O(COUNT) (plus at most
    10 x COUNT holes, as Redis' empty buckets), never O(size).
    """

    __slots__ = ("_seq_of", "_slots", "_seqs", "_next_seq", "_dead")

    def __init__(self) -> None:
        self._seq_of: dict[bytes, int] = {}
        self._slots: list = []
        self._seqs = array("q")
        self._next_seq = 1
        self._dead = 0

    def add(self, member: bytes) -> None:
        seq = self._next_seq
        self._next_seq = seq + 1
        self._seq_of[member] = seq
        self._slots.append(member)
        self._seqs.append(seq)

    def remove(self, member: bytes) -> None:
        seq = self._seq_of.pop(member)
        self._slots[bisect_left(self._seqs, seq)] = _DEAD
        self._dead += 1
        if self._dead > 32 and self._dead * 2 > len(self._slots):
            self._compact()

    def clear(self) -> None:
        self._seq_of.clear()
        self._slots.clear()
        self._seqs = array("q")
        self._dead = 0

    def _compact(self) -> None:
        slots, seqs = self._slots, self._seqs
        keep = [i for i, member in enumerate(slots) if member is not _DEAD]
        self._slots = [slots[i] for i in keep]
        self._seqs = array("q", (seqs[i] for i in keep))
        self._dead = 0

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """Up to `count` members from `cursor` on; returns (next cursor, members)."""
        slots, seqs = self._slots, self._seqs
        i = bisect_left(seqs, cursor) if cursor else 0
        end = len(slots)
        budget = count * 10
        found: list[bytes] = []
        while i < end and len(found) < count and budget > 0:
            member = slots[i]
            if member is not _DEAD:
                found.append(member)
            i += 1
            budget -= 1
        return (seqs[i] if i < end else 0), found

    def random_member(self) -> bytes:
        """A uniformly random member; the index must not be empty."""
        slots = self._slots
        while True:
            member = slots[random.randrange(len(slots))]
            if member is not _DEAD:
                return member

    def __len__(self) -> int:
        return len(self._seq_of)


class Table:
    """One hash key: its fields in insertion order, the scan index over them, and TTLs.

    `pinned` marks a stash table made by STASH.ENSURE or STASH.CLEAR: it stays when its
    last field goes, where a plain Redis hash disappears. `expires_at` is the key's
    deadline (Unix ms, 0 for none); `field_ttl` maps fields to their deadlines, with
    `field_heap` ordering them for reclamation (entries of replaced deadlines are
    skipped when they surface)."""

    __slots__ = ("fields", "index", "listpack", "pinned", "expires_at", "field_ttl",
                 "field_heap", "scheduled")

    def __init__(self) -> None:
        self.fields: dict[bytes, bytes] = {}
        self.index = ScanIndex()
        self.listpack = True
        self.pinned = False
        self.expires_at = 0
        self.field_ttl: dict[bytes, int] = {}
        self.field_heap: list[tuple[int, bytes]] = []
        # The deadline under which the keyspace's expiry heap will next visit the fields.
        self.scheduled = 0

    def __len__(self) -> int:
        return len(self.fields)


class Watcher(Protocol):
    """What WATCH needs of a client: a flag to raise when a watched key changes."""

    dirty_cas: bool


class Keyspace:
    """All tables of the one database, and the single path every write takes."""

    __slots__ = ("tables", "index", "dirty", "watchers", "clock", "expiry_heap",
                 "expired_keys", "expired_fields", "snapshot", "frozen", "on_reclaim")

    def __init__(self) -> None:
        self.tables: dict[bytes, Table] = {}
        self.index = ScanIndex()
        self.dirty = 0
        self.watchers: dict[bytes, set[Watcher]] = {}
        self.clock = now_ms
        # One time for a whole command (or a whole EXEC), as Redis' command time snapshot:
        # `Server.execute` clears it, `now()` takes it on first use.
        self.snapshot = 0
        self.frozen = False
        # (deadline, key) for every key TTL or field TTL set; stale entries are skipped.
        self.expiry_heap: list[tuple[int, bytes]] = []
        self.expired_keys = 0
        self.expired_fields = 0
        # Told of every deletion no command asked for (expiry): fields None for the key.
        # The append-only file logs them as DEL / HDEL.
        self.on_reclaim: Callable[[bytes, list[bytes] | None], None] | None = None

    def now(self) -> int:
        """The current command's time, in Unix ms."""
        if not self.snapshot:
            self.snapshot = self.clock()
        return self.snapshot

    def new_command(self) -> None:
        """Start a command: it will see a fresh time, unless inside EXEC."""
        if not self.frozen:
            self.snapshot = 0

    def touch(self, key: bytes) -> None:
        """Record a change to `key`: the dirty counter and every client WATCHing it."""
        self.dirty += 1
        if self.watchers:
            watchers = self.watchers.get(key)
            if watchers:
                for watcher in watchers:
                    watcher.dirty_cas = True

    # -- reads --------------------------------------------------------------------------

    def get(self, key: bytes) -> Table | None:
        """The live table at `key`, after lazy expiry of the key and its fields."""
        table = self.tables.get(key)
        if table is not None and (table.expires_at or table.field_ttl):
            return self._expire_if_due(key, table, self.now())
        return table

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def _expire_if_due(self, key: bytes, table: Table, now: int,
                       limit: int = -1) -> Table | None:
        """Delete the key if its time has passed, else its due fields (at most `limit`
        of them when `limit` >= 0). Returns the table if it still exists."""
        if table.expires_at and table.expires_at <= now:
            self._remove_table(key)
            self.expired_keys += 1
            if self.on_reclaim is not None:
                self.on_reclaim(key, None)
            self.touch(key)
            return None
        heap = table.field_heap
        if heap and heap[0][0] <= now:
            ttl = table.field_ttl
            gone = []
            while heap and heap[0][0] <= now and len(gone) != limit:
                deadline, field = heapq.heappop(heap)
                if ttl.get(field) == deadline:
                    del ttl[field]
                    gone.append(field)
            if gone:
                self.expired_fields += len(gone)
                if self.on_reclaim is not None:
                    self.on_reclaim(key, gone)
                self._drop_fields(key, table, gone)
                if key not in self.tables:
                    return None
        return table

    def __iter__(self) -> Iterator[bytes]:
        """Live keys (expired ones are reclaimed as they are met)."""
        for key in list(self.tables):
            if self.get(key) is not None:
                yield key

    def live_count(self) -> int:
        """DBSIZE: the number of keys, after reclaiming every key already due."""
        self.expire_cycle(budget=None)
        return len(self.tables)

    # -- tables -------------------------------------------------------------------------

    def table_for_write(self, key: bytes) -> Table:
        """The table at `key`, made if missing (the write that follows announces it)."""
        table = self.get(key)
        if table is None:
            table = self.tables[key] = Table()
            self.index.add(key)
        return table

    def _remove_table(self, key: bytes) -> None:
        del self.tables[key]
        self.index.remove(key)

    def delete(self, key: bytes) -> bool:
        if self.get(key) is None:
            return False
        self._remove_table(key)
        self.touch(key)
        return True

    def rename(self, source: bytes, target: bytes) -> None:
        """Move the table (its TTLs included) from `source`, which must be live."""
        table = self.tables.pop(source)
        self.index.remove(source)
        if self.tables.pop(target, None) is not None:
            self.index.remove(target)
        self.tables[target] = table
        self.index.add(target)
        if table.expires_at:
            self._schedule(table.expires_at, target)
        if table.field_heap:
            self._schedule_fields(target, table)
        self.touch(source)
        self.touch(target)

    def flush(self) -> None:
        for key in list(self.watchers):
            if key in self.tables:
                self.touch(key)
        self.dirty += len(self.tables)
        self.tables.clear()
        self.index.clear()
        self.expiry_heap.clear()

    def ensure(self, key: bytes) -> bool:
        """Make `key` a pinned (persistent while empty) table; True if it was created."""
        created = self.get(key) is None
        table = self.table_for_write(key)
        if created or not table.pinned:
            table.pinned = True
            self.touch(key)
        return created

    def clear(self, key: bytes) -> int:
        """Remove every field of `key` but keep it as a pinned table."""
        table = self.get(key)
        if table is None:
            return 0
        removed = len(table.fields)
        table.fields.clear()
        table.index.clear()
        table.field_ttl.clear()
        table.field_heap.clear()
        table.listpack = True
        table.pinned = True
        self.touch(key)
        return removed

    # -- fields -------------------------------------------------------------------------

    def set_fields(self, key: bytes, pairs: list[bytes], start: int,
                   keep_ttl: bool = False) -> int:
        """HSET semantics for `pairs[start:]` (field, value, ...); returns new fields.

        Overwriting a field clears its TTL, as in Redis, unless `keep_ttl`."""
        table = self.table_for_write(key)
        fields = table.fields
        index = table.index
        ttl = table.field_ttl
        added = 0
        for i in range(start, len(pairs), 2):
            field = pairs[i]
            value = pairs[i + 1]
            if field not in fields:
                index.add(field)
                added += 1
            elif ttl and not keep_ttl:
                ttl.pop(field, None)
            fields[field] = value
            if table.listpack and (len(field) > LISTPACK_MAX_VALUE
                                   or len(value) > LISTPACK_MAX_VALUE):
                table.listpack = False
        if table.listpack and len(fields) > LISTPACK_MAX_ENTRIES:
            table.listpack = False
        self.touch(key)
        return added

    def set_field(self, key: bytes, field: bytes, value: bytes, keep_ttl: bool = False) -> bool:
        """Set one field; True if it is new."""
        return self.set_fields(key, [field, value], 0, keep_ttl) == 1

    def delete_fields(self, key: bytes, table: Table, names: list[bytes], start: int) -> int:
        """HDEL semantics; an unpinned table left empty is deleted, as Redis does."""
        fields = table.fields
        gone = [name for name in dict.fromkeys(names[start:]) if name in fields]
        if gone:
            ttl = table.field_ttl
            if ttl:
                for name in gone:
                    ttl.pop(name, None)
            self._drop_fields(key, table, gone)
        return len(gone)

    def _drop_fields(self, key: bytes, table: Table, names: list[bytes]) -> None:
        fields = table.fields
        index = table.index
        for name in names:
            if name in fields:
                del fields[name]
                index.remove(name)
        if not fields and not table.pinned:
            self._remove_table(key)
        self.touch(key)

    # -- expiry -------------------------------------------------------------------------

    def set_expiry(self, key: bytes, table: Table, deadline: int) -> None:
        """Give `key` a deadline (Unix ms); one already past deletes it at once."""
        if deadline <= self.now():
            self._remove_table(key)
            self.touch(key)
            return
        table.expires_at = deadline
        self._schedule(deadline, key)
        self.touch(key)

    def persist(self, key: bytes, table: Table) -> bool:
        if not table.expires_at:
            return False
        table.expires_at = 0
        self.touch(key)
        return True

    def set_field_expiry(self, key: bytes, table: Table, field: bytes, deadline: int) -> None:
        """Give `field` a deadline; a past one deletes the field (and maybe the table)."""
        if deadline <= self.now():
            table.field_ttl.pop(field, None)
            self.expired_fields += 1  # Redis counts these in expired_subkeys too
            self._drop_fields(key, table, [field])
            return
        table.field_ttl[field] = deadline
        heapq.heappush(table.field_heap, (deadline, field))
        if not table.scheduled or deadline < table.scheduled:
            self._schedule_fields(key, table)
        self.touch(key)

    def persist_field(self, key: bytes, table: Table, field: bytes) -> bool:
        if table.field_ttl.pop(field, None) is None:
            return False
        self.touch(key)
        return True

    def _schedule(self, deadline: int, key: bytes) -> None:
        heap = self.expiry_heap
        heapq.heappush(heap, (deadline, key))
        if len(heap) > 2 * len(self.tables) + 4096:
            self._rebuild_expiry_heap()

    def _schedule_fields(self, key: bytes, table: Table) -> None:
        """Register the table's earliest field deadline with the expiry heap."""
        table.scheduled = table.field_heap[0][0]
        self._schedule(table.scheduled, key)

    def _rebuild_expiry_heap(self) -> None:
        """Drop the entries of deadlines that were replaced or whose key went away
        (amortised: it runs after at least 4096 + len(tables) new entries)."""
        heap = []
        for key, table in self.tables.items():
            if table.expires_at:
                heap.append((table.expires_at, key))
            if table.field_heap:
                table.scheduled = table.field_heap[0][0]
                heap.append((table.scheduled, key))
        heapq.heapify(heap)
        self.expiry_heap = heap

    def expire_cycle(self, budget: float | None) -> int:
        """Reclaim keys and fields whose time has come, for at most `budget` seconds
        (None: until nothing due is left). Returns how many deadlines it processed."""
        now = self.clock()
        stop = None if budget is None else time.perf_counter() + budget
        done = 0
        while self.expiry_heap and self.expiry_heap[0][0] <= now:
            deadline, key = heapq.heappop(self.expiry_heap)
            table = self.tables.get(key)
            if table is not None and self._expire_if_due(
                    key, table, now, FIELDS_PER_STEP) is not None \
                    and deadline == table.scheduled:
                if table.field_heap:
                    self._schedule_fields(key, table)
                else:
                    table.scheduled = 0
            done += 1
            if stop is not None and not done % 8 and time.perf_counter() >= stop:
                break
        return done

    # -- scans --------------------------------------------------------------------------

    def scan_keys(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        next_cursor, keys = self.index.scan(cursor, count)
        return next_cursor, [key for key in keys if self.get(key) is not None]

    def random_key(self) -> bytes | None:
        while self.tables:
            key = self.index.random_member()
            if self.get(key) is not None:
                return key
        return None

    # -- WATCH --------------------------------------------------------------------------

    def watch(self, key: bytes, watcher: Watcher) -> None:
        self.watchers.setdefault(key, set()).add(watcher)

    def unwatch(self, key: bytes, watcher: Watcher) -> None:
        watchers = self.watchers.get(key)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self.watchers[key]
