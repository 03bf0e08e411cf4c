"""The stash API for asyncio code (ASGI workers): every `stash` function, awaitable.

Usage::

    from gunicorn_ext import astash

    await astash.put("sessions", "user:1", {"name": "Alice"})
    user = await astash.get("sessions", "user:1")
    sessions = astash.table("sessions")
    await sessions.put("user:2", {"name": "Bob"})

It runs exactly the operations of `gunicorn_ext.stash` (same commands, same results,
same errors), over `redis.asyncio`, with one connection per process and event loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from . import _ops
from ._ops import Batch, Disconnected, Features, Op, configure, settings
from .codec import Codec
from .errors import StashError, StashKeyNotFoundError, StashTableNotFoundError

__all__ = [
    "AsyncStashTable",
    "StashError",
    "StashKeyNotFoundError",
    "StashTableNotFoundError",
    "aclose",
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

_MISSING = object()


class _Client:
    """This process's connection for one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.pid = os.getpid()
        self.loop = loop
        self.generation = settings.generation
        self.url = settings.resolve_url()
        self.codec: Codec = settings.codec
        self.retry_timeout = settings.retry_timeout
        self.features = Features()
        self.lock = asyncio.Lock()
        self.redis = redis.asyncio.Redis.from_url(
            self.url, retry=Retry(NoBackoff(), 0), **settings.connection_options()
        )

    async def run(self, make: Callable[[], Op]) -> Any:
        deadline: float | None = None
        delay = 0.005
        async with self.lock:
            while True:
                try:
                    return await self._drive(make())
                except Disconnected as lost:
                    now = self.loop.time()
                    if deadline is None:
                        deadline = now + self.retry_timeout
                    if now >= deadline:
                        raise StashError(
                            f"cannot reach the stash server at {self.url}: {lost.__cause__}"
                        ) from lost.__cause__
                    await asyncio.sleep(min(delay, deadline - now))
                    delay = min(delay * 2, 0.2)

    async def _drive(self, op: Op) -> Any:
        try:
            batch = next(op)
            while True:
                try:
                    replies = await self._send(batch)
                except redis.ResponseError as error:
                    batch = op.throw(_ops.translate(error, batch))
                else:
                    batch = op.send(replies)
        except StopIteration as done:
            return done.value

    async def _send(self, batch: Batch) -> list[Any]:
        try:
            if len(batch.commands) == 1 and not batch.transaction:
                return [await self.redis.execute_command(*batch.commands[0])]
            async with self.redis.pipeline(transaction=batch.transaction) as pipe:
                for command in batch.commands:
                    pipe.execute_command(*command)
                return await pipe.execute()
        except (redis.AuthenticationError, redis.exceptions.AuthorizationError) as error:
            raise StashError(f"stash server at {self.url} refused us: {error}") from error
        except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
            await self.redis.connection_pool.disconnect()
            if _ops.denied(error):
                raise StashError(_ops.permission_message(self.url)) from error
            raise Disconnected() from error
        except redis.ResponseError:
            raise
        except redis.RedisError as error:
            raise StashError(str(error)) from error

    async def close(self) -> None:
        await self.redis.connection_pool.disconnect()


_clients: dict[int, _Client] = {}


def _reset_after_fork() -> None:
    _clients.clear()


os.register_at_fork(after_in_child=_reset_after_fork)


def _current() -> _Client:
    loop = asyncio.get_running_loop()
    client = _clients.get(id(loop))
    if (client is None or client.loop is not loop or client.pid != os.getpid()
            or client.generation != settings.generation):
        for key, stale in list(_clients.items()):
            if stale.loop.is_closed():
                del _clients[key]
        client = _clients[id(loop)] = _Client(loop)
    return client


async def _run(make: Callable[[_Client], Op]) -> Any:
    client = _current()
    return await client.run(lambda: make(client))


async def aclose() -> None:
    """Close the connection of the running event loop (the next call reconnects)."""
    client = _clients.pop(id(asyncio.get_running_loop()), None)
    if client is not None and client.pid == os.getpid():
        await client.close()


async def put(table: str, key: str, value: Any, ttl: float | None = None) -> None:
    """Store a value in a table (created if needed); with `ttl`, the key expires after it."""
    await _run(lambda c: _ops.put(c.codec, table, key, value, ttl))


async def get(table: str, key: str, default: Any = None) -> Any:
    """Retrieve a value, or `default` when the table or key does not exist."""
    return await _run(lambda c: _ops.get(c.codec, table, key, default))


async def delete(table: str, key: str) -> bool:
    """Delete a key; True if it was deleted, False if it did not exist."""
    return await _run(lambda c: _ops.delete(table, key))


async def exists(table: str, key: str | None = None) -> bool:
    """Whether the table (key None) or the key in it exists."""
    return await _run(lambda c: _ops.exists(table, key))


async def keys(table: str, pattern: str | None = None) -> list[str]:
    """The table's keys, optionally only those matching a shell-style glob pattern."""
    return await _run(lambda c: _ops.keys(table, pattern))


async def clear(table: str) -> None:
    """Delete all entries in a table (the arbiter keeps the empty table)."""
    await _run(lambda c: _ops.clear(c.features, table))


async def info(table: str) -> dict[str, Any]:
    """`{"table": name, "size": entries}`; raises StashTableNotFoundError if it is missing."""
    return await _run(lambda c: _ops.info(table))


async def ensure(table: str) -> None:
    """Create the table if it does not exist (idempotent)."""
    await _run(lambda c: _ops.ensure(c.features, table))


async def delete_table(table: str) -> None:
    """Delete an entire table."""
    await _run(lambda c: _ops.delete_table(table))


async def tables() -> list[str]:
    """All table names, sorted (the arbiter lists empty tables too)."""
    return await _run(lambda c: _ops.tables())


def table(name: str) -> AsyncStashTable:
    """An awaitable view of one table."""
    return AsyncStashTable(name)


async def incr(table: str, key: str, amount: int | float = 1) -> int | float:
    """Atomically add `amount` to a numeric value (missing counts as 0); returns the sum."""
    return await _run(lambda c: _ops.incr(table, key, amount))


async def get_many(table: str, keys: Iterable[str], default: Any = None) -> dict[str, Any]:
    """Several values in one round trip: `{key: value or default}` for every key asked."""
    return await _run(lambda c: _ops.get_many(c.codec, table, keys, default))


async def put_many(table: str, mapping: Mapping[str, Any], ttl: float | None = None) -> None:
    """Store several values in one round trip (atomically)."""
    await _run(lambda c: _ops.put_many(c.codec, table, mapping, ttl))


class AsyncStashTable:
    """The asyncio twin of `StashTable`: the same methods, awaited (`async for` over keys)."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        """Table name."""
        return self._name

    def __repr__(self) -> str:
        return f"AsyncStashTable({self._name!r})"

    async def getitem(self, key: str) -> Any:
        """`table[key]`: the value, or StashKeyNotFoundError (a KeyError) if missing."""
        value = await get(self._name, key, _MISSING)
        if value is _MISSING:
            raise StashKeyNotFoundError(self._name, key)
        return value

    async def setitem(self, key: str, value: Any) -> None:
        """`table[key] = value`."""
        await put(self._name, key, value)

    async def delitem(self, key: str) -> None:
        """`del table[key]`: StashKeyNotFoundError (a KeyError) if missing."""
        if not await delete(self._name, key):
            raise StashKeyNotFoundError(self._name, key)

    async def contains(self, key: str) -> bool:
        """`key in table`."""
        return await exists(self._name, key)

    async def len(self) -> int:
        """`len(table)`."""
        return await _run(lambda c: _ops.size(self._name))

    async def __aiter__(self) -> AsyncIterator[str]:
        for key in await keys(self._name):
            yield key

    async def get(self, key: str, default: Any = None) -> Any:
        """Value with default."""
        return await get(self._name, key, default)

    async def keys(self, pattern: str | None = None) -> list[str]:
        """All keys, optionally filtered by a glob pattern."""
        return await keys(self._name, pattern)

    async def clear(self) -> None:
        """Delete all entries."""
        await clear(self._name)

    async def items(self) -> list[tuple[str, Any]]:
        """(key, value) pairs, fetched in one round trip."""
        return await _run(lambda c: _ops.items(c.codec, self._name))

    async def values(self) -> list[Any]:
        """Values, fetched in one round trip."""
        return await _run(lambda c: _ops.values(c.codec, self._name))

    async def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store a value, optionally expiring after `ttl` seconds."""
        await put(self._name, key, value, ttl)

    async def incr(self, key: str, amount: int | float = 1) -> int | float:
        """Atomic increment."""
        return await incr(self._name, key, amount)
