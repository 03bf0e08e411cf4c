"""redis-py's synchronous client against the arbiter, side by side with redis-server.

Workers reach the stash through redis-py, so every method they may call must give the
same Python value as against a real Redis, in RESP3 (redis-py 8's default) and RESP2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
import servers
from redis.backoff import NoBackoff
from redis.retry import Retry
from servers import REDIS_PY_DEFAULT_PROTOCOL, PairFactory, ServerProcess

PROTOCOLS = [pytest.param(None, id="default"), pytest.param(2, id="resp2")]
PASSWORD = "pw"


def connect(server: ServerProcess, protocol: int | None, **options) -> redis.Redis:
    """A client over the server's Unix socket; `protocol=None` keeps redis-py's default."""
    if protocol is not None:
        options["protocol"] = protocol
    return redis.Redis(unix_socket_path=server.socket_path, **options)


def outcome(call: Callable[[], object]) -> object:
    """The value of `call()`, or the error it raised as (class, text) for comparison."""
    try:
        return call()
    except redis.RedisError as exc:
        return type(exc), str(exc)


def text(value: str | bytes) -> str:
    """redis-py decodes some replies (CLIENT GETNAME) itself; compare them as text."""
    return value.decode() if isinstance(value, bytes) else value


class Pair:
    """The same calls on the arbiter and on redis-server, compared reply by reply."""

    def __init__(self, arbiter: redis.Redis, reference: redis.Redis) -> None:
        self.arbiter = arbiter
        self.reference = reference

    def same(self, method: str, *args, normalize: Callable = lambda v: v, **kwargs):
        """Calls `method` on both clients; asserts equal outcomes and returns it."""
        got = outcome(lambda: normalize(getattr(self.arbiter, method)(*args, **kwargs)))
        want = outcome(lambda: normalize(getattr(self.reference, method)(*args, **kwargs)))
        assert got == want, f"{method}{args}{kwargs}: arbiter {got!r}, redis {want!r}"
        return got


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> int | None:
    return request.param


@pytest.fixture
def pair(arbiter: ServerProcess, redis_server: ServerProcess,
         protocol: int | None) -> Iterator[Pair]:
    with connect(arbiter, protocol) as mine, connect(redis_server, protocol) as theirs:
        yield Pair(mine, theirs)


@pytest.fixture(scope="module")
def auth_servers(module_server_pair: PairFactory) -> servers.Pair:
    """An arbiter and a redis-server that both require a password."""
    return module_server_pair("--requirepass", PASSWORD)


def test_default_protocol_is_resp3_with_hello_and_setinfo(arbiter):
    """redis-py 8 opens with HELLO 3 (older ones stay on RESP2) then CLIENT SETINFO; the
    arbiter must record both."""
    with connect(arbiter, None, client_name="worker-1") as client:
        info = client.client_info()
        assert info["resp"] == str(REDIS_PY_DEFAULT_PROTOCOL)
        assert info["lib-name"] == "redis-py"
        assert info["lib-ver"] == redis.__version__
        assert info["name"] == "worker-1"
        assert text(client.client_getname()) == "worker-1"
        assert isinstance(client.hgetall("missing"), dict)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_client_name_and_protocol_are_per_connection(arbiter, protocol):
    with connect(arbiter, protocol, client_name="named") as client:
        assert client.client_info()["resp"] == str(protocol or REDIS_PY_DEFAULT_PROTOCOL)
        assert text(client.client_getname()) == "named"
        assert client.client_setname("renamed") is True
        assert text(client.client_getname()) == "renamed"
        own_id = client.client_id()
        assert isinstance(own_id, int)
        assert str(client.client_info()["id"]) == str(own_id)
        listed = {entry["id"]: entry for entry in client.client_list()}
        assert listed[str(own_id)]["name"] == "renamed"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_password_handshake(auth_servers, protocol):
    for server in auth_servers:
        with connect(server, protocol, password=PASSWORD) as client:
            assert client.ping() is True
            assert client.hset("h", "f", "v") == 1
            assert client.hget("h", "f") == b"v"
            assert client.delete("h") == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("password", [None, "wrong"])
def test_refused_password_raises_like_redis(auth_servers, protocol, password):
    """No password, or a wrong one, raises the same redis-py error as against Redis."""
    results = []
    for server in auth_servers:
        # Without retries: redis-py would reconnect (with backoff) before giving up.
        with connect(server, protocol, password=password,
                     retry=Retry(NoBackoff(), 0)) as client:
            results.append(outcome(client.ping))
    assert results[0] == results[1]
    assert issubclass(results[0][0], redis.AuthenticationError)


def test_hash_commands_match_redis(pair):
    pair.same("hset", "h", mapping={"a": "1", "b": "2", "c": "x", "e": ""})
    pair.same("hset", "h", "a", "10", mapping={"b": "20", "d": "4"})
    pair.same("hset", "h", items=["p", "1", "q", "2"])
    pair.same("hget", "h", "a")
    pair.same("hget", "h", "missing")
    pair.same("hget", "nokey", "a")
    pair.same("hmget", "h", ["a", "missing", "b"])
    pair.same("hmget", "nokey", "a", "b")
    pair.same("hgetall", "h")
    pair.same("hgetall", "nokey")
    pair.same("hkeys", "h")
    pair.same("hvals", "h")
    pair.same("hlen", "h")
    pair.same("hlen", "nokey")
    pair.same("hexists", "h", "a")
    pair.same("hexists", "h", "missing")
    pair.same("hstrlen", "h", "c")
    pair.same("hstrlen", "h", "missing")
    pair.same("hsetnx", "h", "a", "new")
    pair.same("hsetnx", "h", "fresh", "new")
    pair.same("hincrby", "h", "a", 5)
    pair.same("hincrby", "h", "counter", -7)
    pair.same("hincrby", "h", "c", 1)
    pair.same("hincrby", "h", "e", 1)
    pair.same("hincrbyfloat", "h", "b", 1.5)
    pair.same("hincrbyfloat", "h", "float", "10.1")
    pair.same("hincrbyfloat", "h", "float", "-0.1")
    pair.same("hincrbyfloat", "h", "c", 1)
    pair.same("hincrbyfloat", "h", "a", 1e300)
    pair.same("hincrbyfloat", "h", "a", 1e308)
    pair.same("hincrby", "h", "a", 2**63 - 1)
    pair.same("hdel", "h", "missing")
    pair.same("hdel", "h", "p", "q", "missing")
    pair.same("hgetall", "h")
    pair.same("hkeys", "h", normalize=sorted)
    pair.same("hdel", "h", *pair.reference.hkeys("h"))
    pair.same("exists", "h")
    pair.same("hgetall", "h")


def test_string_commands_match_redis(pair):
    """What cache backends (Django, Flask-Caching, aiocache) and task queues (Celery's
    result backend, arq) call: SET with options, GET/MGET, counters, TTLs."""
    pair.same("set", "s", "v")
    pair.same("set", "s", "w", nx=True)
    pair.same("set", "s", "w", xx=True, get=True)
    pair.same("set", "new", "x", xx=True)
    pair.same("set", "ttl", b"\x80\x04pickled", ex=100)
    pair.same("set", "ttl2", "v", px=100_000, nx=True)
    pair.same("set", "s", "kept", keepttl=True)
    pair.same("get", "s")
    pair.same("get", "nokey")
    pair.same("getex", "s", ex=50)
    pair.same("ttl", "s")
    pair.same("getex", "s", persist=True)
    pair.same("ttl", "s")
    pair.same("ttl", "ttl")
    pair.same("mset", {"a": "1", "b": "2"})
    pair.same("msetnx", {"b": "3", "c": "4"})
    pair.same("mget", ["a", "b", "c", "nokey"])
    pair.same("setnx", "a", "9")
    pair.same("execute_command", "SETEX", "e", 100, "v")
    pair.same("psetex", "p", 100_000, "v")
    pair.same("incr", "n")
    pair.same("incrby", "n", 41)
    pair.same("decr", "n")
    pair.same("decrby", "n", 2)
    pair.same("incrbyfloat", "f", 10.5)
    pair.same("incrbyfloat", "f", "5.0e3")
    pair.same("incrbyfloat", "f", 1e-17)
    pair.same("append", "s", "-more")
    pair.same("strlen", "s")
    pair.same("getrange", "s", 2, -2)
    pair.same("setrange", "s", 10, "!")
    pair.same("get", "s")
    pair.same("getset", "s", "reset")
    pair.same("getdel", "s")
    pair.same("exists", "s")
    pair.same("type", "a")
    pair.same("object", "encoding", "n")
    pair.same("hset", "h", "f", "v")
    pair.same("get", "h")
    pair.same("incr", "h")
    pair.same("set", "h", "now a string")
    pair.same("type", "h")
    pair.same("hget", "h", "f")
    pair.same("expire", "a", 100)
    pair.same("ttl", "a")
    pair.same("persist", "a")
    pair.same("delete", "a", "b", "c", "e", "p", "f", "n", "h", "ttl", "ttl2", "nokey")


def test_string_reads_count_keyspace_hits_and_misses_as_redis(pair):
    """Reads inside write commands (SET GET, GETEX, GETDEL, GETSET) count as hits and
    misses, WRONGTYPE included; INCR and APPEND (write lookups) do not."""
    def stats(client: redis.Redis) -> tuple[int, int]:
        info = client.info("stats")
        return info["keyspace_hits"], info["keyspace_misses"]

    pair.same("config_resetstat")
    for argv in (["SET", "k", "v"], ["GET", "k"], ["GET", "n"], ["SET", "k", "w", "GET"],
                 ["SET", "n", "w", "GET"], ["GETEX", "k"], ["GETEX", "x"], ["GETDEL", "n"],
                 ["GETDEL", "zz"], ["GETSET", "k", "a"], ["GETSET", "q", "a"], ["INCR", "c"],
                 ["HSET", "h", "f", "v"], ["GET", "h"], ["SET", "h", "v", "GET"],
                 ["MGET", "k", "n", "x", "h"], ["STRLEN", "k"], ["GETRANGE", "k", "0", "1"],
                 ["APPEND", "k", "x"], ["EXISTS", "k"], ["TYPE", "k"]):
        pair.same("execute_command", *argv)
    assert stats(pair.arbiter) == stats(pair.reference) == (13, 7)


def test_hash_small_keeps_insertion_order(pair):
    """Small hashes are listpacks in Redis: HKEYS/HVALS/HGETALL in insertion order."""
    fields = [f"f{n}" for n in (5, 3, 9, 1, 7)]
    for name in fields:
        pair.same("hset", "ordered", name, name.upper())
    pair.same("hdel", "ordered", "f9")
    pair.same("hset", "ordered", "f9", "back")
    pair.same("hkeys", "ordered")
    pair.same("hvals", "ordered")
    pair.same("hgetall", "ordered", normalize=lambda d: list(d.items()))
    pair.same("hscan", "ordered", 0)
    pair.same("hscan", "ordered", 0, match="f[13]")


def test_hscan_returns_whole_hash_within_redis_listpack_limit(pair):
    """redis-server keeps up to hash-max-listpack-entries fields as a listpack and then
    answers HSCAN with every field and cursor 0; the arbiter must use the same limit."""
    limit = int(pair.reference.config_get("hash-max-listpack-entries")
                ["hash-max-listpack-entries"])
    mapping = {f"field:{n}": str(n) for n in range(limit)}
    pair.same("hset", "medium", mapping=mapping)
    pair.same("hscan", "medium", 0, normalize=lambda reply: (reply[0], len(reply[1])))
    pair.same("hscan", "medium", 0, count=1, normalize=lambda reply: (reply[0], reply[1]))


def test_hscan_and_hrandfield_on_large_hash(pair):
    """Large hashes are real hash tables: compare what is deterministic (the sets)."""
    mapping = {f"user:{n}": f"v{n}" for n in range(1000)}
    pair.same("hset", "big", mapping=mapping)
    pair.same("hlen", "big")
    pair.same("hscan_iter", "big", match="user:1?", count=50, normalize=sorted)
    pair.same("hscan_iter", "big", count=7, normalize=lambda it: sorted(it) == sorted(
        (k.encode(), v.encode()) for k, v in mapping.items()))
    pair.same("hscan_iter", "big", match="nothing*", normalize=list)
    for client in (pair.arbiter, pair.reference):
        cursor, page = client.hscan("big", 0, count=10)
        assert cursor != 0
        assert 1 <= len(page) <= 100
        assert all(mapping[k.decode()] == v.decode() for k, v in page.items())
        fields = client.hrandfield("big", 5)
        assert len(set(fields)) == 5
        assert all(f.decode() in mapping for f in fields)
        repeated = client.hrandfield("big", -20)
        assert len(repeated) == 20
        with_values = client.hrandfield("big", 3, withvalues=True)
        assert len(with_values) == 6
        for field, value in zip(with_values[::2], with_values[1::2], strict=True):
            assert mapping[field.decode()] == value.decode()
        single = client.hrandfield("big")
        assert single.decode() in mapping


def test_hrandfield_shapes_match_redis(pair):
    pair.same("hset", "small", mapping={"a": "1", "b": "2", "c": "3"})
    pair.same("hrandfield", "nokey")
    pair.same("hrandfield", "nokey", 3)
    pair.same("hrandfield", "nokey", 3, withvalues=True)
    pair.same("hrandfield", "small", 0)
    pair.same("hrandfield", "small", 10, normalize=sorted)
    pair.same("hrandfield", "small", 10, withvalues=True,
              normalize=lambda flat: sorted(zip(flat[::2], flat[1::2], strict=True)))
    pair.same("hrandfield", "small", -4, normalize=len)


def test_keyspace_commands_match_redis(pair):
    for n in range(5):
        pair.same("hset", f"user:{n}", "name", f"u{n}")
    pair.same("hset", "other", "x", "1")
    pair.same("exists", "user:1", "user:1", "nokey")
    pair.same("type", "user:1")
    pair.same("type", "nokey")
    pair.same("keys", "user:*", normalize=sorted)
    pair.same("keys", "user:[0-2]", normalize=sorted)
    pair.same("keys", "*", normalize=sorted)
    pair.same("dbsize")
    pair.same("scan_iter", match="user:*", normalize=sorted)
    pair.same("scan_iter", count=2, normalize=sorted)
    pair.same("scan_iter", _type="hash", normalize=sorted)
    pair.same("scan_iter", _type="string", normalize=list)
    pair.same("scan_iter", match="user:*", _type="HASH", normalize=sorted)
    pair.same("rename", "user:0", "renamed")
    pair.same("rename", "nokey", "x")
    pair.same("rename", "renamed", "renamed")
    pair.same("renamenx", "renamed", "user:1")
    pair.same("renamenx", "renamed", "renamed")
    pair.same("renamenx", "renamed", "fresh")
    pair.same("renamenx", "nokey", "fresh2")
    pair.same("rename", "fresh", "other")
    pair.same("hgetall", "other")
    pair.same("hgetall", "fresh")
    pair.same("delete", "user:1", "user:2", "nokey")
    pair.same("unlink", "user:3", "nokey")
    pair.same("delete", "nokey")
    pair.same("keys", "*", normalize=sorted)
    for client in (pair.arbiter, pair.reference):
        assert client.randomkey() in set(client.keys("*"))
    pair.same("flushdb")
    pair.same("dbsize")
    pair.same("randomkey")
    pair.same("keys", "*")


def test_server_commands_match_redis(pair):
    pair.same("ping")
    pair.same("echo", "hello")
    pair.same("echo", b"\x00\xff\r\n")
    pair.same("config_get", "timeout")
    pair.same("config_get", "maxclients")
    pair.same("config_get", "no-such-setting")
    pair.same("config_set", "timeout", 0)
    pair.same("config_set", "no-such-setting", "1")
    pair.same("config_set", "maxclients", "not-a-number")
    pair.same("memory_usage", "nokey")
    pair.same("command_count", normalize=lambda n: isinstance(n, int) and n > 0)
    pair.same("client_setname", "bad name")
    for client in (pair.arbiter, pair.reference):
        seconds, micros = client.time()
        assert seconds > 1_600_000_000
        assert 0 <= micros < 1_000_000
        client.hset("sized", mapping={f"f{n}": "x" * 100 for n in range(50)})
        assert client.memory_usage("sized") > 5000


def test_command_info_describes_hash_commands(pair):
    """Both describe HGET/HSET/HSCAN the same way (arity, key positions, flags)."""
    keys = ("name", "arity", "first_key_pos", "last_key_pos", "step_count")

    def shape(info: dict) -> dict:
        return {name: {k: entry[k] for k in keys} | {"flags": sorted(entry["flags"])}
                for name, entry in info.items()}

    names = ("hget", "hset", "hscan", "hgetall", "del", "scan")
    pair.same("command", normalize=lambda info: shape({n: info[n] for n in names}))
    pair.same("execute_command", "COMMAND", "INFO", *names, normalize=shape)


def test_info_has_the_fields_clients_read(arbiter, protocol):
    with connect(arbiter, protocol) as client:
        client.hset("h1", "f", "v")
        client.hset("h2", "f", "v")
        info = client.info()
        assert len(str(info["redis_version"]).split(".")) == 3
        assert info["arch_bits"] in (32, 64)
        assert info["cluster_enabled"] == 0
        assert info["db0"]["keys"] == 2
        assert info["connected_clients"] >= 1
        assert isinstance(info["used_memory"], int)
        assert client.info("keyspace") == {"db0": info["db0"]}


def test_errors_surface_as_response_error_with_redis_text(pair):
    pair.same("hset", "h", "a", "x")
    pair.same("execute_command", "HGET", "h")
    pair.same("execute_command", "HSET", "h", "a")
    pair.same("execute_command", "HSET", "h", "a", "1", "b")
    pair.same("execute_command", "NOSUCHCOMMAND", "arg1", "arg 2")
    pair.same("execute_command", "CLIENT", "NOSUCHSUB")
    pair.same("execute_command", "HSCAN", "h", "notacursor")
    pair.same("execute_command", "HSCAN", "h", "0", "COUNT", "0")
    pair.same("execute_command", "HSCAN", "h", "0", "BOGUS", "1")
    pair.same("execute_command", "HRANDFIELD", "h", "1", "WITHVALUES", "EXTRA")
    pair.same("execute_command", "HINCRBY", "h", "a", "notanumber")
    pair.same("execute_command", "SCAN", "0", "COUNT", "-1")
    pair.same("execute_command", "HELLO", "4")
    pair.same("execute_command", "PING", "a", "b")
    with pytest.raises(redis.ResponseError, match="hash value is not an integer"):
        pair.arbiter.hincrby("h", "a", 1)


def test_binary_safe_keys_fields_and_values(pair):
    every_byte = bytes(range(256))
    key = b"bin\x00key\r\n"
    pair.same("hset", key, mapping={every_byte: every_byte[::-1], b"": b"\x00", b" ": b""})
    pair.same("hget", key, every_byte)
    pair.same("hget", key, b"")
    pair.same("hgetall", key)
    pair.same("hstrlen", key, every_byte)
    pair.same("exists", key)
    pair.same("type", key)
    pair.same("keys", b"bin\x00*")
    pair.same("hscan", key, 0)


def test_large_values_round_trip(arbiter, protocol):
    value = bytes(range(256)) * 4096  # 1 MiB
    with connect(arbiter, protocol) as client:
        assert client.hset("large", "blob", value) == 1
        assert client.hget("large", "blob") == value
        assert client.hstrlen("large", "blob") == len(value)
        assert client.hgetall("large") == {b"blob": value}
        assert client.hmget("large", "blob", "blob") == [value, value]


def test_non_transactional_pipeline_matches_redis(pair):
    def run(client: redis.Redis) -> list:
        with client.pipeline(transaction=False) as pipe:
            for n in range(300):
                pipe.hset(f"p:{n % 7}", f"f{n}", n)
            pipe.hincrby("p:0", "counter", 3)
            pipe.hget("p:0", "counter")
            pipe.hlen("p:1")
            pipe.hgetall("p:6")
            pipe.hincrby("p:0", "f0", "x")
            pipe.exists("p:0", "p:9")
            pipe.hmget("p:2", "f2", "nope")
            pipe.delete("p:3")
            pipe.type("p:4")
            return [outcome_of(v) for v in pipe.execute(raise_on_error=False)]

    assert run(pair.arbiter) == run(pair.reference)


def outcome_of(value: object) -> object:
    """Pipeline results with errors made comparable."""
    if isinstance(value, redis.RedisError):
        return type(value), str(value)
    return value


def test_pipeline_raises_first_error(arbiter, protocol):
    with connect(arbiter, protocol) as client, client.pipeline(transaction=False) as pipe:
        client.hset("h", "text", "abc")
        pipe.hset("h", "n", 1)
        pipe.hincrby("h", "text", 1)
        pipe.hget("h", "n")
        with pytest.raises(redis.ResponseError, match="hash value is not an integer"):
            pipe.execute()
        assert client.hget("h", "n") == b"1"


def test_db_option_keeps_its_data_apart_like_redis(arbiter, redis_server, protocol):
    """redis-py with `db=2` (it sends SELECT on every new connection): its commands,
    pipelines and transactions run in db 2, as against redis-server."""
    for server in (arbiter, redis_server):
        with connect(server, protocol, db=2) as two, connect(server, protocol) as zero:
            two.hset("h", mapping={"a": "2"})
            zero.hset("h", mapping={"a": "0"})
            with two.pipeline(transaction=True) as pipe:
                pipe.hset("t", "x", "1").move("t", 0).execute()
            two.copy("h", "h-copy", destination_db=5)
    with connect(arbiter, protocol, db=2) as mine, \
            connect(redis_server, protocol, db=2) as theirs:
        pair = Pair(mine, theirs)
        pair.same("hgetall", "h")
        pair.same("dbsize")
        pair.same("keys", "*")
        pair.same("exists", "t")
        pair.same("move", "h", 2)
        pair.same("swapdb", 2, 0)
        pair.same("hgetall", "h")
        pair.same("keys", "*", normalize=sorted)
        pair.same("client_info", normalize=lambda info: info["db"])
    with connect(arbiter, protocol, db=5) as mine, \
            connect(redis_server, protocol, db=5) as theirs:
        Pair(mine, theirs).same("hgetall", "h-copy")
