"""What each stash operation sends and how it reads the replies, shared by both APIs.

Each operation is a generator that yields batches of Redis commands and receives their
replies, so the blocking API (`stash`) and the asyncio API (`astash`) run the very same
logic and cannot drift apart. A batch is one round trip: a single command, a pipeline,
or a MULTI/EXEC transaction.

Server errors are thrown back into the operation as `StashError` (or `Unsupported` for
a command the server does not know), so an operation can fall back from the arbiter's
own `STASH.*` commands to plain Redis commands when it talks to a real Redis.
"""

from __future__ import annotations

import fnmatch
import grp
import math
import os
import pwd
import threading
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from .codec import DEFAULT_CODEC, Codec
from .errors import StashError, StashTableNotFoundError

URL_ENV = "GUNICORN_STASH_URL"
SCAN_COUNT = 1000


@dataclass(frozen=True)
class Batch:
    """Commands sent in one round trip."""

    commands: tuple[tuple[Any, ...], ...]
    transaction: bool = False


Op = Generator[Batch, list[Any], Any]


class Unsupported(StashError):
    """The server answered `unknown command`: the operation may fall back."""


class Disconnected(Exception):
    """The server could not be reached or the connection broke: the runner retries."""


class _Unset:
    pass


class Features:
    """What one server supports, learnt from its replies (None: not known yet)."""

    def __init__(self) -> None:
        self.native: bool | None = None


UNSET: Any = _Unset()


class Settings:
    """Process-wide stash settings; `generation` tells clients to rebuild after a change."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.codec: Codec = DEFAULT_CODEC
        self.timeout: float = 30.0
        self.retry_timeout: float = 5.0
        self.generation = 0
        self.lock = threading.Lock()

    def resolve_url(self) -> str:
        url = self.url or os.environ.get(URL_ENV)
        if not url:
            raise StashError(
                f"no stash server configured: {URL_ENV} is not set. Run gunicorn with "
                "gunicorn_ext (`-c python:gunicorn_ext.conf`, or enable_stash() in the "
                "config file), or call gunicorn_ext.stash.configure(url=...)."
            )
        return url

    def connection_options(self) -> dict[str, Any]:
        """redis-py options: no retries of its own (ours are the same on every version)."""
        return {
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
        }


settings = Settings()


def configure(
    *,
    url: str | None = UNSET,
    codec: Codec | None = UNSET,
    timeout: float = UNSET,
    retry_timeout: float = UNSET,
) -> None:
    """Point the stash (both APIs, this process) at a server, or change its codec.

    `url` is a redis-py URL (`unix:///path.sock`, `redis://host:6379/0`); None goes
    back to the `GUNICORN_STASH_URL` environment variable. `codec=None` restores the
    default JSON codec. `timeout` bounds one socket operation; `retry_timeout` is how
    long an operation keeps reconnecting (for example while the arbiter restarts).
    Arguments left out keep their current value.
    """
    with settings.lock:
        if url is not UNSET:
            settings.url = url
        if codec is not UNSET:
            settings.codec = DEFAULT_CODEC if codec is None else codec
        if timeout is not UNSET:
            settings.timeout = float(timeout)
        if retry_timeout is not UNSET:
            settings.retry_timeout = float(retry_timeout)
        settings.generation += 1


def translate(error: redis.RedisError, batch: Batch) -> StashError:
    """The stash exception for a server error reply."""
    message = str(error)
    lowered = message.lower()
    if "unknown command" in lowered or "unknown subcommand" in lowered:
        unsupported = Unsupported(message)
        unsupported.__cause__ = error
        return unsupported
    stash_error = StashError(message)
    stash_error.__cause__ = error
    return stash_error


def denied(error: BaseException) -> bool:
    """Whether a connection failed for lack of permission (never worth retrying)."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, PermissionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _identity(uid: int, gid: int) -> str:
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return f"{user}:{group} ({uid}:{gid})"


def _describe(path: str) -> str:
    try:
        info = os.stat(path)
    except OSError as error:
        return f"unreadable: {error.strerror}"
    return f"owner {_identity(info.st_uid, info.st_gid)}, mode {oct(info.st_mode & 0o777)}"


def permission_message(url: str) -> str:
    """What was refused and what to change, for a connection denied by file permissions."""
    parts = urlsplit(url)
    me = _identity(os.geteuid(), os.getegid())
    if parts.scheme != "unix":
        return (f"permission denied connecting to the stash server at {parts.hostname}:"
                f"{parts.port} (this process runs as {me})")
    path = parts.path
    directory, blocked = os.path.dirname(path), None
    while directory and directory != os.path.dirname(directory):
        if not os.access(directory, os.X_OK):
            blocked = directory
        directory = os.path.dirname(directory)
    what = (f"it may not enter the directory {blocked} ({_describe(blocked)})" if blocked
            else f"it may not write to the socket ({_describe(path)})")
    return (f"permission denied on the stash socket {path}: this process runs as {me}, "
            f"and {what}. Run the workers as the user the socket belongs to (gunicorn_ext "
            "gives its socket to gunicorn's `user`/`group`, the -u/-g options), or let "
            "this user in with enable_stash(socket_perm=...) and a shared group.")


def name(value: Any, what: str = "key") -> bytes:
    """A table or key name on the wire: str only, any code point (surrogates included)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    raise StashError(f"stash {what} must be a str, not {type(value).__name__}")


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


def _one(command: tuple[Any, ...]) -> Batch:
    return Batch((command,))


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


def delete(table: str, key: str) -> Op:
    (removed,) = yield _one(("HDEL", name(table, "table"), name(key)))
    return bool(removed)


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
    kind, count = yield Batch((("TYPE", t), ("HLEN", t)), transaction=True)
    if text(kind) == "none":
        raise StashTableNotFoundError(table)
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
        (result,) = yield _one((command, t, k, amount))
    except StashError as error:
        raise StashError(f"cannot increment {key!r} in table {table!r}: {error}") from None
    return int(result) if command == "HINCRBY" else float(result)
