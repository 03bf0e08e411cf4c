"""redis-py's client-side cache (`cache_config`, RESP3) against the arbiter: it turns
CLIENT TRACKING on, serves repeated reads from its cache, and drops an entry when the
arbiter sends the invalidation for another client's write.

redis-py (8.x) only builds its caching connection for TCP, not for Unix sockets, so the
arbiter listens on a loopback port here.

redis-py 5's cache (experimental in 5.1 to 5.3) does not take the arbiter's
invalidations: with hiredis installed it fails at once (that parser has no push handler),
and with its own RESP3 parser a cached value stayed stale for 30 s after another client's
write. It refuses redis-server 7.0 outright (it asks for 7.4), so there is no reference
to compare with. The test runs on redis-py 6 and later, which the tox matrix has (6, 8).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.cache import CacheConfig
from servers import ServerProcess, poll_until, start_arbiter


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def tcp_arbiter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, int]]:
    port = _free_port()
    directory: Path = tmp_path_factory.mktemp("cache")
    with start_arbiter(directory, "--port", str(port)) as arbiter:
        yield arbiter, port


def _calls(client: redis.Redis, command: str) -> int:
    return client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


@pytest.mark.skipif(redis.__version__.startswith("5."),
                    reason="redis-py 5's client-side cache does not read invalidations")
def test_cached_reads_are_invalidated_by_another_clients_write(
        tcp_arbiter: tuple[ServerProcess, int]) -> None:
    arbiter, port = tcp_arbiter
    cached = redis.Redis(port=port, protocol=3, cache_config=CacheConfig())
    other = redis.Redis(unix_socket_path=arbiter.socket_path, protocol=2)
    try:
        other.set("k", "v1")
        other.hset("h", "f", "x")
        gets, hgets = _calls(other, "get"), _calls(other, "hget")
        assert [cached.get("k"), cached.get("k"), cached.get("k")] == [b"v1"] * 3
        assert [cached.hget("h", "f"), cached.hget("h", "f")] == [b"x", b"x"]
        # Served from the cache: each read reached the arbiter once.
        assert _calls(other, "get") == gets + 1
        assert _calls(other, "hget") == hgets + 1
        assert "t" in next(c for c in other.client_list() if c["resp"] == "3")["flags"]

        other.set("k", "v2")
        other.hset("h", "f", "y")
        # The invalidation push reaches the cached connection; the next read goes out.
        assert poll_until(lambda: cached.get("k") == b"v2")
        assert poll_until(lambda: cached.hget("h", "f") == b"y")
        assert cached.get("k") == b"v2"
        gets = _calls(other, "get")
        assert cached.get("k") == b"v2"
        assert _calls(other, "get") == gets  # cached again

        other.delete("k")
        assert poll_until(lambda: cached.get("k") is None)
        other.flushall()  # a null invalidation drops every entry
        assert poll_until(lambda: cached.hget("h", "f") is None)
    finally:
        cached.close()
        other.close()
