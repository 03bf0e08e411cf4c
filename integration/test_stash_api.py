"""The stash API, run the same way against the arbiter and against a real redis-server.

Where the two servers must differ (a plain Redis cannot hold an empty hash), the test
says so with `backend.native`. Where gunicorn's own implementation departs from its
documentation, these tests pin the documented behaviour.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from gunicorn_procs import Server, redis_cli, start_arbiter
from servers import poll_until

from gunicorn_ext import _core, astash, stash, wire
from gunicorn_ext.codec import BytesCodec


class Backend:
    def __init__(self, server: Server, native: bool) -> None:
        self.server = server
        self.native = native
        self.admin = redis.Redis(unix_socket_path=server.socket_path)

    def supports(self, *probe: Any) -> bool:
        """Whether the server knows the command `probe` (which must be harmless)."""
        try:
            self.admin.execute_command(*probe)
        except redis.ResponseError as error:
            return "unknown command" not in str(error)
        return True


@pytest.fixture(params=["arbiter", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    server = request.getfixturevalue(f"{request.param}_server")
    chosen = Backend(server, native=request.param == "arbiter")
    chosen.admin.flushall()
    stash.configure(url=server.url, codec=None, retry_timeout=5.0)
    yield chosen
    stash.close()
    stash.configure(url=None, max_connections=16)
    chosen.admin.close()


VALUES: list[Any] = [
    None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**80, 1.5, -0.0, 1e300, float("inf"),
    "", "hello", "42", "true", "null", " 7 ", '"quoted"', "[1, 2]", "caf\u00e9 \u2603",
    "\ud800", b"", b"\x00\xffbinary", "line\nbreak",
    [], {}, [1, "a", None, [2, [3]]], {"name": "Alice", "roles": ["admin"]},
    {"bytes": b"\x01", "nested": {"n": [b"", {"k": 1.25}]}},
    {7: "int key", None: "none key", b"b": "bytes key", 2.5: "float key", False: "bool"},
    {"$b": "looks like a tag"}, {"$d": [[1, 2]]},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_round_trip_exactly(backend: Backend, value: Any) -> None:
    stash.put("values", "v", value)
    got = stash.get("values", "v")
    assert got == value
    assert type(got) is type(value)
    assert repr(got) == repr(value)


def test_tuples_come_back_as_lists(backend: Backend) -> None:
    stash.put("values", "t", (1, (2, "x")))
    assert stash.get("values", "t") == [1, [2, "x"]]


@pytest.mark.parametrize(("value", "type_name"), [
    ({1, 2}, "set"), (object(), "object"), (1j, "complex"), ([1, {2}], "set"),
    ({(1, 2): "tuple key"}, "tuple")], ids=["set", "object", "complex", "nested", "key"])
def test_unsupported_types_raise_stash_error_naming_the_type(backend: Backend, value: Any,
                                                             type_name: str) -> None:
    with pytest.raises(stash.StashError, match=f"'{type_name}'"):
        stash.put("values", "bad", value)
    assert not stash.exists("values", "bad")


def test_circular_values_raise_stash_error(backend: Backend) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(stash.StashError):
        stash.put("values", "loop", loop)


def test_json_like_values_are_readable_in_redis_cli(backend: Backend) -> None:
    stash.put("users", "alice", {"name": "Alice", "age": 30})
    stash.put("users", "count", 3)
    stash.put("users", "greeting", "hello")
    sock = backend.server.socket_path
    assert redis_cli(sock, "HGET", "users", "alice").strip() == '{"name":"Alice","age":30}'
    assert redis_cli(sock, "HGET", "users", "count").strip() == "3"
    assert redis_cli(sock, "HGET", "users", "greeting").strip() == "hello"


def test_text_written_with_redis_cli_reads_back(backend: Backend) -> None:
    sock = backend.server.socket_path
    redis_cli(sock, "HSET", "typed", "word", "hello world", "number", "42", "flag", "true",
              "doc", '{"a": [1]}')
    assert stash.get("typed", "word") == "hello world"
    assert stash.get("typed", "number") == 42
    assert stash.get("typed", "flag") is True
    assert stash.get("typed", "doc") == {"a": [1]}


def test_non_utf8_data_from_other_clients_reads_as_bytes(backend: Backend) -> None:
    backend.admin.hset("raw", "k", b"\x80\x81")
    assert stash.get("raw", "k") == b"\x80\x81"


def test_get_returns_the_default_for_missing_keys_as_documented(backend: Backend) -> None:
    # gunicorn's own client raises StashError here; its documentation says default.
    assert stash.get("nowhere", "k") is None
    assert stash.get("nowhere", "k", "fallback") == "fallback"
    stash.put("somewhere", "k", None)
    assert stash.get("somewhere", "k", "fallback") is None
    assert stash.get("somewhere", "other", 0) == 0


def test_put_get_delete_exists(backend: Backend) -> None:
    stash.put("sessions", "user:1", {"name": "Alice"})
    assert stash.exists("sessions")
    assert stash.exists("sessions", "user:1")
    assert not stash.exists("sessions", "user:2")
    assert stash.delete("sessions", "user:1") is True
    assert stash.delete("sessions", "user:1") is False
    assert stash.get("sessions", "user:1") is None


def test_keys_with_shell_style_patterns(backend: Backend) -> None:
    for key in ("user:1", "user:2", "User:3", "admin:1", "user:10"):
        stash.put("k", key, 1)
    assert sorted(stash.keys("k")) == ["User:3", "admin:1", "user:1", "user:10", "user:2"]
    assert sorted(stash.keys("k", pattern="user:*")) == ["user:1", "user:10", "user:2"]
    assert sorted(stash.keys("k", pattern="user:?")) == ["user:1", "user:2"]
    assert sorted(stash.keys("k", pattern="[!u]*")) == ["User:3", "admin:1"]
    assert stash.keys("missing") == []


def test_info_and_missing_table_error_as_documented(backend: Backend) -> None:
    stash.put("t", "a", 1)
    stash.put("t", "b", 2)
    assert stash.info("t") == {"table": "t", "size": 2}
    # gunicorn's own client raises a plain StashError; its documentation names this one.
    with pytest.raises(stash.StashTableNotFoundError) as caught:
        stash.info("nonexistent")
    assert caught.value.table_name == "nonexistent"
    assert isinstance(caught.value, stash.StashError)


def test_clear_keeps_the_table_on_the_arbiter(backend: Backend) -> None:
    stash.put("c", "a", 1)
    stash.clear("c")
    assert stash.keys("c") == []
    # Difference: a plain Redis cannot keep an empty hash, so the table is gone there.
    assert stash.exists("c") is backend.native
    assert ("c" in stash.tables()) is backend.native
    stash.clear("never-existed")
    assert stash.exists("never-existed") is False


def test_ensure_creates_an_empty_table_on_the_arbiter(backend: Backend) -> None:
    stash.ensure("cache")
    stash.ensure("cache")
    assert ("cache" in stash.tables()) is backend.native
    if backend.native:
        assert stash.info("cache") == {"table": "cache", "size": 0}
        assert backend.admin.type("cache") == b"hash"
    stash.put("cache", "k", 1)
    stash.ensure("cache")
    assert stash.get("cache", "k") == 1


def test_delete_table_and_tables(backend: Backend) -> None:
    for name in ("b", "a", "c"):
        stash.put(name, "k", 1)
    if backend.supports("SET", "plain-string", "x"):
        assert backend.admin.type("plain-string") == b"string"
    assert stash.tables() == ["a", "b", "c"]
    assert stash.delete_table("b") is None
    assert stash.tables() == ["a", "c"]
    assert stash.exists("b") is False


def test_tables_scans_many(backend: Backend) -> None:
    stash.put_many("seed", {"k": 1})
    with backend.admin.pipeline(transaction=False) as pipe:
        for i in range(2500):
            pipe.hset(f"t{i:05}", "k", 1)
        pipe.execute()
    assert len(stash.tables()) == 2501


def test_table_is_dict_like(backend: Backend) -> None:
    sessions = stash.table("sessions")
    assert sessions.name == "sessions"
    sessions["user:1"] = {"name": "Alice"}
    sessions["user:2"] = None
    assert sessions["user:1"] == {"name": "Alice"}
    assert sessions["user:2"] is None
    assert "user:1" in sessions and "user:3" not in sessions
    assert sorted(sessions) == ["user:1", "user:2"]
    assert len(sessions) == 2
    assert dict(sessions.items()) == {"user:1": {"name": "Alice"}, "user:2": None}
    assert sorted(sessions.values(), key=repr) == [None, {"name": "Alice"}]
    assert sessions.get("user:3", "d") == "d"
    assert sessions.keys("user:1") == ["user:1"]
    with pytest.raises(KeyError) as missing:
        sessions["user:3"]
    assert isinstance(missing.value, stash.StashKeyNotFoundError)
    assert (missing.value.table_name, missing.value.key) == ("sessions", "user:3")
    del sessions["user:2"]
    with pytest.raises(KeyError):
        del sessions["user:2"]
    sessions.clear()
    assert len(sessions) == 0


def test_incr_is_atomic_across_threads(backend: Backend) -> None:
    def bump() -> None:
        for _ in range(200):
            stash.incr("counters", "hits")

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stash.get("counters", "hits") == 1600
    assert stash.incr("counters", "hits", -600) == 1000
    assert stash.incr("counters", "ratio", 0.5) == 0.5
    assert stash.incr("counters", "ratio", 1.25) == 1.75
    stash.put("counters", "name", "alice")
    with pytest.raises(stash.StashError, match="not an integer"):
        stash.incr("counters", "name")


def test_get_many_and_put_many_use_one_round_trip(backend: Backend,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    stash.put("warm", "up", 1)
    client = stash._current()
    sent: list[Any] = []
    original = client._send
    monkeypatch.setattr(client, "_send",
                        lambda lane, batch: sent.append(batch) or original(lane, batch))
    stash.put_many("many", {"a": 1, "b": [2], "c": None})
    assert stash.get_many("many", ["a", "b", "c", "d"], "default") == {
        "a": 1, "b": [2], "c": None, "d": "default"}
    assert len(sent) == 2
    assert stash.get_many("many", []) == {}
    stash.put_many("many", {})
    assert len(sent) == 2


def test_put_with_ttl(backend: Backend) -> None:
    if backend.supports("HPEXPIRE", "probe", 1000, "FIELDS", 1, "f"):
        stash.put("ttl", "short", 1, ttl=0.2)
        stash.put_many("ttl", {"x": 1, "y": 2}, ttl=60)
        assert backend.admin.execute_command("HPTTL", "ttl", "FIELDS", 1, "x")[0] > 59000
        assert stash.get("ttl", "short") == 1
        stash.put("ttl", "short", 1)
        assert backend.admin.execute_command("HPTTL", "ttl", "FIELDS", 1, "short")[0] == -1
    else:
        with pytest.raises(stash.StashError, match="HPEXPIRE"):
            stash.put("ttl", "k", 1, ttl=5)
        assert stash.exists("ttl", "k") is False
    with pytest.raises(stash.StashError):
        stash.put("ttl", "k", 1, ttl=0)


def test_names_must_be_str_and_may_hold_any_text(backend: Backend) -> None:
    with pytest.raises(stash.StashError, match="int"):
        stash.put("t", 1, "x")  # type: ignore[arg-type]
    stash.put("t\u00e9", "k\udcff", 1)
    assert stash.keys("t\u00e9") == ["k\udcff"]
    assert "t\u00e9" in stash.tables()


def test_wrong_type_is_a_stash_error(redis_server: Server) -> None:
    # Only a real Redis holds keys of other types (the arbiter has hashes only).
    with redis.Redis(unix_socket_path=redis_server.socket_path) as admin:
        admin.flushall()
        admin.set("str", "x")
    stash.configure(url=redis_server.url)
    try:
        with pytest.raises(stash.StashError, match="WRONGTYPE"):
            stash.put("str", "k", 1)
    finally:
        stash.close()
        stash.configure(url=None)


def test_info_of_a_key_that_is_not_a_hash_says_so(redis_server: Server) -> None:
    with redis.Redis(unix_socket_path=redis_server.socket_path) as admin:
        admin.flushall()
        admin.set("plain", "x")
    stash.configure(url=redis_server.url)
    try:
        with pytest.raises(stash.StashError) as caught:
            stash.info("plain")
        assert str(caught.value) == ("'plain' is not a stash table: the server holds a string "
                                     "under that name, and tables are hashes")
        with pytest.raises(stash.StashError, match="holds a string"):
            asyncio.run(astash.info("plain"))
    finally:
        stash.close()
        stash.configure(url=None)


@pytest.mark.parametrize("call", [
    lambda: stash.put("", "k", 1), lambda: stash.get("", "k"), lambda: stash.ensure(""),
    lambda: stash.table("")["k"], lambda: asyncio.run(astash.put("", "k", 1)),
    lambda: asyncio.run(astash.table("").len())], ids=["put", "get", "ensure", "table",
                                                       "async-put", "async-table"])
def test_an_empty_table_name_is_refused(backend: Backend, call: Any) -> None:
    with pytest.raises(stash.StashError) as caught:
        call()
    assert str(caught.value) == "a table name cannot be empty"
    assert backend.admin.dbsize() == 0


@pytest.mark.parametrize("limit", [1, 3])
def test_lazy_connections_per_process_bounded_and_shared_by_threads(backend: Backend,
                                                                   limit: int) -> None:
    def connected() -> int:
        return int(backend.admin.info("clients")["connected_clients"])

    stash.close()
    before = connected()
    stash.configure(url=backend.server.url, max_connections=limit)
    assert connected() == before
    stash.put("c", "first", 0)
    assert connected() == before + 1
    barrier = threading.Barrier(6)

    def work() -> None:
        barrier.wait()
        for i in range(50):
            stash.put("c", str(i), i)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert before + 1 <= connected() <= before + limit
    assert stash.get("c", "49") == 49
    with pytest.raises(stash.StashError, match="max_connections"):
        stash.configure(max_connections=0)


def test_forked_children_get_their_own_connection(backend: Backend) -> None:
    stash.put("fork", "parent", 1)
    pid = os.fork()
    if pid == 0:
        try:
            stash.put("fork", "child", stash.get("fork", "parent") + 1)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert stash.get("fork", "child") == 2
    assert stash.get("fork", "parent") == 1


def test_unreachable_server_raises_after_retry_timeout(backend: Backend) -> None:
    stash.configure(url="unix:///nonexistent/stash.sock", retry_timeout=0.3)
    with pytest.raises(stash.StashError, match="cannot reach"):
        stash.get("t", "k")


def test_no_url_configured(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUNICORN_STASH_URL", raising=False)
    stash.configure(url=None)
    with pytest.raises(stash.StashError, match="GUNICORN_STASH_URL"):
        stash.get("t", "k")


def test_reconnects_when_the_server_comes_back(module_dir: Any, backend: Backend) -> None:
    server = start_arbiter(module_dir, name="restart")
    try:
        stash.configure(url=server.url)
        stash.put("r", "k", 1)
        server.stop()
        server = start_arbiter(module_dir, name="restart")
        stash.put("r", "k", 2)
        assert stash.get("r", "k") == 2
    finally:
        server.stop()


def _close_the_stash_connections(backend: Backend) -> None:
    """The server closes every connection but the test's own; returns once it has."""
    assert backend.admin.client_kill_filter(_type="normal", skipme=True) >= 1
    assert poll_until(lambda: len(backend.admin.client_list()) == 1)


def test_a_connection_the_server_closed_while_idle_is_replaced_at_once(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A command goes out on a connection without checking it first: when the server
    closed it meanwhile, the operation starts again at once on a new one (no pause), an
    idempotent one transparently, an increment (checked before it is sent) exactly once
    and never as an unknown outcome."""
    pauses: list[float] = []

    class Recorded(_core.Pause):
        def __init__(self, seconds: float) -> None:
            super().__init__(seconds)
            pauses.append(seconds)

    monkeypatch.setattr(_core, "Pause", Recorded)
    stash.put("idle", "k", 1)
    for call, expected in ((lambda: stash.get("idle", "k"), 1),
                           (lambda: stash.put("idle", "k", 2), None),
                           (lambda: stash.incr("idle", "n"), 1),
                           (lambda: stash.get_many("idle", ["k", "n"]), {"k": 2, "n": 1})):
        _close_the_stash_connections(backend)
        assert call() == expected

    async def scenario() -> None:
        await astash.put("idle", "a", 1)
        _close_the_stash_connections(backend)
        assert await astash.get("idle", "a") == 1
        _close_the_stash_connections(backend)
        await astash.put("idle", "a", 2)
        await astash.aclose()

    asyncio.run(scenario())
    assert pauses == []
    assert backend.admin.hmget("idle", ["n", "a"]) == [b"1", b"2"]


def test_custom_codec(backend: Backend) -> None:
    stash.configure(codec=BytesCodec())
    stash.put("raw", "k", b"\x00\x01")
    assert stash.get("raw", "k") == b"\x00\x01"
    with pytest.raises(stash.StashError, match="int"):
        stash.put("raw", "k", 1)


def test_password_in_url(module_dir: Any, backend: Backend) -> None:
    server = start_arbiter(module_dir, "--requirepass", "s3cr:t/", name="secret")
    try:
        stash.configure(url=f"unix://:s3cr%3At%2F@{server.socket_path}")
        stash.put("p", "k", 1)
        assert stash.get("p", "k") == 1
        stash.configure(url=server.url)
        with pytest.raises(stash.StashError):
            stash.get("p", "k")
    finally:
        server.stop()


def test_db_in_url_keeps_tables_apart(backend: Backend) -> None:
    """`?db=3` in the URL: the stash's tables live in db 3, and db 0's stay untouched."""
    stash.put("shared", "k", "zero")
    stash.configure(url=f"{backend.server.url}?db=3")
    assert stash.get("shared", "k") is None
    stash.put("shared", "k", "three")
    stash.put("only3", "k", 1)
    assert sorted(stash.tables()) == ["only3", "shared"]
    assert stash.get("shared", "k") == "three"
    db3 = redis.Redis(unix_socket_path=backend.server.socket_path, db=3)
    try:
        assert db3.hget("shared", "k") == b"three"
        assert backend.admin.hget("shared", "k") == b"zero"
        assert not backend.admin.exists("only3")
    finally:
        db3.close()
    stash.configure(url=backend.server.url)
    assert stash.get("shared", "k") == "zero"
    assert stash.tables() == ["shared"]


def test_master_connection_selects_the_db_of_its_url(arbiter_server: Server) -> None:
    """The master's own client (gunicorn_ext.wire) sends SELECT for `?db=N`."""
    with wire.Connection.open(f"{arbiter_server.url}?db=4", timeout=5) as conn:
        assert conn.call("HSET", "t", "f", "v") == 1
        assert b" db=4 " in conn.call("CLIENT", "INFO")
    admin = redis.Redis(unix_socket_path=arbiter_server.socket_path, db=4)
    try:
        assert admin.hget("t", "f") == b"v"
        admin.flushall()
    finally:
        admin.close()


@pytest.mark.parametrize("url", [
    "redis://localhost:6379/2", "redis://localhost/7", "redis://h:1/?db=3", "redis://h:1",
    "rediss://:pw@h:1/5", "unix:///tmp/s.sock?db=3", "unix:///tmp/s.sock",
    "unix://:pw@/tmp/s.sock?db=11", "redis://h:1/0?db=4"])
def test_url_db_reads_urls_as_redis_py_does(url: str) -> None:
    assert wire.url_db(url) == redis.connection.parse_url(url).get("db", 0)


# --- the asyncio twin -------------------------------------------------------------------

API = ["put", "get", "delete", "exists", "keys", "clear", "info", "ensure", "delete_table",
       "tables", "table", "incr", "get_many", "put_many", "configure"]

DOCUMENTED = {
    "put": "(table, key, value, ttl=None)",
    "get": "(table, key, default=None)",
    "delete": "(table, key)",
    "exists": "(table, key=None)",
    "keys": "(table, pattern=None)",
    "clear": "(table)",
    "info": "(table)",
    "ensure": "(table)",
    "delete_table": "(table)",
    "tables": "()",
    "table": "(name)",
}


def _plain(signature: inspect.Signature) -> str:
    return str(signature.replace(
        parameters=[p.replace(annotation=inspect.Parameter.empty)
                    for p in signature.parameters.values()],
        return_annotation=inspect.Signature.empty))


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_signatures(name: str) -> None:
    assert _plain(inspect.signature(getattr(stash, name))) == DOCUMENTED[name]


@pytest.mark.parametrize("name", API)
def test_async_twin_has_every_function_with_the_same_signature(name: str) -> None:
    sync, twin = getattr(stash, name), getattr(astash, name)
    assert _plain(inspect.signature(sync)) == _plain(inspect.signature(twin))
    if name not in ("table", "configure"):
        assert inspect.iscoroutinefunction(twin)
    for error in ("StashError", "StashTableNotFoundError", "StashKeyNotFoundError"):
        assert getattr(astash, error) is getattr(stash, error)


def test_async_twin_behaves_the_same(backend: Backend) -> None:
    async def scenario() -> None:
        await astash.put("a", "k", {"x": [1, b"2"]})
        assert await astash.get("a", "k") == {"x": [1, b"2"]}
        assert await astash.get("a", "missing", 5) == 5
        assert await astash.exists("a") and await astash.exists("a", "k")
        assert await astash.keys("a", "k*") == ["k"]
        assert await astash.incr("a", "n", 3) == 3
        assert await astash.get_many("a", ["n", "z"]) == {"n": 3, "z": None}
        await astash.put_many("a", {"m": 1})
        assert (await astash.info("a"))["size"] == 3
        with pytest.raises(astash.StashTableNotFoundError):
            await astash.info("nope")
        table = astash.table("a")
        assert sorted([k async for k in table]) == sorted(await astash.keys("a"))
        assert await table.len() == 3
        with pytest.raises(KeyError):
            await table.getitem("zz")
        await table.setitem("zz", 1)
        assert await table.contains("zz")
        await table.delitem("zz")
        await astash.ensure("e")
        assert ("e" in await astash.tables()) is backend.native
        await astash.clear("a")
        assert await astash.keys("a") == []
        await astash.delete_table("a")
        assert await astash.delete("a", "k") is False
        await asyncio.gather(*(astash.incr("g", "n") for _ in range(50)))
        assert await astash.get("g", "n") == 50
        await astash.aclose()

    asyncio.run(scenario())
    assert stash.get("g", "n") == 50
