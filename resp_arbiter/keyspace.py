"""The data: tables (hash keys) with their fields, and the cursor scans over both.

Every change to the data goes through `Keyspace` methods, which call `Keyspace.touch`
with the key they changed. That single place is where WATCH invalidation, keyspace
statistics and (later) the append-only file hook in.
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator

# redis-server's hash-max-listpack-entries / hash-max-listpack-value defaults. While a
# hash is within both, Redis stores it as a listpack: insertion ordered, and HSCAN returns
# it whole with cursor 0. The arbiter reproduces that so replies match byte for byte.
LISTPACK_MAX_ENTRIES = 128
LISTPACK_MAX_VALUE = 64

_DEAD = object()


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
    """One hash key: its fields in insertion order, plus the scan index over them.

    `pinned` marks a stash table made by STASH.ENSURE or STASH.CLEAR: it stays when its
    last field goes, where a plain Redis hash disappears."""

    __slots__ = ("fields", "index", "listpack", "pinned")

    def __init__(self) -> None:
        self.fields: dict[bytes, bytes] = {}
        self.index = ScanIndex()
        self.listpack = True
        self.pinned = False

    def __len__(self) -> int:
        return len(self.fields)


class Keyspace:
    """All tables of the one database, and the single path every write takes."""

    __slots__ = ("tables", "index", "dirty", "_touch_hooks")

    def __init__(self) -> None:
        self.tables: dict[bytes, Table] = {}
        self.index = ScanIndex()
        self.dirty = 0
        self._touch_hooks: list[Callable[[bytes], None]] = []

    def on_touch(self, hook: Callable[[bytes], None]) -> None:
        """Call `hook(key)` after every change to `key` (WATCH, persistence)."""
        self._touch_hooks.append(hook)

    def touch(self, key: bytes) -> None:
        self.dirty += 1
        for hook in self._touch_hooks:
            hook(key)

    # -- tables -------------------------------------------------------------------------

    def table_for_write(self, key: bytes) -> Table:
        """The table at `key`, made if missing (its creation is announced by the write
        that follows)."""
        table = self.tables.get(key)
        if table is None:
            table = self.tables[key] = Table()
            self.index.add(key)
        return table

    def delete(self, key: bytes) -> bool:
        if self.tables.pop(key, None) is None:
            return False
        self.index.remove(key)
        self.touch(key)
        return True

    def rename(self, source: bytes, target: bytes) -> None:
        table = self.tables.pop(source)
        self.index.remove(source)
        if self.tables.pop(target, None) is not None:
            self.index.remove(target)
        self.tables[target] = table
        self.index.add(target)
        self.touch(source)
        self.touch(target)

    def flush(self) -> None:
        keys = list(self.tables)
        self.tables.clear()
        self.index.clear()
        for key in keys:
            self.touch(key)

    def ensure(self, key: bytes) -> bool:
        """Make `key` a pinned (persistent while empty) table; True if it was created."""
        created = key not in self.tables
        table = self.table_for_write(key)
        if created or not table.pinned:
            table.pinned = True
            self.touch(key)
        return created

    def clear(self, key: bytes) -> int:
        """Remove every field of `key` but keep it as a pinned table."""
        table = self.tables.get(key)
        if table is None:
            return 0
        removed = len(table.fields)
        table.fields.clear()
        table.index.clear()
        table.listpack = True
        table.pinned = True
        self.touch(key)
        return removed

    # -- fields -------------------------------------------------------------------------

    def set_fields(self, key: bytes, pairs: list[bytes], start: int) -> int:
        """HSET semantics for `pairs[start:]` (field, value, ...); returns new fields."""
        table = self.table_for_write(key)
        fields = table.fields
        index = table.index
        added = 0
        for i in range(start, len(pairs), 2):
            field = pairs[i]
            value = pairs[i + 1]
            if field not in fields:
                index.add(field)
                added += 1
            fields[field] = value
            if table.listpack and (len(field) > LISTPACK_MAX_VALUE
                                   or len(value) > LISTPACK_MAX_VALUE):
                table.listpack = False
        if table.listpack and len(fields) > LISTPACK_MAX_ENTRIES:
            table.listpack = False
        self.touch(key)
        return added

    def set_field(self, key: bytes, field: bytes, value: bytes) -> bool:
        """Set one field; True if it is new."""
        return self.set_fields(key, [field, value], 0) == 1

    def delete_fields(self, key: bytes, table: Table, names: list[bytes], start: int) -> int:
        """HDEL semantics; an unpinned table left empty is deleted, as Redis does."""
        fields = table.fields
        index = table.index
        removed = 0
        for i in range(start, len(names)):
            name = names[i]
            if name in fields:
                del fields[name]
                index.remove(name)
                removed += 1
        if removed:
            if not fields and not table.pinned:
                del self.tables[key]
                self.index.remove(key)
            self.touch(key)
        return removed

    def scan_keys(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        return self.index.scan(cursor, count)

    def random_key(self) -> bytes | None:
        return self.index.random_member() if self.tables else None

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.tables)
