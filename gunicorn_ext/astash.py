"""The stash API for asyncio code (ASGI workers): every `stash` function, awaitable.

Usage::

    from gunicorn_ext import astash

    await astash.put("sessions", "user:1", {"name": "Alice"})
    user = await astash.get("sessions", "user:1")
    sessions = astash.table("sessions")
    await sessions.put("user:2", {"name": "Bob"})

It runs exactly the operations of `gunicorn_ext.stash` (the same `_core.Operations`:
same commands, same results, same errors), over `redis.asyncio`, with up to
`max_connections` connections per process and event loop, each lent to one operation at a
time, so that concurrent tasks proceed in parallel.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ._core import (
    MISS,
    RESET,
    Hit,
    NotSent,
    Operations,
    Pause,
    Session,
    TableOperations,
    aconnected,
    awaitable_methods,
    configure,
    plan,
)
from ._ops import Batch, Op
from .cluster import connect_async
from .errors import (
    StashError,
    StashKeyNotFoundError,
    StashOutcomeUnknownError,
    StashTableNotFoundError,
)

__all__ = [
    "AsyncStashTable",
    "StashError",
    "StashKeyNotFoundError",
    "StashOutcomeUnknownError",
    "StashTableNotFoundError",
    "aclose",
    "cache_info",
    "clear",
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
    out on (the asyncio twin of `stash._Lane`): held from its first command, so that a
    command is one send and one read; pipelines and the check before a batch that must
    not run twice go through the client's pool."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.connection: Any = None
        # A cluster client has no single connection: it places each command itself.
        self.direct = hasattr(client.connection_pool, "get_connection")

    async def command(self, command: tuple[Any, ...]) -> Any:
        """One command's reply (an error reply raised as redis-py raises it)."""
        connection = self.connection
        if connection is None:
            if not self.direct:
                return await self.client.execute_command(*command)
            connection = self.connection = await self.client.connection_pool.get_connection()
        # On a failure or a cancellation the connection disconnects itself (so no reply
        # is left unread); the next send reconnects.
        await connection.send_packed_command(connection.pack_command(*command))
        return await connection.read_response()

    async def disconnect(self) -> None:
        """Close its connection (held or in the pool); the next command reconnects."""
        await self.client.connection_pool.disconnect()

    async def give_back(self) -> None:
        """Return the held connection to the client's pool (its own commands take it)."""
        if self.connection is not None:
            connection, self.connection = self.connection, None
            await self.client.connection_pool.release(connection)

    async def check(self) -> None:
        """Connect, or find the connection the server closed and reconnect, before a batch
        that must not run twice: a failure here means it was certainly never sent."""
        if not self.direct:
            return  # a cluster: its connections are per node, any failure counts as sent
        await self.give_back()
        try:
            self.connection = await self.client.connection_pool.get_connection()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
            raise NotSent() from error


class _Lanes:
    """Up to `size` lanes, each with one connection of its own, lent to one operation at
    a time (the asyncio twin of `stash._Lanes`): concurrent tasks proceed in parallel,
    each operation with its connection to itself."""

    def __init__(self, make: Callable[[], _Lane], size: int) -> None:
        self.make = make
        self.idle: list[_Lane] = []
        self.made: list[_Lane] = []
        self.free = asyncio.Semaphore(size)

    async def take(self) -> _Lane:
        await self.free.acquire()
        if self.idle:
            return self.idle.pop()
        lane = self.make()
        self.made.append(lane)
        return lane

    def give(self, lane: _Lane) -> None:
        self.idle.append(lane)
        self.free.release()

    async def close(self) -> None:
        for lane in list(self.made):
            await lane.disconnect()


class _Session(Session):
    """This process's connections for one event loop (a bounded set of lanes)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.lanes = _Lanes(self._client, self.max_connections)

    def _client(self) -> _Lane:
        return _Lane(connect_async(
            self.url, retry=Retry(NoBackoff(), 0), **self.connection_options,
            redis_connect_func=functools.partial(aconnected, self)))

    async def run(self, make: Callable[[Session], Op], hit: Hit | None) -> Any:
        if hit is not None and self.cache is not None:
            value = hit(self)
            if value is not MISS:
                return value
        lane = await self.lanes.take()
        try:
            steps = plan(self, make)
            effect = next(steps)
            while True:
                try:
                    outcome = await self._perform(lane, effect)
                except (redis.RedisError, OSError, NotSent) as error:
                    effect = steps.throw(error)
                else:
                    effect = steps.send(outcome)
        except StopIteration as done:  # the plan's result
            return done.value
        finally:
            self.lanes.give(lane)

    async def _perform(self, lane: _Lane, effect: Any) -> Any:
        if isinstance(effect, Pause):
            await asyncio.sleep(effect.seconds)
        elif effect is RESET:
            await lane.disconnect()
        else:
            return await self._send(lane, effect)
        return None

    async def _send(self, lane: _Lane, batch: Batch) -> list[Any]:
        if batch.once:
            await lane.check()
        if len(batch.commands) == 1 and not batch.transaction:
            return [await lane.command(batch.commands[0])]
        await lane.give_back()
        async with lane.client.pipeline(transaction=batch.transaction) as pipe:
            for command in batch.commands:
                pipe.execute_command(*command)
            return await pipe.execute(raise_on_error=False)

    async def close(self) -> None:
        await self.lanes.close()
        if self.cache is not None:
            self.cache.close()


_sessions: dict[int, _Session] = {}
os.register_at_fork(after_in_child=_sessions.clear)


def _current() -> _Session:
    loop = asyncio.get_running_loop()
    session = _sessions.get(id(loop))
    if session is None or session.loop is not loop or not session.current:
        for key, stale in list(_sessions.items()):
            if stale.loop.is_closed():
                del _sessions[key]
        session = _sessions[id(loop)] = _Session(loop)
    return session


async def aclose() -> None:
    """Close the connection of the running event loop (the next call reconnects)."""
    session = _sessions.pop(id(asyncio.get_running_loop()), None)
    if session is not None and session.pid == os.getpid():
        await session.close()


def cache_info() -> dict[str, int] | None:
    """The client cache's counters for the running event loop's session (see
    `stash.cache_info`), or None when it is off. Not awaitable: it does no I/O."""
    return _current().cache_info()


@awaitable_methods
class _AsyncOperations(Operations):
    """Every operation as a coroutine function."""


_operations = _AsyncOperations(lambda make, hit=None: _current().run(make, hit))

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


def table(name: str) -> AsyncStashTable:
    """An awaitable view of one table."""
    return AsyncStashTable(name)


@awaitable_methods
class AsyncStashTable(TableOperations):
    """The asyncio twin of `StashTable`: the same methods, awaited (`async for` over keys)."""

    _operations = _operations

    getitem = TableOperations._getitem
    setitem = TableOperations._setitem
    delitem = TableOperations._delitem
    contains = TableOperations._contains
    len = TableOperations._len

    async def __aiter__(self) -> AsyncIterator[str]:
        for key in await self.keys():
            yield key
