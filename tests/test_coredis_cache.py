"""coredis' client-side cache (`cache=LRUCache()`) against the arbiter: coredis keeps one
connection for invalidations and has every other connection track keys with REDIRECT to
it; a repeated read is served from the cache until another client's write invalidates it.
"""

from __future__ import annotations

import asyncio

import coredis
import redis
from coredis.patterns.cache import LRUCache
from servers import ServerProcess


def _calls(client: redis.Redis, command: str) -> int:
    return client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


async def _until(read, wanted: bytes | None) -> bool:
    """Whether `read()` gives `wanted` within a few seconds (the push travels apart)."""
    for _ in range(250):
        if await read() == wanted:
            return True
        await asyncio.sleep(0.02)
    return False


def test_coredis_cache_is_invalidated_by_another_clients_write(arbiter: ServerProcess) -> None:
    other = redis.Redis(unix_socket_path=arbiter.socket_path, protocol=2)

    async def scenario() -> None:
        client = coredis.Redis(unix_socket_path=arbiter.socket_path, cache=LRUCache())
        async with client:
            other.set("k", "v1")
            other.hset("h", "f", "x")
            gets = _calls(other, "get")
            assert [await client.get("k") for _ in range(3)] == [b"v1"] * 3
            assert _calls(other, "get") == gets + 1  # the other two came from the cache
            tracking = [c for c in other.client_list() if "t" in c["flags"]]
            assert tracking and all(c["redir"] != "-1" for c in tracking)
            other.set("k", "v2")
            assert await _until(lambda: client.get("k"), b"v2")
            assert await client.hget("h", "f") == b"x"
            other.hset("h", "f", "y")
            assert await _until(lambda: client.hget("h", "f"), b"y")
            other.delete("k")  # (coredis ignores the null a FLUSHALL sends, as with Redis)
            assert await _until(lambda: client.get("k"), None)

    try:
        asyncio.run(scenario())
    finally:
        other.close()
