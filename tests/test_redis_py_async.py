"""redis-py's asyncio client against the arbiter: async workers (uvicorn, aiohttp under
gunicorn) use it, and it sends its handshake twice on one Unix connection."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio as aioredis
from servers import REDIS_PY_DEFAULT_PROTOCOL, ServerProcess

PROTOCOLS = [pytest.param(None, id="default"), pytest.param(2, id="resp2")]
CLIENTS = 50
ROUNDS = 40


def connect(server: ServerProcess, protocol: int | None, **options) -> aioredis.Redis:
    """An asyncio client over the Unix socket; `protocol=None` keeps redis-py's default."""
    if protocol is not None:
        options["protocol"] = protocol
    return aioredis.Redis(unix_socket_path=server.socket_path, **options)


async def hash_session(server: ServerProcess, protocol: int | None) -> list[object]:
    """A worker's typical calls; returns every reply, errors included, for comparison."""
    client = connect(server, protocol, client_name="async-worker")
    results: list[object] = []
    try:
        results.append(await client.client_getname())
        results.append(await client.hset("h", mapping={"a": "1", "b": "2", "c": "x"}))
        results.append(await client.hget("h", "a"))
        results.append(await client.hget("h", "missing"))
        results.append(await client.hmget("h", ["a", "missing"]))
        results.append(await client.hgetall("h"))
        results.append(await client.hkeys("h"))
        results.append(await client.hvals("h"))
        results.append(await client.hlen("h"))
        results.append(await client.hexists("h", "b"))
        results.append(await client.hstrlen("h", "c"))
        results.append(await client.hincrby("h", "a", 41))
        results.append(await client.hincrbyfloat("h", "b", 0.25))
        results.append(await client.hsetnx("h", "a", "no"))
        results.append(await client.hdel("h", "c", "missing"))
        results.append(await client.hscan("h", 0))
        results.append(sorted([item async for item in client.hscan_iter("h", match="*")]))
        results.append(sorted([key async for key in client.scan_iter(match="h*")]))
        results.append(await client.type("h"))
        results.append(await client.exists("h", "nokey"))
        results.append(await client.rename("h", "h2"))
        results.append(await client.dbsize())
        try:
            await client.hincrby("h2", "b", 1)
        except redis.ResponseError as exc:
            results.append(str(exc))
        async with client.pipeline(transaction=False) as pipe:
            for n in range(100):
                pipe.hset("piped", f"f{n}", n)
            pipe.hlen("piped")
            pipe.hget("piped", "f99")
            results.append(await pipe.execute())
        results.append(await client.delete("h2", "piped", "nokey"))
        results.append(await client.ping())
    finally:
        await client.aclose()
    return results


async def string_session(server: ServerProcess, protocol: int | None) -> list[object]:
    """A cache backend's calls (aiocache, arq): SET with TTLs, MGET, counters."""
    client = connect(server, protocol)
    results: list[object] = []
    try:
        results.append(await client.set("cache:1", b"\x80\x04value", ex=300))
        results.append(await client.set("cache:1", "other", nx=True))
        results.append(await client.get("cache:1"))
        results.append(await client.ttl("cache:1"))
        results.append(await client.mset({"cache:2": "2", "cache:3": "3"}))
        results.append(await client.mget(["cache:1", "cache:2", "missing"]))
        results.append(await client.incr("counter"))
        results.append(await client.incrby("counter", 10))
        results.append(await client.incrbyfloat("counter", 0.5))
        results.append(await client.getdel("cache:2"))
        results.append(await client.getex("cache:3", px=100_000))
        results.append(await client.append("cache:3", "-tail"))
        results.append(await client.set("lock", "token", nx=True, px=30_000))
        results.append(await client.set("lock", "other", nx=True, px=30_000))
        async with client.pipeline(transaction=True) as pipe:
            pipe.set("job", "queued").expire("job", 60).get("job").incr("job")
            try:
                results.append(await pipe.execute())
            except redis.ResponseError as exc:
                results.append(str(exc))
        results.append(await client.delete("cache:1", "cache:3", "counter", "lock", "job"))
    finally:
        await client.aclose()
    return results


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_async_string_session_matches_redis(arbiter, redis_server, protocol):
    mine = asyncio.run(string_session(arbiter, protocol))
    theirs = asyncio.run(string_session(redis_server, protocol))
    assert mine == theirs


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_async_session_matches_redis(arbiter, redis_server, protocol):
    mine = asyncio.run(hash_session(arbiter, protocol))
    theirs = asyncio.run(hash_session(redis_server, protocol))
    assert mine == theirs


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_async_handshake_records_protocol_and_library(arbiter, protocol):
    async def run() -> dict:
        client = connect(arbiter, protocol)
        try:
            await client.ping()
            return await client.client_info()
        finally:
            await client.aclose()

    info = asyncio.run(run())
    assert info["resp"] == str(protocol or REDIS_PY_DEFAULT_PROTOCOL)
    assert info["lib-name"] == "redis-py"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_many_concurrent_async_clients(arbiter, protocol):
    """Each client owns a field; the interleaved increments and reads must all add up."""

    async def worker(n: int) -> list[bytes | None]:
        client = connect(arbiter, protocol)
        try:
            seen = []
            for _ in range(ROUNDS):
                await client.hincrby("shared", "total", 1)
                await client.hincrby("shared", f"w{n}", 1)
                seen.append(await client.hget("shared", f"w{n}"))
            return seen
        finally:
            await client.aclose()

    async def run() -> tuple[list[list[bytes | None]], dict, int]:
        seen = await asyncio.gather(*(worker(n) for n in range(CLIENTS)))
        client = connect(arbiter, protocol)
        try:
            return seen, await client.hgetall("shared"), await client.hlen("shared")
        finally:
            await client.aclose()

    seen, table, length = asyncio.run(run())
    assert length == CLIENTS + 1
    assert table[b"total"] == str(CLIENTS * ROUNDS).encode()
    for n in range(CLIENTS):
        assert table[f"w{n}".encode()] == str(ROUNDS).encode()
        assert seen[n] == [str(i).encode() for i in range(1, ROUNDS + 1)]


def test_async_shared_pool_with_large_values(arbiter):
    """One pool shared by concurrent tasks, each moving 1 MiB values."""
    value = bytes(range(256)) * 4096

    async def run() -> list[bool]:
        client = connect(arbiter, None)
        try:
            async def move(n: int) -> bool:
                await client.hset("blobs", f"b{n}", value[n:] + value[:n])
                return await client.hget("blobs", f"b{n}") == value[n:] + value[:n]

            return list(await asyncio.gather(*(move(n) for n in range(16))))
        finally:
            await client.aclose()

    assert asyncio.run(run()) == [True] * 16


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_db_option_selects_on_every_pooled_connection(arbiter, redis_server, protocol):
    """redis.asyncio with `db=2`: every connection of the pool, opened concurrently,
    runs in db 2, and db 0 stays apart, as against redis-server."""
    async def run(server: ServerProcess) -> list[object]:
        two, zero = connect(server, protocol, db=2), connect(server, protocol)
        try:
            await asyncio.gather(*[two.hset("h", f"f{n}", n) for n in range(20)])
            await zero.hset("h", "zero", 0)
            clients = await asyncio.gather(*[two.client_info() for _ in range(5)])
            return [await two.hlen("h"), await zero.hlen("h"), await two.dbsize(),
                    sorted({info["db"] for info in clients}),
                    await two.move("h", 0), await two.swapdb(0, 2), await two.hlen("h")]
        finally:
            await two.aclose()
            await zero.aclose()

    mine = asyncio.run(run(arbiter))
    assert mine == asyncio.run(run(redis_server))
    assert mine[:4] == [20, 1, 1, [2]]
