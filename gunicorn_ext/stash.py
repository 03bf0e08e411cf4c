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

Each process has its own connection, made on first use and remade after a fork; a lock
makes it safe to share between threads (gthread workers). An operation that finds the
server gone (for example while the master restarts the arbiter) reconnects and retries
for up to `retry_timeout` seconds before raising `StashError`. For asyncio code, the
same API is in `gunicorn_ext.astash`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from . import _ops
from ._ops import Batch, Disconnected, Features, Op, configure, settings
from .codec import Codec
from .errors import StashError, StashKeyNotFoundError, StashTableNotFoundError

__all__ = [
    "StashError",
    "StashKeyNotFoundError",
    "StashTable",
    "StashTableNotFoundError",
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

_MISSING = object()


class _Client:
    """This process's connection to the stash server, and what the server supports."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.generation = settings.generation
        self.url = settings.resolve_url()
        self.codec: Codec = settings.codec
        self.retry_timeout = settings.retry_timeout
        self.features = Features()
        self.lock = threading.Lock()
        self.redis = redis.Redis.from_url(
            self.url, retry=Retry(NoBackoff(), 0), **settings.connection_options()
        )

    def run(self, make: Callable[[], Op]) -> Any:
        deadline: float | None = None
        delay = 0.005
        with self.lock:
            while True:
                try:
                    return self._drive(make())
                except Disconnected as lost:
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + self.retry_timeout
                    if now >= deadline:
                        raise StashError(
                            f"cannot reach the stash server at {self.url}: {lost.__cause__}"
                        ) from lost.__cause__
                    time.sleep(min(delay, deadline - now))
                    delay = min(delay * 2, 0.2)

    def _drive(self, op: Op) -> Any:
        try:
            batch = next(op)
            while True:
                try:
                    replies = self._send(batch)
                except redis.ResponseError as error:
                    batch = op.throw(_ops.translate(error, batch))
                else:
                    batch = op.send(replies)
        except StopIteration as done:
            return done.value

    def _send(self, batch: Batch) -> list[Any]:
        try:
            if len(batch.commands) == 1 and not batch.transaction:
                return [self.redis.execute_command(*batch.commands[0])]
            with self.redis.pipeline(transaction=batch.transaction) as pipe:
                for command in batch.commands:
                    pipe.execute_command(*command)
                return pipe.execute()
        except (redis.AuthenticationError, redis.exceptions.AuthorizationError) as error:
            raise StashError(f"stash server at {self.url} refused us: {error}") from error
        except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
            self.redis.connection_pool.disconnect()
            if _ops.denied(error):
                raise StashError(_ops.permission_message(self.url)) from error
            raise Disconnected() from error
        except redis.ResponseError:
            raise
        except redis.RedisError as error:
            raise StashError(str(error)) from error

    def close(self) -> None:
        self.redis.connection_pool.disconnect()


_client: _Client | None = None
_client_lock = threading.Lock()


def _reset_after_fork() -> None:
    """A forked child must never use (or shut down) its parent's connection."""
    global _client, _client_lock
    _client = None
    _client_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def _current() -> _Client:
    global _client
    client = _client
    if client is None or client.pid != os.getpid() or client.generation != settings.generation:
        with _client_lock:
            client = _client
            if (client is None or client.pid != os.getpid()
                    or client.generation != settings.generation):
                if client is not None and client.pid == os.getpid():
                    client.close()
                client = _client = _Client()
    return client


def _run(make: Callable[[_Client], Op]) -> Any:
    client = _current()
    return client.run(lambda: make(client))


def close() -> None:
    """Close this process's connection (the next call reconnects)."""
    global _client
    with _client_lock:
        if _client is not None and _client.pid == os.getpid():
            _client.close()
        _client = None


def put(table: str, key: str, value: Any, ttl: float | None = None) -> None:
    """Store a value in a table (created if needed); with `ttl`, the key expires after it."""
    _run(lambda c: _ops.put(c.codec, table, key, value, ttl))


def get(table: str, key: str, default: Any = None) -> Any:
    """Retrieve a value, or `default` when the table or key does not exist."""
    return _run(lambda c: _ops.get(c.codec, table, key, default))


def delete(table: str, key: str) -> bool:
    """Delete a key; True if it was deleted, False if it did not exist."""
    return _run(lambda c: _ops.delete(table, key))


def exists(table: str, key: str | None = None) -> bool:
    """Whether the table (key None) or the key in it exists."""
    return _run(lambda c: _ops.exists(table, key))


def keys(table: str, pattern: str | None = None) -> list[str]:
    """The table's keys, optionally only those matching a shell-style glob pattern."""
    return _run(lambda c: _ops.keys(table, pattern))


def clear(table: str) -> None:
    """Delete all entries in a table (the arbiter keeps the empty table)."""
    _run(lambda c: _ops.clear(c.features, table))


def info(table: str) -> dict[str, Any]:
    """`{"table": name, "size": entries}`; raises StashTableNotFoundError if it is missing."""
    return _run(lambda c: _ops.info(table))


def ensure(table: str) -> None:
    """Create the table if it does not exist (idempotent)."""
    _run(lambda c: _ops.ensure(c.features, table))


def delete_table(table: str) -> None:
    """Delete an entire table."""
    _run(lambda c: _ops.delete_table(table))


def tables() -> list[str]:
    """All table names, sorted (the arbiter lists empty tables too)."""
    return _run(lambda c: _ops.tables())


def table(name: str) -> StashTable:
    """A dict-like view of one table."""
    return StashTable(name)


def incr(table: str, key: str, amount: int | float = 1) -> int | float:
    """Atomically add `amount` to a numeric value (missing counts as 0); returns the sum."""
    return _run(lambda c: _ops.incr(table, key, amount))


def get_many(table: str, keys: Iterable[str], default: Any = None) -> dict[str, Any]:
    """Several values in one round trip: `{key: value or default}` for every key asked."""
    return _run(lambda c: _ops.get_many(c.codec, table, keys, default))


def put_many(table: str, mapping: Mapping[str, Any], ttl: float | None = None) -> None:
    """Store several values in one round trip (atomically)."""
    _run(lambda c: _ops.put_many(c.codec, table, mapping, ttl))


class StashTable:
    """Dict-like interface to one stash table; every operation is one round trip."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        """Table name."""
        return self._name

    def __repr__(self) -> str:
        return f"StashTable({self._name!r})"

    def __getitem__(self, key: str) -> Any:
        value = get(self._name, key, _MISSING)
        if value is _MISSING:
            raise StashKeyNotFoundError(self._name, key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        put(self._name, key, value)

    def __delitem__(self, key: str) -> None:
        if not delete(self._name, key):
            raise StashKeyNotFoundError(self._name, key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and exists(self._name, key)

    def __iter__(self) -> Iterator[str]:
        return iter(keys(self._name))

    def __len__(self) -> int:
        return _run(lambda c: _ops.size(self._name))

    def get(self, key: str, default: Any = None) -> Any:
        """Value with default."""
        return get(self._name, key, default)

    def keys(self, pattern: str | None = None) -> list[str]:
        """All keys, optionally filtered by a glob pattern."""
        return keys(self._name, pattern)

    def clear(self) -> None:
        """Delete all entries."""
        clear(self._name)

    def items(self) -> Iterator[tuple[str, Any]]:
        """(key, value) pairs, fetched in one round trip."""
        return iter(_run(lambda c: _ops.items(c.codec, self._name)))

    def values(self) -> Iterator[Any]:
        """Values, fetched in one round trip."""
        return iter(_run(lambda c: _ops.values(c.codec, self._name)))

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store a value, optionally expiring after `ttl` seconds."""
        put(self._name, key, value, ttl)

    def incr(self, key: str, amount: int | float = 1) -> int | float:
        """Atomic increment."""
        return incr(self._name, key, amount)
