"""Shared tables for every gunicorn worker: gunicorn's documented stash API over Redis.

Usage (the same calls as `gunicorn.dirty.stash`)::

    from gunicorn_ext import stash

    stash.put("sessions", "user:1", {"name": "Alice", "role": "admin"})
    user = stash.get("sessions", "user:1")          # None (or default) when missing
    stash.delete("sessions", "user:1")

    sessions = stash.table("sessions")              # dict-like
    sessions["user:1"] = {"name": "Alice"}

    stash.incr("counters", "hits")                  # atomic, beyond gunicorn's API

A table is a Redis hash and a key is one of its fields, so `redis-cli -s <socket>` shows
the same data live. The server is found through `GUNICORN_STASH_URL` (set by the
gunicorn master that started the arbiter) or `configure(url=...)`.

Each process has its own connections, made on first use and remade after a fork: up to
`max_connections` (16), each lent to one operation at a time, so that the threads of a
gthread worker proceed in parallel. With `configure(client_cache=True)` repeated reads
of unchanged fields are answered from the process's memory (see `_cache`). An
operation that finds the server gone (for example while the master restarts the
arbiter) reconnects and retries for up to `retry_timeout` seconds before raising
`StashError`. For asyncio code, the same API is in `gunicorn_ext.astash`; both are
`_core.Operations`, run here by a blocking runner.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._core import (
    MISS,
    RESET,
    Hit,
    NotSent,
    Operations,
    Pause,
    Session,
    TableOperations,
    configure,
    connected,
    plan,
)
from ._ops import Batch, Op
from .cluster import connect
from .errors import (
    StashError,
    StashKeyNotFoundError,
    StashOutcomeUnknownError,
    StashTableNotFoundError,
)

__all__ = [
    "StashError",
    "StashKeyNotFoundError",
    "StashOutcomeUnknownError",
    "StashTable",
    "StashTableNotFoundError",
    "cache_info",
    "clear",
    "close",
    "configure",
    "delete",
    "delete_table",
    "ensure",
    "exists",
    "get",
    "get_many",
    "incr",
    "info",
    "keys",
    "put",
    "put_many",
    "table",
    "tables",
]


class _Lane:
    """One client of the lanes and, on a single server, the connection its commands go
    out on: taken from the client's pool at the first command and held from then on, so
    that a command costs one send and one read. (redis-py's `execute_command` takes and
    returns the connection, checks it, wraps the call in its retry and records metrics
    on every call: as much client time again as the round trip; the plan does its own
    retries.) A pipeline, and the check before a batch that must not run twice, give the
    connection back and take it through the pool, which checks it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.connection: Any = None
        # A cluster client has no single connection: it places each command itself.
        self.direct = hasattr(client.connection_pool, "get_connection")

    def command(self, command: tuple[Any, ...]) -> Any:
        """One command's reply (an error reply raised as redis-py raises it)."""
        connection = self.connection
        if connection is None:
            if not self.direct:
                return self.client.execute_command(*command)
            connection = self.connection = self.client.connection_pool.get_connection()
        # On a failure the connection disconnects itself; the next send reconnects.
        connection.send_packed_command(connection.pack_command(*command))
        return connection.read_response()

    def disconnect(self) -> None:
        """Close its connection (held or in the pool); the next command reconnects."""
        self.client.connection_pool.disconnect()

    def give_back(self) -> None:
        """Return the held connection to the client's pool (its own commands take it)."""
        if self.connection is not None:
            connection, self.connection = self.connection, None
            self.client.connection_pool.release(connection)

    def check(self) -> None:
        """Connect, or find the connection the server closed and reconnect, before a batch
        that must not run twice: a failure here means it was certainly never sent."""
        if not self.direct:
            return  # a cluster: its connections are per node, any failure counts as sent
        self.give_back()
        try:
            self.connection = self.client.connection_pool.get_connection()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
            raise NotSent() from error


class _Lanes:
    """Up to `size` lanes (clients, each with one connection of its own), lent to one
    operation at a time: concurrent calls from threads proceed in parallel, and each
    operation (with its retries and its check before a batch that must not run twice)
    has its connection to itself, as it had behind one lock. The idle lanes wait in a
    `SimpleQueue`, so lending one and giving it back take no lock of ours (gevent
    replaces the queue with its own when it patches the standard library)."""

    def __init__(self, make: Callable[[], _Lane], size: int) -> None:
        self.make = make
        self.size = size
        self.idle: queue.SimpleQueue[_Lane] = queue.SimpleQueue()
        self.made: list[_Lane] = []
        self.closed = False
        self.lock = threading.Lock()  # guards `made`

    def take(self) -> _Lane:
        try:
            return self.idle.get_nowait()
        except queue.Empty:
            pass
        with self.lock:
            if len(self.made) < self.size:
                lane = self.make()
                self.made.append(lane)
                return lane
        return self.idle.get()  # every lane is lent: wait for one to come back

    def give(self, lane: _Lane) -> None:
        self.idle.put(lane)
        if self.closed:  # read after the put: `close` or this call disconnects it
            self._disconnect_idle()

    def close(self) -> None:
        """Disconnect the idle lanes now, the others when their operation is over (a
        thread still inside one, after configure() replaced the session, finishes it)."""
        self.closed = True
        self._disconnect_idle()

    def _disconnect_idle(self) -> None:
        drained: list[_Lane] = []
        while True:
            try:
                drained.append(self.idle.get_nowait())
            except queue.Empty:
                break
        for lane in drained:
            lane.disconnect()
            self.idle.put(lane)


class _Session(Session):
    """This process's connections (a bounded set of lanes, see `_Lanes`), shared by its
    threads."""

    def __init__(self) -> None:
        super().__init__()
        self.lanes = _Lanes(self._client, self.max_connections)

    def _client(self) -> _Lane:
        return _Lane(connect(self.url, retry=Retry(NoBackoff(), 0), **self.connection_options,
                             redis_connect_func=functools.partial(connected, self)))

    def run(self, make: Callable[[Session], Op], hit: Hit | None) -> Any:
        if hit is not None and self.cache is not None:
            value = hit(self)
            if value is not MISS:
                return value
        lane = self.lanes.take()
        try:
            steps = plan(self, make)
            effect = next(steps)
            while True:
                try:
                    outcome = self._perform(lane, effect)
                except (redis.RedisError, OSError, NotSent) as error:
                    effect = steps.throw(error)
                else:
                    effect = steps.send(outcome)
        except StopIteration as done:  # the plan's result
            return done.value
        finally:
            self.lanes.give(lane)

    def _perform(self, lane: _Lane, effect: Any) -> Any:
        if isinstance(effect, Pause):
            time.sleep(effect.seconds)
        elif effect is RESET:
            lane.disconnect()
        else:
            return self._send(lane, effect)
        return None

    def _send(self, lane: _Lane, batch: Batch) -> list[Any]:
        if batch.once:
            lane.check()
        if len(batch.commands) == 1 and not batch.transaction:
            return [lane.command(batch.commands[0])]
        lane.give_back()
        with lane.client.pipeline(transaction=batch.transaction) as pipe:
            for command in batch.commands:
                pipe.execute_command(*command)
            return pipe.execute(raise_on_error=False)

    def close(self) -> None:
        self.lanes.close()
        if self.cache is not None:
            self.cache.close()


_session: _Session | None = None
_session_lock = threading.Lock()


def _reset_after_fork() -> None:
    """A forked child must never use (or shut down) its parent's connection."""
    global _session, _session_lock
    _session = None
    _session_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def _current() -> _Session:
    global _session
    session = _session
    if session is None or not session.current:
        with _session_lock:
            session = _session
            if session is None or not session.current:
                if session is not None and session.pid == os.getpid():
                    session.close()
                session = _session = _Session()
    return session


def close() -> None:
    """Close this process's connection (the next call reconnects)."""
    global _session
    with _session_lock:
        if _session is not None and _session.pid == os.getpid():
            _session.close()
        _session = None


def cache_info() -> dict[str, int] | None:
    """The client cache's counters in this process (hits, misses, entries, bytes,
    invalidations, flushes, evictions and its bounds), or None when it is off."""
    return _current().cache_info()


def _run(make: Callable[[Session], Op], hit: Hit | None = None) -> Any:
    """Run an operation on this process's session (made, or made again, when needed)."""
    session = _session
    if session is None or not session.current:
        session = _current()
    return session.run(make, hit)


_operations = Operations(_run)

put = _operations.put
get = _operations.get
delete = _operations.delete
exists = _operations.exists
keys = _operations.keys
clear = _operations.clear
info = _operations.info
ensure = _operations.ensure
delete_table = _operations.delete_table
tables = _operations.tables
incr = _operations.incr
get_many = _operations.get_many
put_many = _operations.put_many


def table(name: str) -> StashTable:
    """A dict-like view of one table."""
    return StashTable(name)


class StashTable(TableOperations):
    """Dict-like interface to one stash table; every operation is one round trip."""

    _operations = _operations

    __getitem__ = TableOperations._getitem
    __setitem__ = TableOperations._setitem
    __delitem__ = TableOperations._delitem
    __len__ = TableOperations._len

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._contains(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def items(self) -> Iterator[tuple[str, Any]]:
        """(key, value) pairs, fetched in one round trip."""
        return iter(super().items())

    def values(self) -> Iterator[Any]:
        """Values, fetched in one round trip."""
        return iter(super().values())
