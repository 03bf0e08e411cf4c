"""The data: tables (hash keys) with their fields, strings, expiry, and the cursor scans.

A key holds a hash (a small one packed in one `Packed` bytes object, a larger one a
`Table` of containers) or a string (its immutable bytes, nothing else). Its deadline
and access word are kept by the keyspace beside it, not in an object of its own.
Commands of one type look keys up with `get_hash` / `get_string`, which answer Redis'
WRONGTYPE for the other type; `Table` and `Packed` offer commands the same reads.

Every change to the data goes through `Keyspace` methods, which end in `Keyspace.touch`
with the key they changed. That single place is where WATCH invalidation and keyspace
statistics hook in; command-level propagation (an append-only file) hangs on the
`write` flag in `Server.call`.

Reads go through `Keyspace.get`, which applies lazy expiry: a key or field whose time
has passed is deleted on access and never returned or scanned. Active expiry
(`expire_cycle`) reclaims the rest in small time-bounded steps from the server cron.
`get` also records the access for LRU/LFU eviction; `peek` reads without doing so, as
Redis' LOOKUP_NOTOUCH (OBJECT, MEMORY USAGE, EXISTS, TYPE, SCAN, internal lookups).

Counters kept on every change answer DBSIZE and INFO without walking the tables: the
keys (as in Redis, those due but not reclaimed yet included), the keys with a TTL
(`volatile`, also what volatile-* eviction samples), the keys with field TTLs
(`subexpiry`) and the estimated bytes of the data (`data_bytes`, each table's share in
`Table.size`; see `memory`).
"""

from __future__ import annotations

import heapq
import random
import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, ItemsView, Iterable, Iterator
from itertools import islice
from typing import Protocol

from . import errors
from .memory import (
    FIELD_OVERHEAD,
    FIELD_TTL_OVERHEAD,
    KEY_OVERHEAD,
    KEY_TTL_OVERHEAD,
    PACKED_OVERHEAD,
    STRING_OVERHEAD,
    LazyFree,
    drain_dict,
    drain_sequence,
)
from .protocol import _strict_int

# redis-server's hash-max-listpack-entries / hash-max-listpack-value defaults. While a
# hash is within both, Redis stores it as a listpack: insertion ordered, and HSCAN returns
# it whole with cursor 0. The arbiter reproduces that so replies match byte for byte.
LISTPACK_MAX_ENTRIES = 512
LISTPACK_MAX_VALUE = 64
# Active expiry reclaims a table's due fields in batches of this size, so one table with
# many fields due at once cannot hold the loop past the cycle's time budget.
FIELDS_PER_STEP = 128
# Keys a rebuild of the expiry heap covers per deadline pushed.
HEAP_REBUILD_STEP = 32

# A member's place in a ScanIndex: the high 32 bits of its hash, signed, so that an
# array of 4-byte integers holds them. Cursors are these moved to the unsigned range,
# as SCAN cursors are unsigned.
_ORDER_SHIFT = 32
_ORDER_TYPE = "i"
_HASH_OFFSET = 1 << 31
# Redis' LFU_INIT_VAL: the counter a new key starts with, so it is not evicted at once.
LFU_INIT_VAL = 5


def now_ms() -> int:
    """Unix time in milliseconds, the unit of every deadline in the keyspace."""
    return time.time_ns() // 1_000_000


class ScanIndex:
    """Members in the order of their hash, with stable cursors, for SCAN-style iteration.

    A cursor is a position in that order (the high 32 bits of the hash, offset to be
    unsigned), so a scan visits members by ascending hash. A member's hash never
    changes, so an element present for a whole iteration is always returned, and never
    twice, whatever is added or removed meanwhile (Redis walks its buckets in an order
    with the same property). Members with equal orders (a million members share about a
    hundred) are returned by the same call.

    The members sit in sorted chunks of at most 2 x CHUNK (split when larger, merged
    with a neighbour when small), each with an array of their orders and its largest
    order beside them for bisection: an add or a remove costs O(log n) comparisons and a
    move of at most one chunk, a scan call O(COUNT). A member costs 12 bytes here (its
    slot and its order). A random pick draws a chunk and a slot up to the largest chunk
    size until the slot is taken: uniform, and a few draws on average, since a chunk
    below a quarter of CHUNK merges with its neighbour unless that one is full.

    An index made `with_words` also keeps one integer per member beside its hash (8
    bytes more): the keyspace keeps each key's access word there, so that a key needs
    no object of its own to hold it (`word`, `set_word`, found by the same bisection).
    """

    __slots__ = ("_chunks", "_hashes", "_maxes", "_len", "_words")

    CHUNK = 256

    def __init__(self, with_words: bool = False) -> None:
        self._chunks: list[list[bytes]] = []
        self._hashes: list[array] = []  # each chunk's members' hashes, ascending
        self._maxes: list[int] = []  # each chunk's largest hash
        self._len = 0
        # Each chunk's members' words, when the index keeps them.
        self._words: list[array] | None = [] if with_words else None

    def add(self, member: bytes, word: int = 0) -> None:
        order = hash(member) >> _ORDER_SHIFT
        maxes = self._maxes
        words = self._words
        self._len += 1
        if not maxes:
            self._chunks.append([member])
            self._hashes.append(array(_ORDER_TYPE, (order,)))
            if words is not None:
                words.append(array("q", (word,)))
            maxes.append(order)
            return
        i = bisect_left(maxes, order)
        if i == len(maxes):
            i -= 1
            maxes[i] = order
        hashes = self._hashes[i]
        j = bisect_right(hashes, order)
        hashes.insert(j, order)
        chunk = self._chunks[i]
        chunk.insert(j, member)
        if words is not None:
            words[i].insert(j, word)
        if len(chunk) > 2 * self.CHUNK:
            half = len(chunk) // 2
            self._chunks.insert(i + 1, chunk[half:])
            self._hashes.insert(i + 1, hashes[half:])
            del chunk[half:], hashes[half:]
            if words is not None:
                words.insert(i + 1, words[i][half:])
                del words[i][half:]
            maxes.insert(i, hashes[-1])

    def _find(self, member: bytes) -> tuple[int, int]:
        """(chunk, slot) of `member`; KeyError if it is not a member."""
        order = hash(member) >> _ORDER_SHIFT
        maxes = self._maxes
        i = bisect_left(maxes, order)
        while i < len(maxes):  # equal hashes may continue in the next chunk
            hashes, chunk = self._hashes[i], self._chunks[i]
            j = bisect_left(hashes, order)
            end = bisect_right(hashes, order, j)
            for k in range(j, end):
                if chunk[k] == member:
                    return i, k
            if end < len(hashes):
                break
            i += 1
        raise KeyError(member)

    def remove(self, member: bytes) -> int:
        """Remove `member`; returns its word (0 in an index without words)."""
        i, k = self._find(member)
        del self._chunks[i][k], self._hashes[i][k]
        word = 0
        if self._words is not None:
            word = self._words[i].pop(k)
        self._len -= 1
        self._settle(i)
        return word

    def word(self, member: bytes) -> int:
        """The word kept for `member` (KeyError if it is not a member)."""
        i, k = self._find(member)
        return self._words[i][k]

    def set_word(self, member: bytes, word: int) -> None:
        i, k = self._find(member)
        self._words[i][k] = word

    def word_slot(self, member: bytes) -> tuple[array, int]:
        """The array holding `member`'s word and its position there, to read and
        write it with one search."""
        i, k = self._find(member)
        return self._words[i], k

    def _settle(self, i: int) -> None:
        """After a removal from chunk `i`: drop it if empty, merge it with a neighbour
        if small, keep its largest hash right."""
        chunks, hashes, maxes, words = self._chunks, self._hashes, self._maxes, self._words
        if not chunks[i]:
            del chunks[i], hashes[i], maxes[i]
            if words is not None:
                del words[i]
            return
        maxes[i] = hashes[i][-1]
        if len(chunks[i]) < self.CHUNK // 4 and len(chunks) > 1:
            if i == len(chunks) - 1:
                i -= 1
            if len(chunks[i]) + len(chunks[i + 1]) <= 2 * self.CHUNK:
                chunks[i] += chunks[i + 1]
                hashes[i] += hashes[i + 1]
                maxes[i] = maxes[i + 1]
                del chunks[i + 1], hashes[i + 1], maxes[i + 1]
                if words is not None:
                    words[i] += words[i + 1]
                    del words[i + 1]

    def drain(self) -> Iterator[int]:
        """Empty the index in bounded steps (see `memory.LazyFree`)."""
        for chunk in self._chunks:
            yield from drain_sequence(chunk)
        self._chunks.clear()
        self._hashes.clear()
        self._maxes.clear()
        if self._words is not None:
            self._words.clear()
        self._len = 0

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """Up to `count` members from `cursor` on (more when the last one's hash is
        shared); returns (next cursor, members), the cursor 0 once nothing is left."""
        start = cursor - _HASH_OFFSET
        count = max(count, 1)
        chunks, all_hashes = self._chunks, self._hashes
        i = bisect_left(self._maxes, start)
        if i == len(chunks):
            return 0, []
        j = bisect_left(all_hashes[i], start)
        found: list[bytes] = []
        while True:
            chunk = chunks[i]
            taken = chunk[j:j + count - len(found)]
            found += taken
            j += len(taken)
            last = all_hashes[i][j - 1]
            if j == len(chunk):
                i += 1
                j = 0
                if i == len(chunks):
                    return 0, found
            if len(found) >= count:
                break
        while all_hashes[i][j] == last:  # the rest of the last hash's members
            found.append(chunks[i][j])
            j += 1
            if j == len(chunks[i]):
                i += 1
                j = 0
                if i == len(chunks):
                    return 0, found
        return last + 1 + _HASH_OFFSET, found

    def random_member(self) -> bytes:
        """A uniformly random member; the index must not be empty."""
        chunks = self._chunks
        if len(chunks) == 1:
            return random.choice(chunks[0])
        slots = 2 * self.CHUNK  # no chunk holds more
        while True:
            chunk = chunks[random.randrange(len(chunks))]
            slot = random.randrange(slots)
            if slot < len(chunk):
                return chunk[slot]

    def __len__(self) -> int:
        return self._len


class _NoTTLs(dict):
    """The field TTLs of a table that has none: one shared empty dict that refuses
    changes, so that a small table costs no containers beyond its field dict (the first
    field TTL gives it a dict and a heap of its own). Reads are dict's own."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("the shared empty field-TTL dict is read-only")

    __setitem__ = __delitem__ = pop = popitem = setdefault = update = clear = _refuse

    def __copy__(self) -> _NoTTLs:
        return self

    def __deepcopy__(self, memo: dict) -> _NoTTLs:
        return self

    def __reduce__(self) -> str:
        return "_NO_TTLS"


_NO_TTLS = _NoTTLs()
_NO_HEAP: tuple = ()


class Table:
    """One hash key kept in containers: its fields in insertion order, the scan index
    over them, and field TTLs. A small hash without field TTLs is a `Packed` instead.

    `pinned` marks a stash table made by STASH.ENSURE or STASH.CLEAR: it stays when its
    last field goes, where a plain Redis hash disappears. `field_ttl` maps fields to
    their deadlines, with `field_heap` ordering them for reclamation (entries of
    replaced deadlines are skipped when they surface). `size` is the value's estimated
    bytes (fields and field TTLs). The key's own deadline and access word are kept by
    the keyspace (`Keyspace.deadlines`, the words of its index), as for every value.

    A table Redis would keep as a listpack has no scan index (`index` is None): HSCAN
    returns it whole and a random pick walks at most 512 fields. The index is built
    when the table outgrows the listpack limits, as Redis converts to a hash table."""

    __slots__ = ("fields", "index", "listpack", "pinned", "field_ttl", "field_heap",
                 "scheduled", "size")

    def __init__(self) -> None:
        self.fields: dict[bytes, bytes] = {}
        self.index: ScanIndex | None = None
        self.listpack = True
        self.pinned = False
        self.field_ttl: dict[bytes, int] = _NO_TTLS
        self.field_heap: list[tuple[int, bytes]] | tuple = _NO_HEAP
        # The deadline under which the keyspace's expiry heap will next visit the fields.
        self.scheduled = 0
        self.size = 0

    # Reads for commands, so that none depends on how fields and TTLs are stored. Kept
    # to one expression each: HGET and HEXISTS run through them. `Packed` has the same.

    def __len__(self) -> int:
        return len(self.fields)

    def value(self, field: bytes) -> bytes | None:
        """The field's value, None if it has none."""
        return self.fields.get(field)

    def has(self, field: bytes) -> bool:
        return field in self.fields

    def values_of(self, names: list[bytes]) -> list[bytes | None]:
        """The values of `names` in order, None for a missing one (one call for all)."""
        get = self.fields.get
        return [get(name) for name in names]

    def names(self) -> list[bytes]:
        """The field names, in insertion order."""
        return list(self.fields)

    def values(self) -> list[bytes]:
        return list(self.fields.values())

    def items(self) -> ItemsView[bytes, bytes]:
        """(field, value) pairs, a live sized view."""
        return self.fields.items()

    def deadline(self, field: bytes) -> int | None:
        """The field's deadline (Unix ms), None if it has no TTL."""
        return self.field_ttl.get(field)

    def deadlines(self) -> ItemsView[bytes, int]:
        """(field, deadline) for every field with a TTL."""
        return self.field_ttl.items()

    def encoding(self) -> bytes:
        """The encoding Redis would report (OBJECT ENCODING)."""
        return b"listpack" if self.listpack else b"hashtable"

    def drain(self) -> Iterator[int]:
        """Empty the table in bounded steps (see `memory.LazyFree`)."""
        yield from drain_dict(self.fields)
        if self.field_ttl:
            yield from drain_dict(self.field_ttl)
        if self.index is not None:
            yield from self.index.drain()
        if self.field_heap:
            yield from drain_sequence(self.field_heap)

    def build_index(self) -> None:
        """Give the table its scan index, once it is no longer listpack-sized."""
        index = self.index = ScanIndex()
        for name in self.fields:
            index.add(name)


# A hash of at most this many fields, each name and value at most LISTPACK_MAX_VALUE
# bytes, with no field TTL and not pinned, is kept packed in one bytes object.
PACKED_MAX_FIELDS = 16
# The one-byte lengths of a packed hash, made once.
_LENGTHS = [bytes((length,)) for length in range(256)]


class Packed(bytes):
    """A small hash packed in one bytes object, as Redis' listpack: the number of
    fields, then for each field in insertion order its name's length, the name, its
    value's length, the value (lengths in one byte: nothing longer than
    LISTPACK_MAX_VALUE is packed). It costs one object beside its key, where a `Table`
    costs three containers; reads walk it (at most PACKED_MAX_FIELDS fields) and every
    write builds a new one (see `Keyspace.set_fields`). It has `Table`'s reads, so
    commands need not know which of the two they hold; OBJECT ENCODING is `listpack`."""

    __slots__ = ()

    # What the key-level code reads of any hash: a packed one has none of these.
    listpack = True
    pinned = False
    index = None
    field_ttl = _NO_TTLS
    field_heap = _NO_HEAP
    scheduled = 0

    @classmethod
    def pack(cls, pairs: Iterable[tuple[bytes, bytes]], count: int) -> Packed:
        """Pack `count` (name, value) pairs, each within LISTPACK_MAX_VALUE bytes."""
        lengths = _LENGTHS
        parts = [lengths[count]]
        for name, value in pairs:
            parts += (lengths[len(name)], name, lengths[len(value)], value)
        return cls(b"".join(parts))

    def __len__(self) -> int:
        return self[0]

    @classmethod
    def single(cls, field: bytes, value: bytes) -> Packed:
        """A hash of one field (both within LISTPACK_MAX_VALUE bytes)."""
        return cls(b"".join((b"\x01", _LENGTHS[len(field)], field, _LENGTHS[len(value)],
                             value)))

    def _value_after_first(self, field: bytes, width: int) -> int:
        """Where the value of `field` (`width` bytes long), if it is not the first
        field, starts: its length byte; -1 if the hash has no such field. (Callers look
        at the first field themselves, with no loop: most small hashes have one.)"""
        at = 2 + self[1]
        at += 1 + self[at]
        for _ in range(self[0] - 1):
            length = self[at]
            if length == width and self.startswith(field, at + 1):
                return at + 1 + length
            at += 1 + length
            at += 1 + self[at]
        return -1

    def value(self, field: bytes) -> bytes | None:
        width = len(field)
        if self[2:2 + width] == field and self[1] == width:
            return self[width + 3:width + 3 + self[width + 2]]
        at = self._value_after_first(field, width)
        return None if at < 0 else self[at + 1:at + 1 + self[at]]

    def put(self, field: bytes, value: bytes) -> tuple[Packed, bool, int] | None:
        """This hash with `field` set to `value`, whether the field is new and how many
        bytes the hash grew; None when the result could not be packed."""
        size = len(value)
        if size > LISTPACK_MAX_VALUE:
            return None
        width = len(field)
        if self[2:2 + width] == field and self[1] == width:
            at = width + 2
        else:
            at = self._value_after_first(field, width)
        if at >= 0:
            old = self[at]
            return Packed(b"".join((self[:at], _LENGTHS[size], value,
                                    self[at + 1 + old:]))), False, size - old
        count = self[0]
        if count == PACKED_MAX_FIELDS or width > LISTPACK_MAX_VALUE:
            return None
        return Packed(b"".join((_LENGTHS[count + 1], self[1:], _LENGTHS[width], field,
                                _LENGTHS[size], value))), True, 2 + width + size

    def has(self, field: bytes) -> bool:
        return self.value(field) is not None

    def values_of(self, names: list[bytes]) -> list[bytes | None]:
        fields = self.fields
        return [fields.get(name) for name in names]

    def items(self) -> list[tuple[bytes, bytes]]:
        """(field, value) pairs in insertion order."""
        pairs = []
        at = 1
        for _ in range(self[0]):
            end = at + 1 + self[at]
            name = self[at + 1:end]
            at = end + 1 + self[end]
            pairs.append((name, self[end + 1:at]))
        return pairs

    @property
    def fields(self) -> dict[bytes, bytes]:
        """The fields as a new dict, in insertion order."""
        return dict(self.items())

    def names(self) -> list[bytes]:
        return [name for name, _ in self.items()]

    def values(self) -> list[bytes]:
        return [value for _, value in self.items()]

    def deadline(self, field: bytes) -> int | None:
        return None

    def deadlines(self) -> tuple:
        return ()

    def encoding(self) -> bytes:
        return b"listpack"

    def __repr__(self) -> str:
        return f"Packed({self.items()!r})"


def packable(pairs: dict[bytes, bytes]) -> bool:
    """Whether a hash of these fields (and no field TTL) may be kept as a `Packed`."""
    return len(pairs) <= PACKED_MAX_FIELDS and all(
        len(name) <= LISTPACK_MAX_VALUE and len(value) <= LISTPACK_MAX_VALUE
        for name, value in pairs.items())


# Redis' OBJ_SHARED_INTEGERS and OBJ_ENCODING_EMBSTR_SIZE_LIMIT.
SHARED_INTEGERS = 10_000
EMBSTR_SIZE_LIMIT = 44


# A string key's value is stored as it is, as immutable bytes (a copy shares it): no
# object of its own beside its key. The exact type records how Redis would have made
# the value, which decides OBJECT ENCODING: plain `bytes` is a value Redis passes through
# tryObjectEncoding (SET, GETSET, MSET, ...: `int` for a canonical 64-bit integer,
# `embstr` up to 44 bytes, else `raw`); the two subclasses below are the exceptions.


class BuiltStr(bytes):
    """A value Redis makes with createStringObject and stores as it is (INCRBYFLOAT's
    result): `embstr` up to 44 bytes, else `raw`, even when it reads as an integer."""

    __slots__ = ()


class RawStr(bytes):
    """A value Redis changed in place (APPEND to or SETRANGE in an existing string, a
    string made by SETRANGE): always `raw`."""

    __slots__ = ()


Value = Table | Packed | bytes


def is_hash(value: Value) -> bool:
    """Whether a stored value is a hash (else it is a string)."""
    return value.__class__ is Table or value.__class__ is Packed


def type_name(value: Value) -> bytes:
    """TYPE's answer for a stored value."""
    return b"hash" if value.__class__ is Table or value.__class__ is Packed else b"string"


def string_integer(data: bytes) -> int | None:
    """A string value as Redis' int encoding holds it, None if it is not one."""
    if len(data) > 20:
        return None
    return _strict_int(data)


def encoding_of(value: Value) -> bytes:
    """OBJECT ENCODING's answer for a stored value."""
    cls = value.__class__
    if cls is Table or cls is Packed:
        return value.encoding()
    if cls is RawStr:
        return b"raw"
    if cls is bytes and string_integer(value) is not None:
        return b"int"
    return b"embstr" if len(value) <= EMBSTR_SIZE_LIMIT else b"raw"


def value_cost(key: bytes, value: Value) -> int:
    """The estimated bytes of one key and its value, its TTL aside (MEMORY USAGE adds
    KEY_TTL_OVERHEAD for a key with one)."""
    cls = value.__class__
    if cls is Table:
        return KEY_OVERHEAD + len(key) + value.size
    if cls is Packed:
        return PACKED_OVERHEAD + len(key) + bytes.__len__(value)
    return STRING_OVERHEAD + len(key) + len(value)


class Watcher(Protocol):
    """What WATCH needs of a client: a flag to raise when a watched key changes."""

    dirty_cas: bool


# What `take` hands to `adopt` (MOVE) and `copy_value` makes for it (COPY): a value, its
# access word and its deadline (0 for none).
Entry = tuple[Value, int, int]


class Keyspace:
    """All keys of one database, and the single path every write takes.

    A key's value is in `tables`; its deadline, if it has one, in `deadlines` (Redis'
    `db->expires`); its access word in `index`, beside the key. A value needs no object
    of its own for either: a string is its bytes, a small hash one `Packed`. Under LRU a
    read only adds the key to `accessed` (the keys read at the current `lru_clock`);
    `tick` writes their words before the clock moves on (`settle_access`)."""

    __slots__ = ("tables", "index", "deadlines", "accessed", "dirty", "watchers", "clock",
                 "expiry_heap", "expired_keys", "expired_fields", "snapshot", "frozen",
                 "volatile", "subexpiry", "data_bytes", "lazy", "evicted_keys", "lru_clock",
                 "lfu_minutes", "lfu", "lfu_log_factor", "lfu_decay_time", "_new_heap",
                 "_heap_cursor", "lookups", "on_reclaim", "on_change")

    def __init__(self) -> None:
        self.tables: dict[bytes, Value] = {}
        # Every key, with its access word: the LRU clock of its last access, or under an
        # LFU policy the minutes of the last access (high bits) and a logarithmic counter
        # (low 8 bits).
        self.index = ScanIndex(with_words=True)
        self.deadlines: dict[bytes, int] = {}
        self.accessed: set[bytes] = set()
        self.dirty = 0
        self.watchers: dict[bytes, set[Watcher]] = {}
        self.clock = now_ms
        # One time for a whole command (or a whole EXEC), as Redis' command time snapshot:
        # `Server.execute` clears it, `now()` takes it on first use.
        self.snapshot = 0
        self.frozen = False
        # (deadline, key) for every key TTL or field TTL set; stale entries are skipped.
        self.expiry_heap: list[tuple[int, bytes]] = []
        # A rebuild of the heap under way (see `_schedule`): the new heap and the scan
        # cursor over the keys it has covered so far.
        self._new_heap: list[tuple[int, bytes]] | None = None
        self._heap_cursor = 0
        self.expired_keys = 0
        self.expired_fields = 0
        self.evicted_keys = 0
        # The keys with a TTL (for sampling), and how many keys have field TTLs.
        self.volatile = ScanIndex()
        self.subexpiry = 0
        self.data_bytes = 0
        self.lazy = LazyFree()
        # The access clock (Unix ms, advanced by `tick`, as Redis' cached LRU clock), the
        # same in LFU's 16-bit minutes, and the LFU settings (`lfu` is set under an LFU
        # maxmemory policy).
        self.lru_clock = 0
        self.lfu_minutes = 0
        self.tick()
        self.lfu = False
        self.lfu_log_factor = 10
        self.lfu_decay_time = 1
        # [hits, misses] while a read command runs (INFO keyspace_hits/misses), else None.
        self.lookups: list[int] | None = None
        # Told of every deletion no command asked for (expiry): fields None for the key.
        # The append-only file logs them as DEL / HDEL.
        self.on_reclaim: Callable[[bytes, list[bytes] | None], None] | None = None
        # Told of every change to a key while a client tracks keys (client-side caching).
        self.on_change: Callable[[bytes], None] | None = None

    def now(self) -> int:
        """The current command's time, in Unix ms."""
        if not self.snapshot:
            self.snapshot = self.clock()
        return self.snapshot

    def new_command(self) -> None:
        """Start a command: it will see a fresh time, unless inside EXEC."""
        if not self.frozen:
            self.snapshot = 0

    def tick(self) -> None:
        """Advance the access clock (the cron calls this every tick)."""
        self.settle_access()
        self.lru_clock = self.clock()
        self.lfu_minutes = (self.lru_clock // 60_000) & 0xFFFF

    def settle_access(self) -> None:
        """Write the access word of every key read since the clock last moved: the work
        of the reads themselves, once per key and tick."""
        accessed = self.accessed
        if accessed:
            set_word, tables, clock = self.index.set_word, self.tables, self.lru_clock
            for key in accessed:
                if key in tables:
                    set_word(key, clock)
            accessed.clear()

    def touch(self, key: bytes) -> None:
        """Record a change to `key`: the dirty counter and every client WATCHing it."""
        self.dirty += 1
        if self.watchers:
            watchers = self.watchers.get(key)
            if watchers:
                for watcher in watchers:
                    watcher.dirty_cas = True
        if self.on_change is not None:
            self.on_change(key)

    # -- reads --------------------------------------------------------------------------

    def get(self, key: bytes) -> Value | None:
        """The live value at `key`, after lazy expiry of the key and its fields; records
        the access for LRU/LFU eviction."""
        table = self.tables.get(key)
        if table is not None:
            if ((self.deadlines and key in self.deadlines) or
                    (self.subexpiry and table.__class__ is Table and table.field_ttl)) and \
                    self._expire_if_due(key, table, self.now()) is None:
                table = None
            elif self.lfu:
                self._count_access(key)
            else:
                self.accessed.add(key)
        lookups = self.lookups
        if lookups is not None:
            lookups[table is None] += 1
        return table

    def get_hash(self, key: bytes) -> Table | Packed | None:
        """As `get`, for a hash command: WRONGTYPE if the key holds a string. (`get`
        written out again: HGET and HSET run through it.)"""
        table = self.tables.get(key)
        if table is not None:
            if ((self.deadlines and key in self.deadlines) or
                    (self.subexpiry and table.__class__ is Table and table.field_ttl)) and \
                    self._expire_if_due(key, table, self.now()) is None:
                table = None
            else:
                if self.lfu:
                    self._count_access(key)
                else:
                    self.accessed.add(key)
                if table.__class__ is not Packed and table.__class__ is not Table:
                    if self.lookups is not None:
                        self.lookups[0] += 1
                    raise errors.CommandError(errors.WRONGTYPE)
        lookups = self.lookups
        if lookups is not None:
            lookups[table is None] += 1
        return table

    def get_table(self, key: bytes) -> Table | None:
        """As `get_hash`, a small hash unpacked into a `Table`: for commands that change
        a hash field by field while holding it (field TTLs, HGETDEL)."""
        table = self.get_hash(key)
        if table.__class__ is Packed:
            table = self._unpack(key, table)
        return table

    def get_string(self, key: bytes) -> bytes | None:
        """As `get`, for a string command: WRONGTYPE if the key holds a hash. (`get`
        written out again: GET and SET run through it.)"""
        value = self.tables.get(key)
        if value is not None:
            if ((self.deadlines and key in self.deadlines) or
                    (self.subexpiry and value.__class__ is Table and value.field_ttl)) and \
                    self._expire_if_due(key, value, self.now()) is None:
                value = None
            else:
                if self.lfu:
                    self._count_access(key)
                else:
                    self.accessed.add(key)
                if value.__class__ is Packed or value.__class__ is Table:
                    if self.lookups is not None:
                        self.lookups[0] += 1
                    raise errors.CommandError(errors.WRONGTYPE)
        lookups = self.lookups
        if lookups is not None:
            lookups[value is None] += 1
        return value

    def peek(self, key: bytes) -> Value | None:
        """As `get`, without recording an access (Redis' LOOKUP_NOTOUCH)."""
        table = self.tables.get(key)
        if table is not None and ((self.deadlines and key in self.deadlines) or (
                self.subexpiry and table.__class__ is Table and table.field_ttl)):
            table = self._expire_if_due(key, table, self.now())
        lookups = self.lookups
        if lookups is not None:
            lookups[table is None] += 1
        return table

    def exists(self, key: bytes) -> bool:
        return self.peek(key) is not None

    def stored(self, key: bytes) -> Value | None:
        """The value at `key` as stored: no expiry applied, no access recorded. For a
        command looking again at a key it has just read or written (and for the
        append-only file, which logs what a command left)."""
        return self.tables.get(key)

    def holds(self, key: bytes) -> bool:
        """Whether a value is still stored at `key`: false once a write (or the expiry
        of a past deadline) has removed it."""
        return key in self.tables

    def deadline_of(self, key: bytes) -> int:
        """The key's deadline (Unix ms), 0 for none; no expiry applied."""
        return self.deadlines.get(key, 0)

    def access_of(self, key: bytes) -> int:
        """The access word of a stored key (OBJECT IDLETIME and FREQ, eviction)."""
        if key in self.accessed:
            return self.lru_clock
        return self.index.word(key)

    def _expire_if_due(self, key: bytes, table: Value, now: int,
                       limit: int = -1) -> Value | None:
        """Delete the key if its time has passed, else its due fields (at most `limit`
        of them when `limit` >= 0). Returns the value if it still exists."""
        deadline = self.deadlines.get(key)
        if deadline is not None and deadline <= now:
            self._remove_table(key)
            self.expired_keys += 1
            if self.on_reclaim is not None:
                self.on_reclaim(key, None)
            self.touch(key)
            return None
        if table.__class__ is not Table:
            return table
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
                self._forget_field_ttls(table, len(gone))
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
            if self.peek(key) is not None:
                yield key

    def __len__(self) -> int:
        """DBSIZE: as in Redis, keys whose time has passed count until reclaimed."""
        return len(self.tables)

    @property
    def expires(self) -> int:
        """The number of keys with a TTL (INFO keyspace's `expires`)."""
        return len(self.deadlines)

    def memory_usage(self, key: bytes, table: Value) -> int:
        """The estimated bytes of a key, its value and its TTL (MEMORY USAGE)."""
        return value_cost(key, table) + (KEY_TTL_OVERHEAD if key in self.deadlines else 0)

    # -- access tracking (LRU/LFU) ------------------------------------------------------

    def lfu_counter(self, access: int) -> int:
        """The LFU counter in an access word, decayed by one per `lfu-decay-time`
        minutes since the access (16-bit minutes, wrapping, as Redis keeps them)."""
        counter = access & 0xFF
        then = (access >> 8) & 0xFFFF
        now = self.lfu_minutes
        if then != now and self.lfu_decay_time:
            elapsed = now - then if now > then else 0xFFFF - then + now
            counter = max(0, counter - elapsed // self.lfu_decay_time)
        return counter

    def _count_access(self, key: bytes) -> None:
        """Decay the counter, then raise it with probability 1/((c - 5) x factor + 1):
        a logarithmic count that needs about a million hits to reach 255 (factor 10)."""
        words, slot = self.index.word_slot(key)
        access = words[slot]
        counter = access & 0xFF
        if (access >> 8) & 0xFFFF != self.lfu_minutes:
            counter = self.lfu_counter(access)
        if counter < 255:
            base = counter - LFU_INIT_VAL
            if base <= 0 or random.random() < 1.0 / (base * self.lfu_log_factor + 1):
                counter += 1
        words[slot] = (self.lfu_minutes << 8) | counter

    def _new_access(self) -> int:
        """The access word of a key being created."""
        return (self.lfu_minutes << 8) | LFU_INIT_VAL if self.lfu else self.lru_clock

    # -- tables -------------------------------------------------------------------------

    def _table_for_write(self, key: bytes) -> Table:
        """The hash at `key` as a `Table`, made if missing (the write that follows
        announces it); WRONGTYPE if the key holds a string."""
        table = self.get(key)
        if table.__class__ is Table:
            return table
        if table is None:
            table = Table()
            self._attach(key, table, self._new_access())
            return table
        if table.__class__ is Packed:
            return self._unpack(key, table)
        raise errors.CommandError(errors.WRONGTYPE)

    def _unpack(self, key: bytes, packed: Packed) -> Table:
        """Replace the small hash at `key` by a `Table` of the same fields."""
        table = Table()
        fields = table.fields = packed.fields
        table.size = sum(FIELD_OVERHEAD + len(name) + len(value)
                         for name, value in fields.items())
        self.tables[key] = table
        self.data_bytes += value_cost(key, table) - value_cost(key, packed)
        return table

    def _repack(self, key: bytes, old: Packed, fields: dict[bytes, bytes]) -> None:
        """Store `fields` (packable, not empty) at `key` in place of the small hash
        `old`."""
        packed = Packed.pack(fields.items(), len(fields))
        self.tables[key] = packed
        self.data_bytes += bytes.__len__(packed) - bytes.__len__(old)

    # -- strings ------------------------------------------------------------------------

    def set_string(self, key: bytes, data: bytes, deadline: int = 0,
                   keep_ttl: bool = False, kind: type[bytes] = bytes) -> None:
        """SET semantics: `key` holds the string `data` (stored as a `kind`: bytes,
        BuiltStr or RawStr), whatever it held; with `deadline` (Unix ms) as its TTL,
        or the TTL it had with `keep_ttl`, else none. A deadline already past is stored
        as it is, as Redis' SET does: the key expires on its next access. Under LFU the
        key keeps its access counter."""
        value = data if data.__class__ is kind else kind(data)
        old = self.peek(key)
        if old is None:
            self._attach(key, value, self._new_access(), deadline)
            self.touch(key)
            return
        old_deadline = self.deadlines.get(key, 0)
        if keep_ttl:
            deadline = old_deadline
        if old.__class__ is Table or old.__class__ is Packed:
            access = self.access_of(key) if self.lfu else self.lru_clock
            self._remove_table(key)
            self._attach(key, value, access, deadline)
            self.touch(key)
            return
        self.tables[key] = value
        self.data_bytes += len(value) - len(old)
        if not self.lfu:
            self.accessed.add(key)
        if deadline != old_deadline:
            if not old_deadline:
                self.volatile.add(key)
                self.data_bytes += KEY_TTL_OVERHEAD
            elif not deadline:
                self.volatile.remove(key)
                self.data_bytes -= KEY_TTL_OVERHEAD
                del self.deadlines[key]
            if deadline:
                self.deadlines[key] = deadline
                self._schedule(deadline, key)
        self.touch(key)

    def _attach(self, key: bytes, table: Value, access: int, deadline: int = 0) -> None:
        """Put `table` at `key` (which must be free), with its TTLs and counters."""
        self.tables[key] = table
        self.index.add(key, access)
        self.data_bytes += value_cost(key, table)
        if deadline:
            self.deadlines[key] = deadline
            self.volatile.add(key)
            self.data_bytes += KEY_TTL_OVERHEAD
            self._schedule(deadline, key)
        if table.__class__ is Table:
            if table.field_ttl:
                self.subexpiry += 1
            if table.field_heap:
                self._schedule_fields(key, table)

    def _detach(self, key: bytes) -> Entry:
        """Take the value at `key` out of the keyspace and its counters; returns it with
        its access word and deadline."""
        table = self.tables.pop(key)
        access = self.index.remove(key)
        accessed = self.accessed
        if key in accessed:
            accessed.discard(key)
            access = self.lru_clock
        self.data_bytes -= value_cost(key, table)
        deadline = self.deadlines.pop(key, 0)
        if deadline:
            self.volatile.remove(key)
            self.data_bytes -= KEY_TTL_OVERHEAD
        if table.__class__ is Table and table.field_ttl:
            self.subexpiry -= 1
        return table, access, deadline

    def _remove_table(self, key: bytes) -> None:
        cost = self.memory_usage(key, self.tables[key])
        self.lazy.free_table(self._detach(key)[0], cost)

    def _resize(self, table: Table, delta: int) -> None:
        table.size += delta
        self.data_bytes += delta

    def delete(self, key: bytes) -> bool:
        if self.peek(key) is None:
            return False
        self._remove_table(key)
        self.touch(key)
        return True

    def evict(self, key: bytes) -> int:
        """Remove `key` for memory's sake; returns the estimated bytes released."""
        cost = self.memory_usage(key, self.tables[key])
        self._remove_table(key)
        self.evicted_keys += 1
        if self.on_reclaim is not None:
            self.on_reclaim(key, None)
        self.touch(key)
        return cost

    def rename(self, source: bytes, target: bytes) -> None:
        """Move the value (its TTLs and access word included) from `source`, which must
        be live."""
        entry = self._detach(source)
        if target in self.tables:
            self._remove_table(target)
        self._attach(target, *entry)
        self.touch(source)
        self.touch(target)

    def flush(self) -> None:
        """Empty the keyspace at once; the old containers are freed in steps."""
        for key in list(self.watchers):
            if key in self.tables:
                self.touch(key)
        self.dirty += len(self.tables)
        self.lazy.free_keyspace(self.tables, self.index, self.volatile, self.expiry_heap,
                                self.data_bytes, self.deadlines)
        if self._new_heap is not None:
            self.lazy.free_sequence(self._new_heap)
            self._new_heap = None
        self.tables = {}
        self.index = ScanIndex(with_words=True)
        self.deadlines = {}
        self.accessed = set()
        self.volatile = ScanIndex()
        self.expiry_heap = []
        self.subexpiry = 0
        self.data_bytes = 0

    def ensure(self, key: bytes) -> bool:
        """Make `key` a pinned (persistent while empty) table; True if it was created."""
        created = self.peek(key) is None
        table = self._table_for_write(key)
        if created or not table.pinned:
            table.pinned = True
            self.touch(key)
        return created

    def clear(self, key: bytes) -> int:
        """Remove every field of `key` but keep it as a pinned table."""
        table = self.get_hash(key)
        if table is None:
            return 0
        if table.__class__ is Packed:
            removed = len(table)
            empty = Table()
            empty.pinned = True
            self.tables[key] = empty
            self.data_bytes += value_cost(key, empty) - value_cost(key, table)
            self.touch(key)
            return removed
        removed = len(table.fields)
        old = Table()
        old.fields, old.index, old.field_ttl, old.field_heap = \
            table.fields, table.index, table.field_ttl, table.field_heap
        table.fields = {}
        table.index = None
        table.field_ttl = _NO_TTLS
        table.field_heap = _NO_HEAP
        if old.field_ttl:
            self.subexpiry -= 1
        self.lazy.free_table(old, table.size)
        self._resize(table, -table.size)
        table.listpack = True
        table.pinned = True
        self.touch(key)
        return removed

    # -- fields -------------------------------------------------------------------------

    def set_fields(self, key: bytes, pairs: list[bytes], keep_ttl: bool = False) -> int:
        """HSET semantics for `pairs` (field, value, ...); returns new fields.

        Overwriting a field clears its TTL, as in Redis, unless `keep_ttl`. A hash that
        stays within the packing limits is kept (or made) a `Packed`."""
        table = self.get_hash(key)
        if len(pairs) == 2 and (table is None or table.__class__ is Packed):
            # One field, the usual HSET of a small hash: no dict is made.
            field, value = pairs
            if table is None:
                if len(field) <= LISTPACK_MAX_VALUE and len(value) <= LISTPACK_MAX_VALUE:
                    self._attach(key, Packed.single(field, value), self._new_access())
                    self.touch(key)
                    return 1
            else:
                put = table.put(field, value)
                if put is not None:
                    self.tables[key], added, grown = put
                    self.data_bytes += grown
                    self.touch(key)
                    return added
        if table is None or table.__class__ is Packed:
            merged = {} if table is None else table.fields
            before = len(merged)
            pair = iter(pairs)  # (field, value) pairs without slicing; even length
            merged.update(zip(pair, pair))  # noqa: B905 (a strict= keyword costs 0.3 us a call)
            if packable(merged):
                if table is None:
                    self._attach(key, Packed.pack(merged.items(), len(merged)),
                                 self._new_access())
                else:
                    self._repack(key, table, merged)
                self.touch(key)
                return len(merged) - before
            if table is None:
                table = Table()
                self._attach(key, table, self._new_access())
            else:
                table = self._unpack(key, table)
        fields = table.fields
        index = table.index
        ttl = table.field_ttl
        listpack = table.listpack
        added = 0
        grown = 0
        pair = iter(pairs)  # (field, value) pairs without slicing; `pairs` has even length
        for field, value in zip(pair, pair):  # noqa: B905 (a strict= keyword costs 0.3 us a call)
            old = fields.get(field)
            if old is None:
                if index is not None:
                    index.add(field)
                added += 1
                grown += FIELD_OVERHEAD + len(field) + len(value)
            else:
                grown += len(value) - len(old)
                if ttl and not keep_ttl and ttl.pop(field, None) is not None:
                    self._forget_field_ttls(table, 1)
            fields[field] = value
            if listpack and (len(field) > LISTPACK_MAX_VALUE or len(value) > LISTPACK_MAX_VALUE):
                listpack = False
        if listpack and len(fields) > LISTPACK_MAX_ENTRIES:
            listpack = False
        if not listpack and index is None:
            table.listpack = False
            table.build_index()
        table.size += grown
        self.data_bytes += grown
        self.touch(key)
        return added

    def set_field(self, key: bytes, field: bytes, value: bytes, keep_ttl: bool = False) -> bool:
        """Set one field; True if it is new."""
        return self.set_fields(key, [field, value], keep_ttl) == 1

    def delete_fields(self, key: bytes, table: Table | Packed, names: list[bytes]) -> int:
        """HDEL semantics; an unpinned table left empty is deleted, as Redis does."""
        if table.__class__ is Packed:
            table = self.tables.get(key)  # the value stored now
            if table is None:
                return 0
        if table.__class__ is Packed:
            fields = table.fields
            gone = [name for name in dict.fromkeys(names) if fields.pop(name, None) is not None]
            if gone:
                if fields:
                    self._repack(key, table, fields)
                else:
                    self._remove_table(key)
                self.touch(key)
            return len(gone)
        fields = table.fields
        gone = [name for name in dict.fromkeys(names) if name in fields]
        if gone:
            ttl = table.field_ttl
            if ttl:
                dropped = sum(1 for name in gone if ttl.pop(name, None) is not None)
                if dropped:
                    self._forget_field_ttls(table, dropped)
            self._drop_fields(key, table, gone)
        return len(gone)

    def _drop_fields(self, key: bytes, table: Table, names: list[bytes]) -> None:
        """Remove fields whose TTLs are already forgotten."""
        fields = table.fields
        index = table.index
        freed = 0
        for name in names:
            value = fields.pop(name, None)
            if value is not None:
                if index is not None:
                    index.remove(name)
                freed += FIELD_OVERHEAD + len(name) + len(value)
        self._resize(table, -freed)
        if not fields and not table.pinned:
            self._remove_table(key)
        self.touch(key)

    def _forget_field_ttls(self, table: Table, count: int) -> None:
        """Account for `count` field TTLs just removed from `table.field_ttl`."""
        self._resize(table, -FIELD_TTL_OVERHEAD * count)
        if not table.field_ttl:
            self.subexpiry -= 1

    # -- expiry -------------------------------------------------------------------------

    def set_expiry(self, key: bytes, table: Value, deadline: int) -> None:
        """Give `key` a deadline (Unix ms); one already past deletes it at once."""
        if deadline <= self.now():
            self._remove_table(key)
            self.touch(key)
            return
        deadlines = self.deadlines
        if key not in deadlines:
            self.volatile.add(key)
            self.data_bytes += KEY_TTL_OVERHEAD
        deadlines[key] = deadline
        self._schedule(deadline, key)
        self.touch(key)

    def persist(self, key: bytes, table: Value) -> bool:
        if self.deadlines.pop(key, None) is None:
            return False
        self.volatile.remove(key)
        self.data_bytes -= KEY_TTL_OVERHEAD
        self.touch(key)
        return True

    def set_field_expiry(self, key: bytes, table: Table | Packed, field: bytes,
                         deadline: int) -> None:
        """Give `field` a deadline; a past one deletes the field (and maybe the table).
        A small hash is unpacked first: only a `Table` has field TTLs."""
        if table.__class__ is Packed:
            table = self.tables[key]  # the value stored now
            if table.__class__ is Packed:
                table = self._unpack(key, table)
        ttl = table.field_ttl
        if deadline <= self.now():
            if ttl and ttl.pop(field, None) is not None:
                self._forget_field_ttls(table, 1)
            self.expired_fields += 1  # Redis counts these in expired_subkeys too
            self._drop_fields(key, table, [field])
            return
        if field not in ttl:
            if not ttl:
                self.subexpiry += 1
                if ttl is _NO_TTLS:
                    ttl = table.field_ttl = {}
            self._resize(table, FIELD_TTL_OVERHEAD)
        ttl[field] = deadline
        if table.field_heap is _NO_HEAP:
            table.field_heap = []
        heapq.heappush(table.field_heap, (deadline, field))
        if not table.scheduled or deadline < table.scheduled:
            self._schedule_fields(key, table)
        self.touch(key)

    def persist_field(self, key: bytes, table: Table | Packed, field: bytes) -> bool:
        if not table.field_ttl or table.field_ttl.pop(field, None) is None:
            return False
        self._forget_field_ttls(table, 1)
        self.touch(key)
        return True

    def _schedule(self, deadline: int, key: bytes) -> None:
        """Push a deadline. Replaced TTLs and removed keys leave stale entries behind;
        when they outnumber the live ones, a new heap is built from the keys, a few
        keys per push (a scan, so keys added meanwhile are not missed), while the old
        heap stays in use; pushes go to both until the new one replaces it."""
        heap = self.expiry_heap
        heapq.heappush(heap, (deadline, key))
        new_heap = self._new_heap
        if new_heap is not None:
            heapq.heappush(new_heap, (deadline, key))
            self._rebuild_expiry_step()
        elif len(heap) > 2 * len(self.tables) + 4096:
            self._new_heap = []
            self._heap_cursor = 0
            self._rebuild_expiry_step()

    def _schedule_fields(self, key: bytes, table: Table) -> None:
        """Register the table's earliest field deadline with the expiry heap."""
        table.scheduled = table.field_heap[0][0]
        self._schedule(table.scheduled, key)

    def _rebuild_expiry_step(self) -> None:
        """Copy the live entries of the next HEAP_REBUILD_STEP keys into the new heap:
        the key's TTL and the entry its fields are scheduled under."""
        new_heap = self._new_heap
        tables = self.tables
        cursor, keys = self.index.scan(self._heap_cursor, HEAP_REBUILD_STEP)
        deadlines = self.deadlines
        for key in keys:
            table = tables[key]
            deadline = deadlines.get(key)
            if deadline:
                heapq.heappush(new_heap, (deadline, key))
            if table.__class__ is Table and table.scheduled:
                heapq.heappush(new_heap, (table.scheduled, key))
        if cursor:
            self._heap_cursor = cursor
            return
        self.lazy.free_sequence(self.expiry_heap)
        self.expiry_heap = new_heap
        self._new_heap = None

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
                    and table.__class__ is Table and deadline == table.scheduled:
                if table.field_heap:
                    self._schedule_fields(key, table)
                else:
                    table.scheduled = 0
            done += 1
            if stop is not None and not done % 8 and time.perf_counter() >= stop:
                break
        return done

    # -- scans --------------------------------------------------------------------------

    def scan_fields(self, table: Table | Packed, cursor: int,
                    count: int) -> tuple[int, list[bytes]]:
        """HSCAN's step: (next cursor, field names). A table Redis would keep as a
        listpack is returned whole with cursor 0, as Redis does; a larger one `count`
        at a time from `cursor`."""
        if table.listpack:
            return 0, table.names()
        return table.index.scan(cursor, count)

    def random_field(self, table: Table | Packed) -> bytes:
        """A uniformly random field name; `table` must have fields."""
        if table.__class__ is Packed:
            return random.choice(table.names())
        if table.index is None:
            return next(islice(table.fields, random.randrange(len(table.fields)), None))
        return table.index.random_member()

    def scan_keys(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        next_cursor, keys = self.index.scan(cursor, count)
        return next_cursor, [key for key in keys if self.peek(key) is not None]

    def random_key(self) -> bytes | None:
        while self.tables:
            key = self.index.random_member()
            if self.peek(key) is not None:
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

    # -- numbered databases (see `databases`) -------------------------------------------

    def take(self, key: bytes) -> Entry:
        """Remove the live value at `key` without freeing it, to be adopted by another
        database (MOVE): the value, its access word and its deadline."""
        entry = self._detach(key)
        self.touch(key)
        return entry

    def adopt(self, key: bytes, entry: Entry) -> None:
        """Store a value with its access word and deadline (`take`, `copy_value`) at
        `key`, which must be free (MOVE, COPY)."""
        self._attach(key, *entry)
        self.touch(key)

    def copy_value(self, table: Value, deadline: int) -> Entry:
        """A copy of a stored value for COPY, with the key's `deadline`: fields in
        order, field TTLs, the pinned mark; a new access record, as a new object has in
        Redis. A string or a small hash is immutable and shared (a string keeps its
        class, so its encoding, as Redis' dupStringObject does)."""
        access = (self.lfu_minutes << 8) | LFU_INIT_VAL if self.lfu else self.lru_clock
        if table.__class__ is not Table:
            return table, access, deadline
        copy = Table()
        copy.fields = dict(table.fields)
        copy.listpack = table.listpack
        if not copy.listpack:
            copy.build_index()
        copy.pinned = table.pinned
        if table.field_ttl:
            copy.field_ttl = dict(table.field_ttl)
            copy.field_heap = list(table.field_heap)
        copy.size = table.size
        return copy, access, deadline

    def swap_data(self, other: Keyspace) -> None:
        """Exchange every stored thing with `other` (SWAPDB); what belongs to the
        database's place or to the server (WATCHers, clocks, counters, callbacks)
        stays."""
        for name in Keyspace.__slots__:
            if name not in _STAYS_ON_SWAP:
                mine = getattr(self, name)
                setattr(self, name, getattr(other, name))
                setattr(other, name, mine)




# What SWAPDB leaves in place: everything else a Keyspace holds is data and moves.
_STAYS_ON_SWAP = frozenset((
    "watchers", "dirty", "clock", "snapshot", "frozen", "lazy", "lru_clock",
    "lfu_minutes", "lfu", "lfu_log_factor", "lfu_decay_time", "lookups", "on_reclaim",
    "on_change", "expired_keys", "expired_fields", "evicted_keys"))
