"""The numbered databases (Redis' `server.db` array): SELECT, MOVE, COPY, SWAPDB.

Each database is a `Keyspace` that knows its index (`Database.id`, Redis' `db->id`); a
client's `db` is the one it selected. What Redis keeps once per server is kept once
here: the removed values freed in cron steps (one `LazyFree` shared by every database),
the command's time (one snapshot inside EXEC and while loading), the access clock and
the LFU settings. Counters each database keeps (changes, expired and evicted keys, data
bytes) are summed for INFO and `maxmemory`.

SWAPDB exchanges the two databases' data, not the objects: a client keeps its selected
index and sees the other data, as in Redis, and WATCHed keys stay with their index.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from .keyspace import Keyspace
from .memory import LazyFree

# Active expiry visits at most this many databases per cron tick, as Redis does.
DBS_PER_CYCLE = 16


class Database(Keyspace):
    """One numbered database: a keyspace with its index."""

    __slots__ = ("id",)

    def __init__(self, index: int, lazy: LazyFree) -> None:
        super().__init__()
        self.id = index
        self.lazy = lazy


class Databases:
    """The server's databases, and the operations that span more than one."""

    __slots__ = ("dbs", "lazy", "_next_expire", "_next_random")

    def __init__(self, count: int) -> None:
        self.lazy = LazyFree()
        self.dbs = [Database(index, self.lazy) for index in range(count)]
        # Where the next active expiry cycle and the next random eviction start, so that
        # every database gets its turn.
        self._next_expire = 0
        self._next_random = 0

    def __len__(self) -> int:
        return len(self.dbs)

    def __getitem__(self, index: int) -> Database:
        return self.dbs[index]

    def __iter__(self) -> Iterator[Database]:
        return iter(self.dbs)

    def get(self, index: int) -> Database | None:
        """The database at `index`, None outside 0..databases-1 (Redis' selectDb)."""
        return self.dbs[index] if 0 <= index < len(self.dbs) else None

    def other(self, current: Keyspace, index: int) -> Database | None:
        """Database `index` as seen from a command running in `current`: it shares the
        command's time, so lazy expiry in both agrees; its lookups are not counted in
        INFO's keyspace hits and misses."""
        db = self.get(index)
        if db is not None and db is not current:
            db.snapshot = current.now()
            db.lookups = None
        return db

    # -- server-wide state --------------------------------------------------------------

    @property
    def dirty(self) -> int:
        """Changes since start, over every database (Redis' server.dirty)."""
        return sum(db.dirty for db in self.dbs)

    @property
    def data_bytes(self) -> int:
        return sum(db.data_bytes for db in self.dbs)

    @property
    def expired_keys(self) -> int:
        return sum(db.expired_keys for db in self.dbs)

    @property
    def expired_fields(self) -> int:
        return sum(db.expired_fields for db in self.dbs)

    @property
    def evicted_keys(self) -> int:
        return sum(db.evicted_keys for db in self.dbs)

    def freeze(self, snapshot: int = 0) -> None:
        """One time for every database until `thaw` (EXEC, loading): `snapshot` in Unix
        ms, or the current time."""
        snapshot = snapshot or self.dbs[0].clock()
        for db in self.dbs:
            db.snapshot = snapshot
            db.frozen = True

    def thaw(self) -> None:
        for db in self.dbs:
            db.frozen = False
            db.snapshot = 0

    @property
    def frozen(self) -> bool:
        return self.dbs[0].frozen

    def set_clock(self, clock: Callable[[], int]) -> None:
        for db in self.dbs:
            db.clock = clock

    def tick(self) -> None:
        """Advance every database's access clock (one reading of the clock for all)."""
        first = self.dbs[0]
        first.tick()
        now, minutes = first.lru_clock, first.lfu_minutes
        for db in self.dbs:
            if db.accessed:
                db.settle_access()
            db.lru_clock = now
            db.lfu_minutes = minutes

    def configure_access(self, lfu: bool, log_factor: int, decay_time: int) -> None:
        """The maxmemory policy's access tracking, the same in every database."""
        for db in self.dbs:
            db.settle_access()
            db.lfu = lfu
            db.lfu_log_factor = log_factor
            db.lfu_decay_time = decay_time

    def expire_cycle(self, budget: float) -> None:
        """Active expiry within one time budget over up to DBS_PER_CYCLE databases, each
        cycle starting where the last one stopped (Redis' CRON_DBS_PER_CALL)."""
        stop = time.perf_counter() + budget
        dbs = self.dbs
        start = self._next_expire
        visited = min(len(dbs), DBS_PER_CYCLE)
        for offset in range(visited):
            index = (start + offset) % len(dbs)
            db = dbs[index]
            if not db.expiry_heap:
                continue
            remaining = stop - time.perf_counter()
            if remaining <= 0:
                self._next_expire = index  # out of time: this one goes first next time
                return
            db.expire_cycle(remaining)
        self._next_expire = (start + visited) % len(dbs)

    def random_pick(self, volatile: bool) -> tuple[Database, bytes] | None:
        """A random key (with a TTL, if `volatile`) of the next database that has one,
        as Redis' random eviction policies take turns over the databases."""
        dbs = self.dbs
        for _ in range(len(dbs)):
            self._next_random = (self._next_random + 1) % len(dbs)
            db = dbs[self._next_random]
            source = db.volatile if volatile else db.index
            if len(source):
                return db, source.random_member()
        return None

    # -- commands that span databases ---------------------------------------------------

    def flush_all(self) -> None:
        for db in self.dbs:
            db.flush()

    def swap(self, first: Database, second: Database) -> None:
        """SWAPDB: exchange the data; each database keeps its index and its WATCHers, and
        a watched key that exists on either side is touched (Redis'
        touchAllWatchedKeysInDb both ways)."""
        if first is second:
            return
        touched = [(db, key) for db in (first, second) for key in db.watchers
                   if key in first.tables or key in second.tables]
        first.swap_data(second)
        for db, key in touched:
            for watcher in db.watchers[key]:
                watcher.dirty_cas = True

    @staticmethod
    def move(source: Database, target: Database, key: bytes) -> None:
        """MOVE: the live table at `key` (its TTLs included) leaves `source` for
        `target`, where `key` must be free."""
        target.adopt(key, source.take(key))
