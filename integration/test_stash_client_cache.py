"""The client cache (`configure(client_cache=True)`, `enable_stash(client_cache=True)`):
hot reads from memory, and never a read older than a write that has returned anywhere.

Every test runs against redis-server and against the arbiter; the arbiter's pass once it
supports CLIENT TRACKING (broadcasting mode, redirected to a RESP2 subscriber).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from gunicorn_procs import Gunicorn, Server, config_text, start_arbiter, start_redis

from gunicorn_ext import _cache, astash, stash


@pytest.fixture(params=["redis", "arbiter"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    chosen: Server = request.getfixturevalue(f"{request.param}_server")
    admin = redis.Redis(unix_socket_path=chosen.socket_path)
    admin.flushall()
    admin.close()
    stash.configure(url=chosen.url, client_cache=True, retry_timeout=5.0)
    yield chosen
    stash.close()
    stash.configure(url=None, client_cache=None, cache_max_entries=_cache.DEFAULT_MAX_ENTRIES,
                    cache_max_bytes=_cache.DEFAULT_MAX_BYTES)


def other_client(server: Server) -> redis.Redis:
    return redis.Redis(unix_socket_path=server.socket_path)


def test_repeated_reads_are_hits_and_other_clients_writes_are_seen(server: Server) -> None:
    stash.put("t", "k", {"v": 1})
    assert stash.get("t", "k") == {"v": 1}
    before = stash.cache_info()
    assert before is not None
    for _ in range(10):
        assert stash.get("t", "k") == {"v": 1}
    after = stash.cache_info()
    assert after is not None and after["hits"] - before["hits"] == 10
    assert after["misses"] == before["misses"]
    with other_client(server) as other:
        other.hset("t", "k", '{"v": 2}')
        assert stash.get("t", "k") == {"v": 2}
        other.hset("t", "unrelated", "1")  # a write to the table drops all its fields
        assert stash.get("t", "k") == {"v": 2}
        other.flushall()
        assert stash.get("t", "k") is None
        assert stash.get("t", "k", "default") == "default"


def test_hits_hand_out_values_of_their_own(server: Server) -> None:
    stash.put("t", "k", {"list": [1, 2]})
    first = stash.get("t", "k")
    first["list"].append(3)
    assert stash.get("t", "k") == {"list": [1, 2]}
    assert stash.get("t", "k") is not stash.get("t", "k")
    stash.put("t", "flat", {"a": 1})
    stash.put("t", "items", [1, "x"])
    for _ in range(2):
        stash.get("t", "flat")["a"] = 2
        stash.get("t", "items").append(3)
    assert stash.get("t", "flat") == {"a": 1} and stash.get("t", "items") == [1, "x"]


def test_get_many_get_item_and_exists_are_cached(server: Server) -> None:
    stash.put_many("t", {"a": 1, "b": 2})
    table = stash.table("t")
    for _ in range(2):
        assert stash.get_many("t", ["a", "b", "missing"]) == {"a": 1, "b": 2, "missing": None}
        assert table["a"] == 1
        assert stash.exists("t", "b") and not stash.exists("t", "nope")
        assert "a" in table
        with pytest.raises(KeyError):
            table["missing"]
    info = stash.cache_info()
    assert info is not None and info["hits"] >= 6
    stash.delete("t", "a")
    assert not stash.exists("t", "a")
    assert stash.get_many("t", ["a", "b"]) == {"a": None, "b": 2}


def test_a_cached_get_checks_names_and_applies_defaults_as_a_sent_one(server: Server) -> None:
    """`get` looks the field up without making its operation: the same names are refused
    with the same errors, and a missing field (cached as missing) gives the default."""
    stash.put("t", "k", "v")
    for _ in range(2):  # a miss, then a hit
        assert stash.get("t", "k") == "v"
        assert stash.get("t", "absent", 7) == 7
        with pytest.raises(stash.StashError, match=r"^a table name cannot be empty$"):
            stash.get("", "k")
        with pytest.raises(stash.StashError, match=r"^stash key must be a str, not int$"):
            stash.get("t", 5)  # type: ignore[arg-type]
    info = stash.cache_info()
    assert info is not None and info["hits"] == 2 and info["misses"] == 2


def test_own_writes_are_read_back_at_once(server: Server) -> None:
    for i in range(300):
        stash.put("own", "k", i)
        assert stash.get("own", "k") == i
        assert stash.incr("own", "n") == i + 1
        assert stash.get_many("own", ["n"]) == {"n": i + 1}


def test_bounded_in_entries_and_bytes(server: Server) -> None:
    stash.configure(cache_max_entries=5, cache_max_bytes=10_000)
    for i in range(20):
        stash.put(f"b{i}", "k", i)
    for i in range(20):
        assert stash.get(f"b{i}", "k") == i
    info = stash.cache_info()
    assert info is not None and info["entries"] <= 5 and info["evictions"] >= 15
    big = "x" * 20_000  # larger than the whole cache: read, never kept
    stash.put("b", "big", big)
    assert stash.get("b", "big") == big
    assert stash.get("b", "big") == big
    info = stash.cache_info()
    assert info is not None and info["bytes"] <= 10_000
    assert (b"b", b"big") not in stash._current().cache.entries  # type: ignore[union-attr]


def test_a_lost_listener_drops_the_cache(server: Server) -> None:
    stash.put("t", "k", 1)
    assert stash.get("t", "k") == 1
    with other_client(server) as other:
        killed = other.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert killed >= 1
        other.hset("t", "k", "2")  # its invalidation has no one to go to
    assert stash.get("t", "k") == 2
    assert stash.get("t", "k") == 2
    info = stash.cache_info()
    assert info is not None and info["hits"] >= 1


def test_a_restarted_server_is_not_answered_from_memory(short_dir: Path, server: Server
                                                        ) -> None:
    start = start_redis if "redis" in Path(server.socket_path).name else start_arbiter
    own = start(short_dir, name="restarting")
    try:
        stash.configure(url=own.url)
        stash.put("t", "k", "before")
        assert stash.get("t", "k") == "before"
        own.stop()
        own = start(short_dir, name="restarting")  # no persistence: empty
        assert stash.get("t", "k") is None
        stash.put("t", "k", "after")
        assert stash.get("t", "k") == "after"
    finally:
        own.stop()


def test_forked_child_has_a_cache_of_its_own(server: Server) -> None:
    stash.put("f", "k", 1)
    assert stash.get("f", "k") == 1
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(reader)
            ok = stash.get("f", "k") == 1
            stash.put("f", "k", 2)
            os.write(writer, b"1" if ok and stash.get("f", "k") == 2 else b"0")
        finally:
            os._exit(0)
    os.close(writer)
    assert os.read(reader, 1) == b"1"
    os.close(reader)
    os.waitpid(pid, 0)
    assert stash.get("f", "k") == 2


def test_astash_shares_the_same_rules(server: Server) -> None:
    async def scenario() -> list[Any]:
        await astash.put("a", "k", 1)
        seen = [await astash.get("a", "k"), await astash.get("a", "k")]
        hits = astash.cache_info()["hits"]  # type: ignore[index]
        with other_client(server) as other:
            other.hset("a", "k", "2")
        seen += [await astash.get("a", "k"), await astash.exists("a", "k"), hits]
        await astash.aclose()
        return seen

    assert asyncio.run(scenario()) == [1, 1, 2, True, 1]


def test_a_server_without_tracking_is_refused_clearly(short_dir: Path) -> None:
    own = start_redis(short_dir, "--rename-command", "CLIENT", "", name="notracking")
    try:
        stash.configure(url=own.url, client_cache=True)
        with pytest.raises(stash.StashError, match="client_cache needs a server with "
                                                   "CLIENT TRACKING"):
            stash.get("t", "k")
        stash.configure(client_cache=False)
        assert stash.get("t", "k") is None
    finally:
        stash.close()
        stash.configure(url=None, client_cache=None)
        own.stop()


def test_a_cluster_url_is_refused() -> None:
    stash.configure(url="redis+cluster://127.0.0.1:1", client_cache=True)
    try:
        with pytest.raises(stash.StashError, match="not available on a Redis Cluster"):
            stash.get("t", "k")
    finally:
        stash.configure(url=None, client_cache=None)


# --- the guarantee across processes ---------------------------------------------------------

ROUNDS = 1000


def _writer(url: str, orders: Any, done: Any) -> None:
    stash.configure(url=url, client_cache=True)
    while (order := orders.recv()) is not None:
        key, value = order
        stash.put("race", key, value)
        stash.get("race", key)  # the writer caches it too
        done.send(True)


def test_no_process_reads_older_than_a_returned_write(server: Server) -> None:
    """A writer process and this one, both caching; each round this one holds the key
    cached (a hit), the writer writes and returns, and this one's next read must be the
    new value."""
    context = multiprocessing.get_context("fork")
    orders, orders_far = context.Pipe()
    done, done_far = context.Pipe()
    writer = context.Process(target=_writer, args=(server.url, orders_far, done_far))
    writer.start()
    stale = []
    try:
        for i in range(ROUNDS):
            key = f"k{i % 3}"
            stash.get("race", key)
            stash.get("race", key)  # a hit now, unless a write came between
            orders.send((key, i))
            assert done.recv()
            seen = stash.get("race", key)
            if seen != i:
                stale.append((i, seen))
        orders.send(None)
    finally:
        writer.join(10)
        if writer.is_alive():
            writer.kill()
            writer.join()
    assert stale == []
    info = stash.cache_info()
    assert info is not None and info["hits"] >= ROUNDS


def _gunicorn_config(server: Server, worker_class: str) -> str:
    return config_text(worker_class, workers=2,
                       options=f"url={server.url!r}, client_cache=True")


@pytest.mark.parametrize(("worker_class", "app"), [
    ("sync", "gunicorn_apps:app"),
    ("uvicorn.workers.UvicornWorker", "gunicorn_apps:asgi_app")], ids=["sync", "uvicorn"])
def test_gunicorn_workers_never_read_older_than_a_returned_write(
        gunicorn: Any, server: Server, worker_class: str, app: str) -> None:
    master: Gunicorn = gunicorn(_gunicorn_config(server, worker_class), app=app).wait_ready()
    crossed = 0
    for i in range(60):
        warm = master.concurrently([("/get", {"table": "g", "key": "k"})] * 4)
        wrote = master.get("/put", table="g", key="k", value=json.dumps(i))
        reads = master.concurrently([("/get", {"table": "g", "key": "k"})] * 4)
        assert [r["value"] for r in reads] == [i] * 4, (i, warm, reads)
        crossed += sum(r["pid"] != wrote["pid"] for r in reads)
    assert crossed > 0
    caches = [master.get("/cache") for _ in range(10)]
    assert any(c["cache"]["hits"] > 0 for c in caches)


def test_get_many_takes_any_iterable_once(server: Server) -> None:
    stash.put_many("it", {"a": 1, "b": 2})
    for _ in range(2):
        assert stash.get_many("it", (key for key in ["a", "b"])) == {"a": 1, "b": 2}
