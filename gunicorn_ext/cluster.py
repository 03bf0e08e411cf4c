"""The stash on a Redis Cluster: the client each runner uses for a `redis+cluster://` URL.

A URL whose scheme is `redis+cluster://` (or `rediss+cluster://` for TLS) names any one
node of a cluster; redis-py's `RedisCluster` (`redis.asyncio.RedisCluster` for astash)
finds the others. The runners in `stash` and `astash` speak to a client through
`execute_command`, `pipeline(transaction=...)` and `connection_pool.disconnect()`, so the
cluster clients here offer exactly those, over RedisCluster, with three changes:

- A transaction (MULTI/EXEC) is sent to the primary that holds its slot, on a plain
  connection to that node: every stash transaction touches one table, one key, hence
  one slot. (RedisCluster's own pipelines take transactions only from redis-py 6 on.)
  A slot that moved meanwhile makes the cluster refresh its map, and the operation is
  retried like one that lost its connection.
- `SCAN` walks every primary in turn, with one cursor that holds the node's number and
  that node's cursor, so `tables()` sees every table of the cluster.
- `STASH.*` commands go to the node of their key: redis-py cannot place a command it
  does not know, and the node's `unknown command` answer is what makes the stash fall
  back to plain Redis commands.

A cluster that cannot serve a slot for now (CLUSTERDOWN, TRYAGAIN, a slot no node
covers: a primary failed and no replica has taken over yet) is reported as a lost
connection, which the stash retries for `retry_timeout`; redis-py's other cluster
exceptions, which are not RedisError, become RedisError, so every failure reaches the
application as a StashError.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster
from redis.crc import key_slot

from .wire import is_cluster, node_url

__all__ = ["AsyncClusterClient", "ClusterClient", "connect", "connect_async", "is_cluster"]

#: A redirection reply (`MOVED 3999 10.0.0.2:6379`), alone or in a pipeline's message.
_REDIRECT = re.compile(r"\b(?:MOVED|ASK) \d+ [\w.:\[\]-]+:\d+")
#: A cluster has at most 16384 primaries (one per slot): the SCAN cursor's node number.
NODES = 16384


def connect(url: str, redis_connect_func: Any = None, **options: Any) -> Any:
    """The blocking client for `url`: `redis.Redis`, or a `ClusterClient` for a cluster URL.
    `options` are redis-py connection options (timeouts, `retry`); `redis_connect_func`
    (the restart notice) is for a single server only: redis-py's cluster client sets its
    own."""
    if is_cluster(url):
        return ClusterClient(url, **options)
    return redis.Redis.from_url(url, redis_connect_func=redis_connect_func, **options)


def connect_async(url: str, redis_connect_func: Any = None, **options: Any) -> Any:
    """The asyncio client for `url`: `redis.asyncio.Redis`, or an `AsyncClusterClient`."""
    if is_cluster(url):
        return AsyncClusterClient(url, **options)
    return redis.asyncio.Redis.from_url(url, redis_connect_func=redis_connect_func,
                                        **options)


def _node_url(url: str, host: str, port: int) -> str:
    """The plain redis-py URL of one node, with the credentials and options of `url`."""
    parts = urlsplit(node_url(url))
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@{host}:{port}" if auth else f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{netloc}{query}"


def _slot(commands: tuple[tuple[Any, ...], ...]) -> int:
    """The one slot every command of a transaction touches (each names its key first)."""
    slots = {key_slot(_bytes(command[1])) for command in commands}
    if len(slots) != 1:
        raise redis.RedisError("a stash transaction on a cluster must touch one slot")
    return slots.pop()


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _split_cursor(cursor: Any) -> tuple[int, int]:
    """(node number, that node's cursor) from the SCAN cursor given to the stash."""
    node_cursor, index = divmod(int(cursor), NODES)
    return index, node_cursor


def _next_cursor(index: int, node_cursor: int, nodes: int) -> int:
    """The cursor after a node answered `node_cursor`: 0 once the last node is done."""
    if int(node_cursor) != 0:
        return int(node_cursor) * NODES + index
    return index + 1 if index + 1 < nodes else 0


@contextlib.contextmanager
def _cluster_errors() -> Iterator[None]:
    """Cluster failures as the errors the stash's retry plan knows (see above)."""
    try:
        yield
    except (redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError,
            redis.exceptions.SlotNotCoveredError) as error:
        raise redis.ConnectionError(f"the cluster cannot serve this slot now: {error}") \
            from error
    except redis.exceptions.RedisClusterException as error:
        # "Redis Cluster cannot be connected" carries what each node answered (a refused
        # connection, refused credentials): that decides, as for a single server.
        if isinstance(error.__cause__, redis.RedisError):
            raise error.__cause__ from error
        if "cannot be connected" in str(error):
            raise redis.ConnectionError(str(error)) from error
        raise redis.RedisError(str(error)) from error


def _moved(error: redis.ResponseError) -> bool:
    """Whether a node answered that the slot is elsewhere. A plain client of redis-py 5
    does not give MOVED its class, and its pipelines wrap the reply in their message."""
    return isinstance(error, (redis.exceptions.MovedError, redis.exceptions.AskError)) or (
        _REDIRECT.search(str(error)) is not None)


class _Pool:
    """What a runner's `connection_pool.disconnect()` reaches: every connection."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def disconnect(self) -> Any:
        return self._client.disconnect()


class ClusterClient:
    """A blocking cluster client with the interface the stash runner uses."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.options = options
        self._cluster: RedisCluster | None = None
        self.nodes: dict[str, redis.Redis] = {}
        self.connection_pool = _Pool(self)

    @property
    def cluster(self) -> RedisCluster:
        """The RedisCluster, made at first use: making it connects (to learn the slots),
        and a failure there must meet the stash's retries, not the worker's import."""
        if self._cluster is None:
            self._cluster = RedisCluster.from_url(node_url(self.url), **self.options)
        return self._cluster

    def _node(self, host: str, port: int) -> redis.Redis:
        name = f"{host}:{port}"
        if name not in self.nodes:
            self.nodes[name] = redis.Redis.from_url(_node_url(self.url, host, port),
                                                    **self.options)
        return self.nodes[name]

    def execute_command(self, *command: Any) -> Any:
        with _cluster_errors():
            name = str(command[0]).upper()
            if name == "SCAN":
                return self._scan(*command[1:])
            if name.startswith("STASH."):
                node = self.cluster.get_node_from_key(command[1])
                return self.cluster.execute_command(*command, target_nodes=node)
            return self.cluster.execute_command(*command)

    def _scan(self, cursor: Any, *arguments: Any) -> tuple[int, list[Any]]:
        primaries = sorted(self.cluster.get_primaries(), key=lambda node: node.name)
        index, node_cursor = _split_cursor(cursor)
        if index >= len(primaries):
            return 0, []
        node = primaries[index]
        found, names = self._node(node.host, node.port).execute_command(
            "SCAN", node_cursor, *arguments)
        return _next_cursor(index, found, len(primaries)), names

    @contextlib.contextmanager
    def pipeline(self, transaction: bool = True) -> Iterator[Any]:
        if not transaction:
            with self.cluster.pipeline() as pipe:
                yield pipe
            return
        yield _Transaction(self)

    def transact(self, commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
        with _cluster_errors():
            node = self.cluster.nodes_manager.get_node_from_slot(_slot(commands))
        try:
            with self._node(node.host, node.port).pipeline(transaction=True) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return pipe.execute(raise_on_error=False)
        except redis.ResponseError as error:
            if not _moved(error):
                raise
            self.cluster.nodes_manager.initialize()
            raise redis.ConnectionError(f"the slot moved during a transaction: {error}") \
                from error

    def disconnect(self) -> None:
        if self._cluster is not None:
            self._cluster.disconnect_connection_pools()
        for node in self.nodes.values():
            node.connection_pool.disconnect()


class _Transaction:
    """A MULTI/EXEC pipeline for the node of its slot, filled by the runner."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.commands: list[tuple[Any, ...]] = []

    def execute_command(self, *command: Any) -> None:
        self.commands.append(command)

    def execute(self, raise_on_error: bool = True) -> Any:
        return self.client.transact(tuple(self.commands))


class AsyncClusterClient:
    """The asyncio twin of `ClusterClient`, over `redis.asyncio.RedisCluster`."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.options = options
        self.cluster = AsyncRedisCluster.from_url(node_url(url), **options)
        self.nodes: dict[str, redis.asyncio.Redis] = {}
        self.connection_pool = _Pool(self)

    async def _ready(self) -> None:
        """Learn the cluster's map before the first use of it (RedisCluster does that
        on its first command)."""
        await self.cluster.initialize()

    def _node(self, host: str, port: int) -> redis.asyncio.Redis:
        name = f"{host}:{port}"
        if name not in self.nodes:
            self.nodes[name] = redis.asyncio.Redis.from_url(_node_url(self.url, host, port),
                                                            **self.options)
        return self.nodes[name]

    async def execute_command(self, *command: Any) -> Any:
        with _cluster_errors():
            await self._ready()
            name = str(command[0]).upper()
            if name == "SCAN":
                return await self._scan(*command[1:])
            if name.startswith("STASH."):
                node = self.cluster.get_node_from_key(command[1])
                return await self.cluster.execute_command(*command, target_nodes=node)
            return await self.cluster.execute_command(*command)

    async def _scan(self, cursor: Any, *arguments: Any) -> tuple[int, list[Any]]:
        primaries = sorted(self.cluster.get_primaries(), key=lambda node: node.name)
        index, node_cursor = _split_cursor(cursor)
        if index >= len(primaries):
            return 0, []
        node = primaries[index]
        found, names = await self._node(node.host, node.port).execute_command(
            "SCAN", node_cursor, *arguments)
        return _next_cursor(index, found, len(primaries)), names

    @contextlib.asynccontextmanager
    async def pipeline(self, transaction: bool = True) -> Any:
        if not transaction:
            async with self.cluster.pipeline() as pipe:
                yield pipe
            return
        yield _AsyncTransaction(self)

    async def transact(self, commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
        with _cluster_errors():
            await self._ready()
            node = self.cluster.nodes_manager.get_node_from_slot(_slot(commands))
        try:
            async with self._node(node.host, node.port).pipeline(transaction=True) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return await pipe.execute(raise_on_error=False)
        except redis.ResponseError as error:
            if not _moved(error):
                raise
            await self.cluster.nodes_manager.initialize()
            raise redis.ConnectionError(f"the slot moved during a transaction: {error}") \
                from error

    async def disconnect(self) -> None:
        for node in self.cluster.get_nodes():
            await node.disconnect()
        for client in self.nodes.values():
            await client.connection_pool.disconnect()


class _AsyncTransaction(_Transaction):
    async def execute(self, raise_on_error: bool = True) -> Any:
        return await self.client.transact(tuple(self.commands))
