"""The one layer `stash` and `astash` share: every operation, the retry plan, and the
classification of failures, written once.

Like redis-py's command mixins (one `HashCommands` class serves the blocking client and,
as `AsyncHashCommands`, the asyncio one), `Operations` holds each public operation once;
what differs is only its runner. The blocking runner returns the result, the asyncio
runner returns an awaitable, and `awaitable_methods` makes the asyncio subclasses'
methods true coroutine functions.

Each call runs as a `plan`: a generator that drives the operation (from `_ops`), and
yields effects for the runner to perform: a `Batch` to send, `RESET` (drop the broken
connection) or a `Pause`. So the only code the two runners do not share is their I/O:
sending a batch, sleeping, disconnecting.
"""

from __future__ import annotations

import functools
import grp
import inspect
import logging
import os
import pwd
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import redis

from . import _ops
from ._cache import DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, MISS, ClientCache, Memo
from ._ops import Batch, Features, Op, Unsupported
from .codec import DEFAULT_CODEC, Codec
from .errors import StashError, StashOutcomeUnknownError
from .wire import CLIENT_CACHE_ENV, URL_ENV, is_cluster, redact

FIRST_PAUSE = 0.005
MAX_PAUSE = 0.2
DEFAULT_MAX_CONNECTIONS = 16


class _Unset:
    pass


UNSET: Any = _Unset()


class Settings:
    """Process-wide stash settings; `generation` tells sessions to rebuild after a change."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.codec: Codec = DEFAULT_CODEC
        self.timeout: float = 30.0
        self.retry_timeout: float = 5.0
        self.client_cache: bool | None = None  # None: CLIENT_CACHE_ENV decides
        self.cache_max_entries = DEFAULT_MAX_ENTRIES
        self.cache_max_bytes = DEFAULT_MAX_BYTES
        self.max_connections = DEFAULT_MAX_CONNECTIONS
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


settings = Settings()


def configure(
    *,
    url: str | None = UNSET,
    codec: Codec | None = UNSET,
    timeout: float = UNSET,
    retry_timeout: float = UNSET,
    client_cache: bool | None = UNSET,
    cache_max_entries: int = UNSET,
    cache_max_bytes: int = UNSET,
    max_connections: int = UNSET,
) -> None:
    """Point the stash (both APIs, this process) at a server, or change its codec.

    `url` is a redis-py URL (`unix:///path.sock`, `redis://host:6379/0`); None goes
    back to the `GUNICORN_STASH_URL` environment variable. `codec=None` restores the
    default JSON codec. `timeout` bounds one socket operation; `retry_timeout` is how
    long an operation keeps reconnecting (for example while the arbiter restarts).
    `client_cache=True` answers repeated reads of unchanged fields from this process's
    memory (kept fresh by the server's CLIENT TRACKING; None goes back to what
    `enable_stash(client_cache=...)` set), holding at most `cache_max_entries` fields
    and `cache_max_bytes` bytes (least recently used first out). `max_connections`
    bounds the connections one process (one event loop, for astash) opens, so that
    concurrent calls from threads or tasks proceed in parallel.
    Arguments left out keep their current value.
    """
    for label, value in (("cache_max_entries", cache_max_entries),
                         ("cache_max_bytes", cache_max_bytes),
                         ("max_connections", max_connections)):
        if value is not UNSET and (isinstance(value, bool) or not isinstance(value, int)
                                   or value < (1 if label == "max_connections" else 0)):
            raise StashError(f"{label} must be an int >= "
                             f"{1 if label == 'max_connections' else 0}, not {value!r}")
    with settings.lock:
        if url is not UNSET:
            settings.url = url
        if codec is not UNSET:
            settings.codec = DEFAULT_CODEC if codec is None else codec
        if timeout is not UNSET:
            settings.timeout = float(timeout)
        if retry_timeout is not UNSET:
            settings.retry_timeout = float(retry_timeout)
        if client_cache is not UNSET:
            settings.client_cache = None if client_cache is None else bool(client_cache)
        if cache_max_entries is not UNSET:
            settings.cache_max_entries = cache_max_entries
        if cache_max_bytes is not UNSET:
            settings.cache_max_bytes = cache_max_bytes
        if max_connections is not UNSET:
            settings.max_connections = max_connections
        settings.generation += 1


class Session:
    """What a process's connections work with (made per process, and per event loop for
    astash): the runners add their bounded set of redis-py clients; `cache` is the client
    cache, or None."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.generation = settings.generation
        self.url = settings.resolve_url()
        self.codec: Codec = settings.codec
        self.retry_timeout = settings.retry_timeout
        self.features = Features()
        # No retries inside redis-py: the plan's are the same on every redis-py version.
        self.connection_options = {"socket_timeout": settings.timeout,
                                   "socket_connect_timeout": settings.timeout}
        self.max_connections = settings.max_connections
        self.cache = self._client_cache()
        if self.cache is not None:
            self.codec = Memo(self.codec)

    def _client_cache(self) -> ClientCache | None:
        wanted = settings.client_cache
        if wanted is None:
            wanted = os.environ.get(CLIENT_CACHE_ENV, "") == "1"
        if not wanted:
            return None
        if is_cluster(self.url):
            raise StashError("client_cache is not available on a Redis Cluster (its "
                             "invalidations come from every node): turn it off")
        return ClientCache(self.url, settings.timeout, settings.cache_max_entries,
                           settings.cache_max_bytes)

    def cache_info(self) -> dict[str, int] | None:
        return None if self.cache is None else self.cache.info()

    @property
    def current(self) -> bool:
        """False after configure(): make a new session. (A forked child never sees its
        parent's: the runners drop their sessions in the child at fork, so no call pays
        for a getpid.)"""
        return self.generation == settings.generation


# --- the server's identity ------------------------------------------------------------

#: gunicorn's error log (a worker's messages land where the master's do).
log = logging.getLogger("gunicorn.error")
_RUN_ID = re.compile(r"^run_id:(\w+)", re.M)
_AOF_ON = re.compile(r"^aof_enabled:1", re.M)
#: The run id each server URL had when this process last connected to it.
_run_ids: dict[str, str] = {}


def note_server(url: str, info: Any) -> None:
    """On every new connection (INFO server persistence): say when the server has
    restarted since this process last spoke to it, and whether its data survived. A
    restarted arbiter without persistence is empty; the workers are the ones to know."""
    text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    found = _RUN_ID.search(text)
    if found is None:
        return
    run_id, previous = found.group(1), _run_ids.get(url)
    _run_ids[url] = run_id
    if previous is not None and previous != run_id:
        what = ("its tables were reloaded from its append-only files" if _AOF_ON.search(text)
                else "it keeps no persistence, so every table it held is gone")
        log.warning("Stash server at %s restarted (run id %s, was %s): %s", redact(url),
                    run_id, previous, what)


def connected(session: Session, connection: Any) -> None:
    """redis-py's `redis_connect_func` for the blocking client: its usual handshake,
    then the server's identity."""
    connection.on_connect()
    try:
        connection.send_command("INFO", "server", "persistence")
        note_server(session.url, connection.read_response())
    except redis.ResponseError:  # INFO not allowed for this user: nothing to compare
        pass


async def aconnected(session: Session, connection: Any) -> None:
    """`connected` for the asyncio client."""
    await connection.on_connect()
    try:
        await connection.send_command("INFO", "server", "persistence")
        note_server(session.url, await connection.read_response())
    except redis.ResponseError:
        pass


# --- failures ---------------------------------------------------------------------------


class Disconnected(Exception):
    """The server could not be reached or the connection broke. `sent`: whether the
    batch may have reached the server. The plan starts the operation again, unless it
    was sent and must not run twice."""

    def __init__(self, sent: bool) -> None:
        super().__init__()
        self.sent = sent


class NotSent(Exception):
    """Raised by a runner (from the redis-py error) when a batch failed before any of it
    was written: the connection to the server could not be made."""


def translate(error: redis.ResponseError) -> StashError:
    """The stash exception for a server's error reply."""
    message = str(error)
    lowered = message.lower()
    kind = Unsupported if "unknown command" in lowered or "unknown subcommand" in lowered \
        else StashError
    translated = kind(message)
    translated.__cause__ = error
    return translated


def failure(error: BaseException, url: str) -> StashError:
    """What a failed round trip means, for both APIs.

    A server's error reply returns the StashError to throw into the operation (which may
    fall back). A missing or broken connection raises Disconnected: the plan starts the
    operation again. Refused credentials, file permissions (never transient) and
    anything else raise StashError at once.
    """
    sent = True
    if isinstance(error, NotSent) and error.__cause__ is not None:
        sent, error = False, error.__cause__
    if isinstance(error, (redis.AuthenticationError, redis.exceptions.AuthorizationError)):
        raise StashError(f"stash server at {redact(url)} refused us: {error}") from error
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError, OSError)):
        if denied(error):
            raise StashError(permission_message(url)) from error
        raise Disconnected(sent) from error
    if isinstance(error, redis.ResponseError):
        return translate(error)
    raise StashError(str(error)) from error


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


# --- the plan: one operation from its first batch to its result --------------------------


@dataclass(frozen=True)
class Pause:
    """Wait this long before starting the operation again."""

    seconds: float


RESET: Any = object()  # drop the connection: the next batch reconnects
Effect = Any  # Batch | Pause | RESET


def plan(session: Session, make: Callable[[Session], Op]) -> Generator[Effect, Any, Any]:
    """Run the operation `make(session)`: yield its batches and receive their replies (or
    the redis-py error a batch raised). When the server cannot be reached, drop the
    connection and start the operation again, for up to `retry_timeout` seconds from the
    first failure: at once the first time (a connection is not checked before each
    command, so the usual cause is one the server closed while it sat idle, and a new
    connection settles it), then after a pause of 5 ms doubling to 200 ms. A batch that
    must not run twice (`Batch.once`) is started again only if it certainly never
    reached the server."""
    deadline: float | None = None
    pause = 0.0
    cache = session.cache
    while True:
        operation = make(session)
        batch: Batch | None = None
        try:
            batch = next(operation)
            while True:
                try:
                    replies = _settle(batch, (yield batch) if cache is None
                                      else (yield from _through_cache(cache, batch)))
                except (redis.RedisError, OSError, NotSent) as error:
                    batch = operation.throw(failure(error, session.url))
                else:
                    batch = operation.send(replies)
        except StopIteration as done:
            return done.value
        except Disconnected as lost:
            yield RESET
            if lost.sent and batch is not None and batch.once:
                raise outcome_unknown(batch, session.url, lost.__cause__) from lost.__cause__
            now = time.monotonic()
            deadline = now + session.retry_timeout if deadline is None else deadline
            if now >= deadline:
                raise StashError(f"cannot reach the stash server at {redact(session.url)}: "
                                 f"{lost.__cause__}") from lost.__cause__
            if pause:
                yield Pause(min(pause, deadline - now))
            pause = min(pause * 2, MAX_PAUSE) if pause else FIRST_PAUSE


def _through_cache(cache: ClientCache, batch: Batch) -> Generator[Effect, Any, Any]:
    """Yield `batch` for the runner to send, with the client cache told: a read takes a
    ticket before it is sent (its reply is stored unless its table changed meanwhile) and
    a write drops its tables' entries once it is over, however it ended."""
    ticket = cache.begin(batch)
    replies = None
    try:
        replies = yield batch
        return replies
    finally:
        if ticket is not None:
            cache.end(ticket, replies)
        else:
            cache.wrote(batch)


def cached(session: Session, make: Callable[[Session], Op]) -> Any:
    """The result of a read operation from the client cache without any I/O, or MISS:
    the operation runs on the cache's entries in place of the server's replies."""
    operation = make(session)
    try:
        batch = next(operation)
        replies = session.cache.lookup(batch)  # type: ignore[union-attr]
        if replies is None:
            return MISS
        operation.send(replies)
    except StopIteration as done:
        return done.value
    finally:
        operation.close()
    return MISS


def cached_get(session: Session, table: str, key: str, default: Any) -> Any:
    """`get` from the client cache, or MISS: the names and the result of `_ops.get`,
    without making the operation (a generator, its batch, its end), which would cost
    a hit more than the lookup itself. `get` is the call workers repeat most."""
    reply = session.cache.field(_ops.name(table, "table"), _ops.name(key))  # type: ignore[union-attr]
    return reply if reply is MISS else _ops.value(session.codec, reply, default)


def outcome_unknown(batch: Batch, url: str, cause: BaseException | None
                    ) -> StashOutcomeUnknownError:
    command, table = batch.commands[0][0], batch.commands[0][1]
    shown = table.decode("utf-8", "replace") if isinstance(table, bytes) else str(table)
    return StashOutcomeUnknownError(
        f"{command} on table {shown!r}: the connection to the stash server at "
        f"{redact(url)} failed after the command may have reached it ({cause or 'lost'}), "
        "so it may or may not have run; it was not sent again, since running it twice "
        "would apply it twice")


def _settle(batch: Batch, replies: list[Any]) -> list[Any]:
    """A batch's replies; an error reply among them is raised (and thrown into the
    operation) unless the batch takes errors in their place."""
    settled = list(replies)
    for index, reply in enumerate(settled):
        if isinstance(reply, redis.ResponseError):
            if not batch.errors_as_replies:
                raise reply
            settled[index] = translate(reply)
    return settled


# --- every operation, once ----------------------------------------------------------------


#: `run(make, hit=None)`: run the operation `make(session)`, unless `hit(session)`
#: answers it from the client cache first (when there is one). Only reads have a `hit`.
Hit = Callable[[Session], Any]
Runner = Callable[[Callable[[Session], Op], "Hit | None"], Any]


class Operations:
    """The stash API; `run` is blocking (results) or asyncio (awaitables)."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def _read(self, make: Callable[[Session], Op]) -> Any:
        """Run a read the client cache may answer (by running it on the cache's entries)."""
        return self._run(make, lambda s: cached(s, make))

    def put(self, table: str, key: str, value: Any, ttl: float | None = None) -> None:
        """Store a value in a table (created if needed); with `ttl`, the key expires after it."""
        return self._run(lambda s: _ops.put(s.codec, table, key, value, ttl))

    def get(self, table: str, key: str, default: Any = None) -> Any:
        """Retrieve a value, or `default` when the table or key does not exist."""
        return self._run(lambda s: _ops.get(s.codec, table, key, default),
                         lambda s: cached_get(s, table, key, default))

    def delete(self, table: str, key: str) -> bool:
        """Delete a key; True if it was deleted, False if it did not exist."""
        return self._run(lambda s: _ops.delete(table, key))

    def exists(self, table: str, key: str | None = None) -> bool:
        """Whether the table (key None) or the key in it exists."""
        make = lambda s: _ops.exists(table, key)  # noqa: E731
        return self._run(make) if key is None else self._read(make)

    def keys(self, table: str, pattern: str | None = None) -> list[str]:
        """The table's keys, optionally only those matching a shell-style glob pattern."""
        return self._run(lambda s: _ops.keys(table, pattern))

    def clear(self, table: str) -> None:
        """Delete all entries in a table (the arbiter keeps the empty table)."""
        return self._run(lambda s: _ops.clear(s.features, table))

    def info(self, table: str) -> dict[str, Any]:
        """`{"table": name, "size": entries}`; raises StashTableNotFoundError if it is missing."""
        return self._run(lambda s: _ops.info(table))

    def ensure(self, table: str) -> None:
        """Create the table if it does not exist (idempotent)."""
        return self._run(lambda s: _ops.ensure(s.features, table))

    def delete_table(self, table: str) -> None:
        """Delete an entire table."""
        return self._run(lambda s: _ops.delete_table(table))

    def tables(self) -> list[str]:
        """All table names, sorted (the arbiter lists empty tables too)."""
        return self._run(lambda s: _ops.tables())

    def incr(self, table: str, key: str, amount: int | float = 1) -> int | float:
        """Atomically add `amount` to a numeric value (missing counts as 0); returns the sum."""
        return self._run(lambda s: _ops.incr(table, key, amount))

    def get_many(self, table: str, keys: Iterable[str], default: Any = None) -> dict[str, Any]:
        """Several values in one round trip: `{key: value or default}` for every key asked."""
        wanted = list(keys)  # once: the operation may be made more than once
        return self._read(lambda s: _ops.get_many(s.codec, table, wanted, default))

    def put_many(self, table: str, mapping: Mapping[str, Any], ttl: float | None = None) -> None:
        """Store several values in one round trip (atomically)."""
        return self._run(lambda s: _ops.put_many(s.codec, table, mapping, ttl))

    # What only tables offer.

    def get_item(self, table: str, key: str) -> Any:
        return self._read(lambda s: _ops.get_item(s.codec, table, key))

    def delete_item(self, table: str, key: str) -> None:
        return self._run(lambda s: _ops.delete_item(table, key))

    def size(self, table: str) -> int:
        return self._run(lambda s: _ops.size(table))

    def items(self, table: str) -> list[tuple[str, Any]]:
        return self._run(lambda s: _ops.items(s.codec, table))

    def values(self, table: str) -> list[Any]:
        return self._run(lambda s: _ops.values(s.codec, table))


class TableOperations:
    """What `StashTable` and `AsyncStashTable` share: one table's view of `Operations`.

    The dict operations are written once here under private names; `StashTable` spells
    them `t[k]`, `del t[k]`, `k in t`, `len(t)`, and `AsyncStashTable` as awaitable
    `getitem`, `setitem`, `delitem`, `contains` and `len`.
    """

    _operations: ClassVar[Operations]

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        """Table name."""
        return self._name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r})"

    def get(self, key: str, default: Any = None) -> Any:
        """Value with default."""
        return self._operations.get(self._name, key, default)

    def keys(self, pattern: str | None = None) -> list[str]:
        """All keys, optionally filtered by a glob pattern."""
        return self._operations.keys(self._name, pattern)

    def clear(self) -> None:
        """Delete all entries."""
        return self._operations.clear(self._name)

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store a value, optionally expiring after `ttl` seconds."""
        return self._operations.put(self._name, key, value, ttl)

    def incr(self, key: str, amount: int | float = 1) -> int | float:
        """Atomic increment."""
        return self._operations.incr(self._name, key, amount)

    def items(self) -> Any:
        """(key, value) pairs, fetched in one round trip."""
        return self._operations.items(self._name)

    def values(self) -> Any:
        """Values, fetched in one round trip."""
        return self._operations.values(self._name)

    def _getitem(self, key: str) -> Any:
        """`table[key]`: the value, or StashKeyNotFoundError (a KeyError) if missing."""
        return self._operations.get_item(self._name, key)

    def _setitem(self, key: str, value: Any) -> None:
        """`table[key] = value`."""
        return self._operations.put(self._name, key, value)

    def _delitem(self, key: str) -> None:
        """`del table[key]`: StashKeyNotFoundError (a KeyError) if missing."""
        return self._operations.delete_item(self._name, key)

    def _contains(self, key: str) -> bool:
        """`key in table`."""
        return self._operations.exists(self._name, key)

    def _len(self) -> int:
        """`len(table)`."""
        return self._operations.size(self._name)


# --- the asyncio spelling ------------------------------------------------------------------


def coroutine_function(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, whose calls return awaitables, as a true coroutine function (so that
    `inspect` and frameworks that check for one see what it is)."""

    @functools.wraps(function)
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await function(*args, **kwargs)

    return call


def awaitable_methods(cls: type) -> type:
    """Class decorator for the asyncio twins: every public method (inherited ones too)
    becomes a coroutine function."""
    for attribute in dir(cls):
        member = inspect.getattr_static(cls, attribute)
        if (not attribute.startswith("_") and inspect.isfunction(member)
                and not inspect.iscoroutinefunction(member)
                and not inspect.isasyncgenfunction(member)):
            setattr(cls, attribute, coroutine_function(member))
    return cls
