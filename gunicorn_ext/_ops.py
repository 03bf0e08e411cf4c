"""What each stash operation sends and how it reads the replies, shared by both APIs.

Each operation is a generator that yields batches of Redis commands and receives their
replies, so the blocking API (`stash`) and the asyncio API (`astash`) run the very same
logic and cannot drift apart. A batch is one round trip: a single command, a pipeline,
or a MULTI/EXEC transaction. Nothing here does I/O (see `_core` for who does).

Server errors are thrown back into the operation as `StashError` (or `Unsupported` for
a command the server does not know), so an operation can fall back from the arbiter's
own `STASH.*` commands to plain Redis commands when it talks to a real Redis.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Generator, Iterable, Mapping
from typing import Any, NamedTuple

from .codec import Codec
from .errors import StashError, StashKeyNotFoundError, StashTableNotFoundError
from .options import table_name

SCAN_COUNT = 1000
_MISSING = object()


class Batch(NamedTuple):
    """Commands sent in one round trip (a named tuple: made on every call, and made
    faster than a frozen dataclass, which counts when a read is a cache hit)."""

    commands: tuple[tuple[Any, ...], ...]
    transaction: bool = False
    # Deliver each command's error reply in its place (as StashError) instead of
    # throwing the first one into the operation.
    errors_as_replies: bool = False
    # Must never run twice (an increment): once it may have reached the server, a lost
    # connection or a timeout is reported as an unknown outcome, never answered by
    # sending it again.
    once: bool = False


Op = Generator[Batch, list[Any], Any]


class Unsupported(StashError):
    """The server answered `unknown command`: the operation may fall back."""


class Features:
    """What one server supports, learnt from its replies (None: not known yet)."""

    def __init__(self) -> None:
        self.native: bool | None = None


def name(value: Any, what: str = "key") -> bytes:
    """A table or key name on the wire: str only, any code point (surrogates included);
    a table name is never empty."""
    if not isinstance(value, str):
        raise StashError(f"stash {what} must be a str, not {type(value).__name__}")
    if not value and what == "table":
        try:
            table_name(value)
        except ValueError as error:
            raise StashError(str(error)) from None
    return value.encode("utf-8", "surrogateescape")


def text(value: Any) -> str:
    """A name or status as read back from the server."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def ttl_ms(ttl: float) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise StashError(f"ttl must be a number of seconds, not {type(ttl).__name__}")
    if not ttl > 0 or math.isinf(ttl):
        raise StashError(f"ttl must be a positive, finite number of seconds, not {ttl!r}")
    return max(1, math.ceil(ttl * 1000))


_new_batch = tuple.__new__


def _one(command: tuple[Any, ...]) -> Batch:
    """A batch of one command and no flags: nearly every call's batch, so it is made
    without the named tuple's `__new__` (Python code, for its default values)."""
    return _new_batch(Batch, ((command,), False, False, False))


def _with_ttl(commands: list[tuple[Any, ...]], table: bytes, fields: list[bytes],
              ttl: float) -> Op:
    ms = ttl_ms(ttl)
    commands.append(("HPEXPIRE", table, ms, "FIELDS", len(fields), *fields))
    try:
        yield Batch(tuple(commands), transaction=True)
    except Unsupported:
        raise StashError(
            "put(..., ttl=...) needs per-field expiry (HPEXPIRE, Redis 7.4 and newer); "
            "this stash server does not support it"
        ) from None


def put(codec: Codec, table: str, key: str, value: Any, ttl: float | None) -> Op:
    t, k, data = name(table, "table"), name(key), codec.encode(value)
    if ttl is None:
        yield _one(("HSET", t, k, data))
    else:
        yield from _with_ttl([("HSET", t, k, data)], t, [k], ttl)


def put_many(codec: Codec, table: str, mapping: Mapping[str, Any], ttl: float | None) -> Op:
    t = name(table, "table")
    fields: list[bytes] = []
    args: list[bytes] = []
    for key, value in mapping.items():
        fields.append(name(key))
        args += [fields[-1], codec.encode(value)]
    if not fields:
        return
    if ttl is None:
        yield _one(("HSET", t, *args))
    else:
        yield from _with_ttl([("HSET", t, *args)], t, fields, ttl)


def get(codec: Codec, table: str, key: str, default: Any) -> Op:
    (reply,) = yield _one(("HGET", name(table, "table"), name(key)))
    return value(codec, reply, default)


def value(codec: Codec, reply: Any, default: Any) -> Any:
    """What `get` returns for an HGET reply (from the server or the client cache)."""
    return default if reply is None else codec.decode(reply)


def get_many(codec: Codec, table: str, keys: Iterable[str], default: Any) -> Op:
    wanted = list(keys)
    if not wanted:
        return {}
    (replies,) = yield _one(("HMGET", name(table, "table"), *(name(k) for k in wanted)))
    return {
        key: default if reply is None else codec.decode(reply)
        for key, reply in zip(wanted, replies, strict=True)
    }


def get_item(codec: Codec, table: str, key: str) -> Op:
    """`table[key]`: like get, but a missing key raises StashKeyNotFoundError."""
    value = yield from get(codec, table, key, _MISSING)
    if value is _MISSING:
        raise StashKeyNotFoundError(table, key)
    return value


def delete(table: str, key: str) -> Op:
    # Sent twice, its second reply would say "nothing to delete" after the first deleted.
    (removed,) = yield Batch((("HDEL", name(table, "table"), name(key)),), once=True)
    return bool(removed)


def delete_item(table: str, key: str) -> Op:
    """`del table[key]`: like delete, but a missing key raises StashKeyNotFoundError."""
    if not (yield from delete(table, key)):
        raise StashKeyNotFoundError(table, key)


def exists(table: str, key: str | None) -> Op:
    if key is None:
        (kind,) = yield _one(("TYPE", name(table, "table")))
        return text(kind) == "hash"
    (found,) = yield _one(("HEXISTS", name(table, "table"), name(key)))
    return bool(found)


def keys(table: str, pattern: str | None) -> Op:
    (fields,) = yield _one(("HKEYS", name(table, "table")))
    found = [text(field) for field in fields]
    if pattern is None:
        return found
    return [key for key in found if fnmatch.fnmatchcase(key, pattern)]


def items(codec: Codec, table: str) -> Op:
    (pairs,) = yield _one(("HGETALL", name(table, "table")))
    if isinstance(pairs, list):
        pairs = dict(zip(pairs[::2], pairs[1::2], strict=True))
    return [(text(field), codec.decode(data)) for field, data in pairs.items()]


def values(codec: Codec, table: str) -> Op:
    (datas,) = yield _one(("HVALS", name(table, "table")))
    return [codec.decode(data) for data in datas]


def size(table: str) -> Op:
    (count,) = yield _one(("HLEN", name(table, "table")))
    return int(count)


def _native(features: Features, command: tuple[Any, ...]) -> Op:
    """Send a STASH.* command unless the server is known to lack them; returns whether it
    ran, and remembers the answer for the next call."""
    if features.native is False:
        return False
    try:
        yield _one(command)
    except Unsupported:
        features.native = False
        return False
    features.native = True
    return True


def clear(features: Features, table: str) -> Op:
    """Empties a table; on a server without STASH.CLEAR the (then empty) hash goes away."""
    t = name(table, "table")
    if not (yield from _native(features, ("STASH.CLEAR", t))):
        yield _one(("DEL", t))


def ensure(features: Features, table: str) -> Op:
    """Creates an empty table; a plain Redis cannot hold an empty hash, so there it is a no-op."""
    yield from _native(features, ("STASH.ENSURE", name(table, "table")))


def info(table: str) -> Op:
    t = name(table, "table")
    kind, count = yield Batch((("TYPE", t), ("HLEN", t)), transaction=True,
                              errors_as_replies=True)
    kind = text(kind)
    if kind == "none":
        raise StashTableNotFoundError(table)
    if kind != "hash":
        raise StashError(f"{table!r} is not a stash table: the server holds a {kind} "
                         "under that name, and tables are hashes")
    return {"table": table, "size": int(count)}


def delete_table(table: str) -> Op:
    yield _one(("DEL", name(table, "table")))


def tables() -> Op:
    found: dict[str, None] = {}
    cursor: Any = 0
    while True:
        (reply,) = yield _one(("SCAN", cursor, "COUNT", SCAN_COUNT, "TYPE", "hash"))
        cursor, names = reply
        found.update((text(n), None) for n in names)
        if int(cursor) == 0:
            return sorted(found)


def incr(table: str, key: str, amount: int | float) -> Op:
    t, k = name(table, "table"), name(key)
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise StashError(f"incr amount must be an int or a float, not {type(amount).__name__}")
    command = "HINCRBY" if isinstance(amount, int) else "HINCRBYFLOAT"
    try:
        (result,) = yield Batch(((command, t, k, amount),), once=True)
    except StashError as error:
        raise StashError(f"cannot increment {key!r} in table {table!r}: {error}") from None
    return int(result) if command == "HINCRBY" else float(result)
