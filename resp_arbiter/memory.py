"""Memory: the estimate of what the data costs, freeing large values in steps, and
eviction under `maxmemory`.

The keyspace keeps a running estimate of its own size (`Keyspace.data_bytes`), updated
by every write with the constants below, so INFO's `used_memory`, MEMORY USAGE and the
`maxmemory` check never walk the data. The constants are CPython's (64-bit) costs of
the containers a table and its fields occupy, measured with tracemalloc.

A value with more than LAZYFREE_THRESHOLD fields is never freed by the command that
removes it: DEL, UNLINK, expiry, eviction, FLUSHALL/FLUSHDB (SYNC or ASYNC) and
STASH.CLEAR detach it at once and hand it to `LazyFree`, which the cron drains in chunks
of FREE_CHUNK elements, as Redis frees in a background thread.
"""

from __future__ import annotations

import os
import resource
import time
from bisect import insort
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .databases import Database, Databases
    from .keyspace import ScanIndex, Value

# Estimated bytes, beyond the lengths of the strings themselves: a hash key kept as a
# Table (the Table and its field dict, the key's bytes object, keyspace dict and index
# entries), a field (dict entry, scan index slot, two bytes objects), a field TTL (dict
# entry, heap entry), a key TTL (deadlines dict entry, its integer, volatile index slot).
KEY_OVERHEAD = 340
FIELD_OVERHEAD = 131
FIELD_TTL_OVERHEAD = 185
KEY_TTL_OVERHEAD = 130
# A string key: keyspace dict and index entries, the key's and the value's bytes objects.
STRING_OVERHEAD = 140
# A small hash packed in one bytes object (`keyspace.Packed`): as a string key, plus the
# packed object's own header.
PACKED_OVERHEAD = 168

# Redis' LAZYFREE_THRESHOLD: values with more elements than this are freed in steps.
LAZYFREE_THRESHOLD = 64
# Elements freed between two looks at the clock.
FREE_CHUNK = 1024

LFU_POLICIES = ("volatile-lfu", "allkeys-lfu")
# Redis' EVPOOL_SIZE: the best candidates seen by earlier samplings are kept.
EVICTION_POOL_SIZE = 16
# maxmemory-samples is taken up to this many keys per eviction, whatever it is set to.
MAX_SAMPLES = 1024
# How long one command may spend evicting before it runs anyway (the cron goes on).
EVICTION_BUDGET = 0.001


def drain_dict(container: dict) -> Iterator[int]:
    """Empty `container` FREE_CHUNK items at a time, yielding the items freed."""
    popitem = container.popitem
    while container:
        count = min(len(container), FREE_CHUNK)
        for _ in range(count):
            popitem()
        yield count


def drain_sequence(container) -> Iterator[int]:
    """Empty a list or array from its end, FREE_CHUNK items at a time."""
    while container:
        count = min(len(container), FREE_CHUNK)
        del container[-count:]
        yield count


class LazyFree:
    """Values removed from the keyspace whose freeing is spread over cron steps."""

    __slots__ = ("_jobs", "pending_objects", "pending_bytes", "freed_objects")

    def __init__(self) -> None:
        self._jobs: deque[tuple[Iterator[int], int]] = deque()
        self.pending_objects = 0
        self.pending_bytes = 0
        self.freed_objects = 0

    def free_table(self, table: Value, cost: int) -> None:
        """Take a table just removed from the keyspace: a small one is left to CPython
        (the caller drops the last reference), a large one is freed in steps."""
        if not isinstance(table, bytes) and len(table.fields) > LAZYFREE_THRESHOLD:
            self._queue(table.drain(), cost)

    def free_keyspace(self, tables: dict[bytes, Value], index: ScanIndex,
                      volatile: ScanIndex, heap: list, cost: int,
                      deadlines: dict[bytes, int]) -> None:
        """Take the containers of a whole flushed keyspace."""
        if tables:
            self._queue(_drain_keyspace(tables, index, volatile, heap, deadlines), cost)

    def free_sequence(self, container: list) -> None:
        """Take a large list the keyspace replaced (an expiry heap)."""
        if len(container) > LAZYFREE_THRESHOLD:
            self._queue(drain_sequence(container), 0)

    def _queue(self, job: Iterator[int], cost: int) -> None:
        self._jobs.append((job, cost))
        self.pending_objects += 1
        self.pending_bytes += cost

    def step(self, budget: float | None) -> int:
        """Free for about `budget` seconds (at least one chunk; None: everything).
        Returns the number of elements freed."""
        stop = None if budget is None else time.perf_counter() + budget
        done = 0
        jobs = self._jobs
        while jobs:
            job, cost = jobs[0]
            for count in job:
                done += count
                if stop is not None and time.perf_counter() >= stop:
                    return done
            jobs.popleft()
            self.pending_objects -= 1
            self.pending_bytes -= cost
            self.freed_objects += 1
        return done


def _drain_keyspace(tables: dict[bytes, Value], index: ScanIndex, volatile: ScanIndex,
                    heap: list, deadlines: dict[bytes, int]) -> Iterator[int]:
    popitem = tables.popitem
    while tables:
        count = 0
        while tables and count < FREE_CHUNK:
            _, table = popitem()
            if isinstance(table, bytes):
                count += 1
            elif len(table.fields) > LAZYFREE_THRESHOLD:
                yield from table.drain()
            else:
                count += 1 + len(table.fields)
        yield count
    yield from drain_dict(deadlines)
    yield from index.drain()
    yield from volatile.drain()
    yield from drain_sequence(heap)


def _sample(source: ScanIndex, count: int) -> Iterator[bytes]:
    """`count` random members, or all of them (each once) if there are no more."""
    if len(source) > count:
        for _ in range(count):
            yield source.random_member()
        return
    cursor = 0
    while True:
        cursor, members = source.scan(cursor, count)
        yield from members
        if not cursor:
            return


def resident_bytes() -> int:
    """Resident memory of this process."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Memory:
    """`used_memory` (a baseline plus the keyspace's estimate), `maxmemory` and the
    eviction that keeps the data under it.

    As in Redis, eviction samples `maxmemory-samples` keys (at most MAX_SAMPLES) and
    evicts the best candidate of a small pool kept across samplings (the idlest for LRU,
    the least frequently used for LFU, the nearest deadline for volatile-ttl); volatile-*
    policies sample only keys with a TTL. A key is a whole table: evicting it removes
    every field. The limit applies to `used_memory`, so it includes the baseline the
    process needs before any data (`used_memory_startup`). As Redis, it samples every
    database: the pool holds (score, database index, key)."""

    __slots__ = ("databases", "baseline", "peak", "maxmemory", "policy", "samples", "_pool")

    def __init__(self, databases: Databases) -> None:
        self.databases = databases
        # What the process holds before any data: Redis' used_memory_startup.
        self.baseline = resident_bytes()
        self.peak = self.baseline
        self.maxmemory = 0
        self.policy = "noeviction"
        self.samples = 5
        self._pool: list[tuple[int, int, bytes]] = []

    def configure(self, maxmemory: int, policy: str, samples: int, lfu_log_factor: int,
                  lfu_decay_time: int) -> None:
        """Take the settings (at start and after CONFIG SET). As in Redis, switching
        between LRU and LFU does not convert the keys' access words: OBJECT FREQ and
        IDLETIME read them as the new policy's until the keys are accessed again."""
        if policy != self.policy:
            self._pool.clear()
        self.maxmemory = maxmemory
        self.policy = policy
        self.samples = samples
        self.databases.configure_access(policy in LFU_POLICIES, lfu_log_factor,
                                        lfu_decay_time)

    def used(self) -> int:
        """INFO's used_memory: baseline, data, and removed data not yet freed."""
        databases = self.databases
        used = self.baseline + databases.data_bytes + databases.lazy.pending_bytes
        if used > self.peak:
            self.peak = used
        return used

    def make_room(self, budget: float) -> bool:
        """Evict until the data fits under `maxmemory`, for at most `budget` seconds.

        False means out of memory: over the limit with nothing that may be evicted
        (noeviction, or no key with a TTL for volatile-*). Removed values still being
        freed are not counted: they are on their way out."""
        over = self.baseline + self.databases.data_bytes - self.maxmemory
        if over <= 0:
            return True
        if self.policy == "noeviction":
            return False
        stop = time.perf_counter() + budget
        evicted = 0
        while over > 0:
            victim = self._victim()
            if victim is None:
                return False
            db, key = victim
            over -= db.evict(key)
            evicted += 1
            if not evicted % 16 and time.perf_counter() >= stop:
                break  # still over: the next command and the cron go on evicting
        return True

    def _victim(self) -> tuple[Database, bytes] | None:
        """The key to evict: sampled from every database that has candidates (at most
        MAX_SAMPLES draws in all), the best of the pool."""
        policy = self.policy
        volatile = policy.startswith("volatile")
        databases = self.databases
        if policy.endswith("random"):
            return databases.random_pick(volatile)
        score = self._score
        pool = self._pool
        pooled = {(db_id, key) for _, db_id, key in pool}
        budget = MAX_SAMPLES
        for db in databases:
            source = db.volatile if volatile else db.index
            if not len(source) or budget <= 0:
                continue
            count = min(self.samples, budget)
            budget -= count
            for key in _sample(source, count):
                if (db.id, key) in pooled:
                    continue
                pooled.add((db.id, key))
                entry = (score(db, key), db.id, key)
                if len(pool) < EVICTION_POOL_SIZE:
                    insort(pool, entry)
                elif entry[0] > pool[0][0]:
                    insort(pool, entry)
                    del pool[0]
        while pool:
            stored, db_id, key = pool.pop()
            db = databases[db_id]
            if key not in db.tables or (volatile and key not in db.deadlines):
                continue  # gone, or its TTL removed, since it was sampled
            fresh = score(db, key)
            if pool and fresh < stored and fresh < pool[-1][0]:
                insort(pool, (fresh, db_id, key))  # used since it was sampled: look again
                continue
            return db, key
        return None

    def _score(self, db: Database, key: bytes) -> int:
        """Higher is evicted first. LRU ranks by the time of the last access rather than
        by idle time, so that scores kept in the pool do not go stale as time passes."""
        policy = self.policy
        if policy.endswith("lru"):
            return -db.access_of(key)
        if policy.endswith("lfu"):
            return 255 - db.lfu_counter(db.access_of(key))
        return -db.deadline_of(key)  # volatile-ttl: the nearest deadline first
