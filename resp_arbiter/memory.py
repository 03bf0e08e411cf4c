"""Memory: the estimate of what the data costs, and freeing large values in steps.

The keyspace keeps a running estimate of its own size (`Keyspace.data_bytes`), updated
by every write with the constants below, so INFO's `used_memory` and MEMORY USAGE never
walk the data. The constants are CPython's (64-bit) costs of the containers a table and
its fields occupy, measured with tracemalloc.

A value with more than LAZYFREE_THRESHOLD fields is never freed by the command that
removes it: DEL, UNLINK, expiry, FLUSHALL/FLUSHDB (SYNC or ASYNC) and STASH.CLEAR detach
it at once and hand it to `LazyFree`, which the cron drains in chunks of FREE_CHUNK
elements, as Redis frees in a background thread.
"""

from __future__ import annotations

import os
import resource
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .keyspace import Keyspace, ScanIndex, Table

# Estimated bytes, beyond the lengths of the strings themselves: a key (its Table, empty
# containers, keyspace dict and scan index entries), a field (dict entry, scan index
# slot, two bytes objects), a field TTL (dict entry, heap entry), a key TTL.
KEY_OVERHEAD = 950
FIELD_OVERHEAD = 200
FIELD_TTL_OVERHEAD = 185
KEY_TTL_OVERHEAD = 265

# Redis' LAZYFREE_THRESHOLD: values with more elements than this are freed in steps.
LAZYFREE_THRESHOLD = 64
# Elements freed between two looks at the clock.
FREE_CHUNK = 1024
# Slots a scan index copies per add/remove while it compacts itself.
REBUILD_STEP = 1024


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


def table_cost(key: bytes, table: Table) -> int:
    """The estimated bytes of one key and its value (what MEMORY USAGE answers)."""
    return KEY_OVERHEAD + len(key) + table.size


class LazyFree:
    """Values removed from the keyspace whose freeing is spread over cron steps."""

    __slots__ = ("_jobs", "pending_objects", "pending_bytes", "freed_objects")

    def __init__(self) -> None:
        self._jobs: deque[tuple[Iterator[int], int]] = deque()
        self.pending_objects = 0
        self.pending_bytes = 0
        self.freed_objects = 0

    def free_table(self, table: Table, cost: int) -> None:
        """Take a table just removed from the keyspace: a small one is left to CPython
        (the caller drops the last reference), a large one is freed in steps."""
        if len(table.fields) > LAZYFREE_THRESHOLD:
            self._queue(table.drain(), cost)

    def free_keyspace(self, tables: dict[bytes, Table], index: ScanIndex,
                      volatile: ScanIndex, heap: list, cost: int) -> None:
        """Take the containers of a whole flushed keyspace."""
        if tables:
            self._queue(_drain_keyspace(tables, index, volatile, heap), cost)

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


def _drain_keyspace(tables: dict[bytes, Table], index: ScanIndex, volatile: ScanIndex,
                    heap: list) -> Iterator[int]:
    popitem = tables.popitem
    while tables:
        count = 0
        while tables and count < FREE_CHUNK:
            _, table = popitem()
            if len(table.fields) > LAZYFREE_THRESHOLD:
                yield from table.drain()
            else:
                count += 1 + len(table.fields)
        yield count
    yield from index.drain()
    yield from volatile.drain()
    yield from drain_sequence(heap)


def resident_bytes() -> int:
    """Resident memory of this process."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Memory:
    """`used_memory`: what the process held at startup plus the keyspace's estimate."""

    __slots__ = ("keyspace", "baseline", "peak")

    def __init__(self, keyspace: Keyspace) -> None:
        self.keyspace = keyspace
        # What the process holds before any data: Redis' used_memory_startup.
        self.baseline = resident_bytes()
        self.peak = self.baseline

    def used(self) -> int:
        """INFO's used_memory: baseline, data, and removed data not yet freed."""
        keyspace = self.keyspace
        used = self.baseline + keyspace.data_bytes + keyspace.lazy.pending_bytes
        if used > self.peak:
            self.peak = used
        return used
