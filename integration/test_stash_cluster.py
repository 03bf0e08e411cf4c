"""The stash API (blocking and asyncio) and a gunicorn app on a real three-node Redis
Cluster, reached through a `redis+cluster://` URL."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gunicorn_procs import Gunicorn, config_text, free_port, wait_until
from redis.crc import key_slot
from redis_cluster import Cluster, start_cluster

from gunicorn_ext import URL_ENV, _ops, astash, stash
from gunicorn_ext.wire import Connection


@pytest.fixture(scope="module")
def cluster(module_dir: Path) -> Iterator[Cluster]:
    with start_cluster(module_dir) as running:
        yield running


@pytest.fixture
def on_cluster(cluster: Cluster) -> Iterator[Cluster]:
    """The stash of this process pointed at the (emptied) cluster."""
    cluster.flush()
    stash.configure(url=cluster.url, codec=None, retry_timeout=5.0)
    yield cluster
    stash.close()
    stash.configure(url=None)


def spread_tables(cluster: Cluster, count: int) -> list[str]:
    """`count` table names whose slots cover every node."""
    names = [f"table:{n}" for n in range(count)]
    with cluster.client() as client:
        owners = {client.get_node_from_key(name).port for name in names}
    assert owners == set(cluster.ports)
    return names


def holders(cluster: Cluster, name: str) -> list[int]:
    """The ports of the nodes that hold key `name`."""
    found = []
    for index, port in enumerate(cluster.ports):
        with cluster.node(index) as node:
            if node.execute_command("CLUSTER COUNTKEYSINSLOT", key_slot(name.encode())) and \
                    node.execute_command("CLUSTER GETKEYSINSLOT", key_slot(name.encode()), 100):
                found.append(port)
    return found


def test_every_operation_on_tables_of_every_node(on_cluster: Cluster) -> None:
    names = spread_tables(on_cluster, 12)
    for number, name in enumerate(names):
        stash.put(name, "k", {"n": number})
        stash.put_many(name, {"a": 1, "b": [2]})
    assert {port for name in names for port in holders(on_cluster, name)} == set(
        on_cluster.ports)
    for number, name in enumerate(names):
        assert stash.get(name, "k") == {"n": number}
        assert stash.get_many(name, ["a", "b", "zz"], default=0) == {"a": 1, "b": [2], "zz": 0}
        assert stash.info(name) == {"table": name, "size": 3}   # MULTI TYPE HLEN EXEC
        assert stash.exists(name) and stash.exists(name, "a")
        assert sorted(stash.keys(name)) == ["a", "b", "k"]
        assert sorted(stash.keys(name, "[ab]")) == ["a", "b"]
        assert stash.incr(name, "hits", 2) == 2
        assert stash.incr(name, "ratio", 0.5) == 0.5
        table = stash.table(name)
        assert len(table) == 5
        assert table["a"] == 1
        assert dict(table.items())["b"] == [2]
        assert stash.delete(name, "a") is True
        assert stash.delete(name, "a") is False
    assert stash.tables() == sorted(names)


def test_tables_scans_every_primary(on_cluster: Cluster,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_ops, "SCAN_COUNT", 3)   # several SCAN round trips on each node
    names = spread_tables(on_cluster, 40)
    for name in names:
        stash.put(name, "k", 1)
    with on_cluster.client() as client:
        client.set("a-string", "not a table")
    assert stash.tables() == sorted(names)


def test_clear_and_ensure_fall_back_to_plain_commands(on_cluster: Cluster) -> None:
    [first, *_] = spread_tables(on_cluster, 6)
    stash.put(first, "k", 1)
    stash.clear(first)   # STASH.CLEAR: unknown command on the node, then DEL
    assert not stash.exists(first)
    stash.ensure("declared")   # a plain Redis cannot hold an empty hash: nothing to do
    assert stash.tables() == []
    stash.put(first, "k", 2)
    stash.delete_table(first)
    assert stash.get(first, "k") is None


def test_put_with_ttl_is_one_transaction_on_the_node_of_the_table(on_cluster: Cluster) -> None:
    # redis-server 7.0 has no HPEXPIRE: the transaction is refused as a whole.
    with pytest.raises(stash.StashError, match="HPEXPIRE"):
        stash.put("ttl-table", "k", 1, ttl=5)
    assert stash.get("ttl-table", "k") is None


def move_slot(cluster: Cluster, name: str) -> int:
    """Give the (empty) slot of `name` to another primary, as resharding does; its port."""
    with cluster.client() as client:
        slot = key_slot(name.encode())
        owner = client.get_node_from_key(name)
        target = next(node for node in client.get_primaries() if node.port != owner.port)
        target_id = client.cluster_myid(target)
    for index in sorted(range(3), key=lambda i: cluster.ports[i] != target.port):
        with cluster.node(index) as node:
            node.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
    return target.port


def test_an_info_on_a_table_whose_slot_moved(on_cluster: Cluster) -> None:
    """A transaction sent to a node that no longer holds its slot (answered MOVED): the
    client learns the new map and the operation runs again, on the right node."""
    stash.put("warm", "k", 1)   # the client knows the map now
    target = move_slot(on_cluster, "moving")
    with pytest.raises(stash.StashTableNotFoundError):
        stash.info("moving")   # MULTI TYPE HLEN EXEC: MOVED, then again on the new owner
    stash.put("moving", "k", 1)
    assert stash.info("moving") == {"table": "moving", "size": 1}
    assert holders(on_cluster, "moving") == [target]


def test_an_asyncio_info_on_a_table_whose_slot_moved(on_cluster: Cluster) -> None:
    async def scenario() -> int:
        await astash.put("warm", "k", 1)
        target = move_slot(on_cluster, "moving")
        with pytest.raises(astash.StashTableNotFoundError):
            await astash.info("moving")
        await astash.put("moving", "k", 1)
        assert await astash.info("moving") == {"table": "moving", "size": 1}
        await astash.aclose()
        return target

    target = asyncio.run(scenario())
    assert holders(on_cluster, "moving") == [target]


def test_asyncio_api_on_the_cluster(on_cluster: Cluster,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_ops, "SCAN_COUNT", 3)
    names = spread_tables(on_cluster, 12)

    async def scenario() -> None:
        for number, name in enumerate(names):
            await astash.put(name, "k", number)
            await astash.put_many(name, {"a": 1})
        for number, name in enumerate(names):
            assert await astash.get(name, "k") == number
            assert await astash.info(name) == {"table": name, "size": 2}
            assert await astash.incr(name, "a", 4) == 5
            assert await astash.get_many(name, ["a", "k"]) == {"a": 5, "k": number}
            assert await astash.table(name).len() == 2
        assert await astash.tables() == sorted(names)
        await astash.clear(names[0])
        assert not await astash.exists(names[0])
        assert await astash.tables() == sorted(names[1:])
        await astash.aclose()

    asyncio.run(scenario())


def test_the_masters_start_check_reaches_a_cluster(cluster: Cluster) -> None:
    with Connection.open(cluster.url, timeout=5) as connection:
        assert connection.call("PING") == b"PONG"
        with pytest.raises(Exception, match="unknown command"):
            connection.call("STASH.ENSURE", "t")


@pytest.mark.parametrize(("worker_class", "app", "how"), [
    ("sync", "gunicorn_apps:app", "env"),
    ("uvicorn.workers.UvicornWorker", "gunicorn_apps:asgi_app", "url="),
], ids=["sync-env", "uvicorn-url"])
def test_gunicorn_workers_share_tables_on_the_cluster(
        on_cluster: Cluster, gunicorn: Callable[..., Gunicorn], worker_class: str, app: str,
        how: str) -> None:
    options = "tables=['sessions']" + (f", url={on_cluster.url!r}" if how == "url=" else "")
    env = {**os.environ, URL_ENV: on_cluster.url} if how == "env" else None
    master = gunicorn(config_text(worker_class, workers=2, options=options), app=app,
                      env=env).wait_ready()
    log = master.log()
    assert "Stash: using the server at redis+cluster://:***@127.0.0.1:" in log
    assert "clu/ster" not in log and "clu%2Fster" not in log
    assert "has no STASH.ENSURE" in log
    assert "cannot reach" not in log
    assert not master.arbiters()
    names = spread_tables(on_cluster, 9)
    for number, name in enumerate(names):
        master.get("/put", table=name, key="k", value=str(number))
    counts = [master.get("/incr", table="counters", key="hits")["value"] for _ in range(10)]
    assert counts == list(range(1, 11))
    for number, name in enumerate(names):
        assert master.get("/get", table=name, key="k")["value"] == number
    assert master.get("/tables")["tables"] == sorted([*names, "counters"])
    with on_cluster.client() as client:
        assert client.hget("counters", "hits") == b"10"


def test_a_primary_down_is_a_stash_error_after_retry_timeout(short_dir: Path) -> None:
    """The stash's own failures only (never a redis-py cluster exception), after retrying
    for `retry_timeout`: first for the slots of the stopped node, then, once the others
    mark it failed (no replica takes over), CLUSTERDOWN for every slot."""
    with start_cluster(short_dir) as own:
        stash.configure(url=own.url, codec=None, retry_timeout=1.0)
        try:
            names = spread_tables(own, 9)
            with own.client() as client:
                lost = next(n for n in names if client.get_node_from_key(n).port == own.ports[2])
                survivor = next(n for n in names
                                if client.get_node_from_key(n).port != own.ports[2])
            for name in names:
                stash.put(name, "k", 1)
            own.nodes[2].stop()

            started = time.monotonic()
            with pytest.raises(stash.StashError, match="cannot reach the stash server"):
                stash.get(lost, "k")
            assert 1.0 <= time.monotonic() - started < 30

            async def read(name: str) -> None:
                try:
                    await astash.get(name, "k")
                finally:
                    await astash.aclose()

            started = time.monotonic()
            with pytest.raises(astash.StashError, match="cannot reach the stash server"):
                asyncio.run(read(lost))
            assert 1.0 <= time.monotonic() - started < 30

            wait_until(lambda: not own.state_ok(nodes=2), 30, "the cluster to fail")
            for call in (lambda: stash.get(survivor, "k"), lambda: asyncio.run(read(survivor))):
                started = time.monotonic()
                with pytest.raises(stash.StashError, match="cluster is down"):
                    call()
                assert time.monotonic() - started >= 1.0
        finally:
            stash.close()
            stash.configure(url=None)


def test_an_unreachable_cluster_is_retried_then_a_stash_error(module_dir: Path) -> None:
    url = f"redis+cluster://127.0.0.1:{free_port()}"
    stash.configure(url=url, retry_timeout=0.5)
    try:
        for call in (lambda: stash.put("t", "k", 1),
                     lambda: asyncio.run(astash_call(astash.put, "t", "k", 1))):
            started = time.monotonic()
            with pytest.raises(stash.StashError, match=re.escape(
                    f"cannot reach the stash server at {url}: ")):
                call()
            assert time.monotonic() - started >= 0.5
    finally:
        stash.close()
        stash.configure(url=None)


def test_a_wrong_password_is_refused_at_once(cluster: Cluster) -> None:
    stash.configure(url=f"redis+cluster://:wrong@127.0.0.1:{cluster.ports[0]}",
                    retry_timeout=30)
    try:
        for call in (lambda: stash.put("t", "k", 1),
                     lambda: asyncio.run(astash_call(astash.put, "t", "k", 1))):
            started = time.monotonic()
            with pytest.raises(stash.StashError, match="refused us") as refused:
                call()
            assert time.monotonic() - started < 10
            assert "wrong" not in str(refused.value)
    finally:
        stash.close()
        stash.configure(url=None)


async def astash_call(operation: Callable[..., Any], *args: Any) -> Any:
    """One asyncio stash call, its connection closed before the loop ends."""
    try:
        return await operation(*args)
    finally:
        await astash.aclose()
