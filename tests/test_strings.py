"""String keys in-process: typed lookups (WRONGTYPE for every hash command, the field
expiry and stash ones included), the memory estimate and key counters through every
string write, expiry, eviction, WATCH, and the bounds on what a client can make a string
cost (SETRANGE/APPEND against proto-max-bulk-len, maxmemory)."""

from __future__ import annotations

import random
import tracemalloc

import pytest
import redis
from servers import start_arbiter

from bench.servers import process_memory
from resp_arbiter import commands  # noqa: F401  (registers the commands)
from resp_arbiter.client import Client
from resp_arbiter.config import Config
from resp_arbiter.keyspace import Packed, Table, value_cost
from resp_arbiter.registry import COMMANDS
from resp_arbiter.server import Server

WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
OOM = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
TOO_LONG = b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"

# Every hash command, with arguments that succeed on a hash (or a missing key).
HASH_COMMANDS = [
    ["HSET", "s", "f", "v"], ["HSETNX", "s", "f", "v"], ["HMSET", "s", "f", "v"],
    ["HGET", "s", "f"], ["HMGET", "s", "f"], ["HGETALL", "s"], ["HKEYS", "s"], ["HVALS", "s"],
    ["HLEN", "s"], ["HEXISTS", "s", "f"], ["HDEL", "s", "f"], ["HSTRLEN", "s", "f"],
    ["HINCRBY", "s", "f", "1"], ["HINCRBYFLOAT", "s", "f", "1"], ["HRANDFIELD", "s"],
    ["HSCAN", "s", "0"], ["HEXPIRE", "s", "10", "FIELDS", "1", "f"],
    ["HPEXPIRE", "s", "10", "FIELDS", "1", "f"],
    ["HEXPIREAT", "s", "4102444800", "FIELDS", "1", "f"],
    ["HPEXPIREAT", "s", "4102444800000", "FIELDS", "1", "f"],
    ["HTTL", "s", "FIELDS", "1", "f"], ["HPTTL", "s", "FIELDS", "1", "f"],
    ["HEXPIRETIME", "s", "FIELDS", "1", "f"], ["HPEXPIRETIME", "s", "FIELDS", "1", "f"],
    ["HPERSIST", "s", "FIELDS", "1", "f"], ["HGETDEL", "s", "FIELDS", "1", "f"],
    ["HGETEX", "s", "FIELDS", "1", "f"], ["HSETEX", "s", "FIELDS", "1", "f", "v"],
    ["STASH.ENSURE", "s"], ["STASH.CLEAR", "s"],
]

STRING_COMMANDS = [
    ["GET", "h"], ["SET", "h", "v", "GET"], ["GETEX", "h"], ["GETDEL", "h"],
    ["GETSET", "h", "v"], ["INCR", "h"], ["DECR", "h"], ["INCRBY", "h", "1"],
    ["DECRBY", "h", "1"], ["INCRBYFLOAT", "h", "1"], ["APPEND", "h", "v"], ["STRLEN", "h"],
    ["GETRANGE", "h", "0", "1"], ["SUBSTR", "h", "0", "1"], ["SETRANGE", "h", "0", "v"],
]


class Rig:
    """A server and one client, with a hand-driven clock."""

    def __init__(self) -> None:
        self.server = Server(Config())
        self.client = Client(self.server)
        self.keyspace = self.server.keyspace
        self.now = 1_800_000_000_000
        self.keyspace.clock = lambda: self.now
        self.keyspace.tick()

    def call(self, *argv: str | bytes | int) -> bytes:
        self.client.out.clear()
        self.server.call(self.client, [a if isinstance(a, bytes) else str(a).encode()
                                       for a in argv])
        return bytes(self.client.out)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_every_hash_command_is_covered_here():
    """A new hash command must be added to HASH_COMMANDS (and so checked for WRONGTYPE)."""
    declared = {name.decode() for name, spec in COMMANDS.items()
                if (spec.group == "hash" or name.startswith(b"stash.")) and spec.key_specs}
    assert declared == {argv[0].lower() for argv in HASH_COMMANDS}
    strings = {name.decode() for name, spec in COMMANDS.items() if spec.group == "string"}
    assert strings == {argv[0].lower() for argv in STRING_COMMANDS} | {
        "setnx", "setex", "psetex", "mget", "mset", "msetnx"}


@pytest.mark.parametrize("argv", HASH_COMMANDS, ids=lambda argv: argv[0])
def test_hash_commands_on_a_string_answer_wrongtype_and_change_nothing(rig, argv):
    rig.call("SET", "s", "v", "EX", "100")
    dirty = rig.keyspace.dirty
    assert rig.call(*argv) == WRONGTYPE
    assert rig.keyspace.dirty == dirty
    assert rig.call("GET", "s") == b"$1\r\nv\r\n"
    assert rig.call("TTL", "s") == b":100\r\n"


@pytest.mark.parametrize("argv", STRING_COMMANDS, ids=lambda argv: argv[0])
def test_string_commands_on_a_hash_answer_wrongtype_and_change_nothing(rig, argv):
    rig.call("HSET", "h", "f", "v")
    dirty = rig.keyspace.dirty
    assert rig.call(*argv) == WRONGTYPE
    assert rig.keyspace.dirty == dirty
    assert rig.call("HGETALL", "h") == b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"


def test_a_pinned_table_stays_a_hash_until_a_set_replaces_it(rig):
    assert rig.call("STASH.ENSURE", "p") == b":1\r\n"
    assert rig.call("GET", "p") == WRONGTYPE
    assert rig.call("SET", "p", "v") == b"+OK\r\n"
    assert rig.call("TYPE", "p") == b"+string\r\n"
    assert rig.call("STASH.ENSURE", "p") == WRONGTYPE


def _check_counters(rig: Rig) -> None:
    keyspace = rig.keyspace
    tables = keyspace.tables
    assert keyspace.data_bytes == sum(keyspace.memory_usage(key, value)
                                      for key, value in tables.items())
    assert keyspace.expires == len(keyspace.volatile) and keyspace.deadlines.keys() <= tables.keys()
    assert len(keyspace.index) == len(tables)


def _random_command(rng: random.Random, now: int) -> list[str | int]:
    key = rng.choice("abc")
    value = rng.choice(["1", "x" * rng.randint(0, 80), "2.5", "-7", ""])
    return rng.choice([
        ["SET", key, value], ["SET", key, value, "PX", rng.randint(1, 500)],
        ["SET", key, value, "KEEPTTL"], ["SET", key, value, "PXAT", now + rng.randint(-50, 500)],
        ["SET", key, value, "NX", "GET"], ["SET", key, value, "XX"], ["SETNX", key, value],
        ["PSETEX", key, rng.randint(1, 500), value], ["GETEX", key, "PX", rng.randint(1, 500)],
        ["GETEX", key, "PERSIST"], ["GETEX", key, "PXAT", now - 1], ["GETDEL", key],
        ["GETSET", key, value], ["MSET", key, value, rng.choice("abc"), value],
        ["MSETNX", key, value, "z", value], ["INCR", key], ["DECRBY", key, 3],
        ["INCRBYFLOAT", key, "0.5"], ["APPEND", key, value],
        ["SETRANGE", key, rng.randint(0, 100), value], ["DEL", key], ["UNLINK", key, "z"],
        ["RENAME", key, rng.choice("abc")], ["PEXPIRE", key, rng.randint(-5, 500)],
        ["PERSIST", key], ["HSET", key, "f", value], ["HDEL", key, "f"], ["GET", key],
        ["FLUSHALL"],
    ])


def test_the_estimate_and_counters_follow_every_string_write(rig):
    """data_bytes stays the sum of the keys' costs, `expires` the keys with a TTL, through
    random string and hash writes, expiry (lazy and active) and type changes."""
    rng = random.Random(7)
    for _ in range(3000):
        rig.call(*_random_command(rng, rig.now))
        _check_counters(rig)
        if rng.random() < 0.1:
            rig.now += rng.randint(1, 300)
            rig.keyspace.tick()
            if rng.random() < 0.5:
                rig.keyspace.expire_cycle(budget=None)
                _check_counters(rig)
    rig.call("FLUSHALL")
    assert rig.keyspace.data_bytes == 0


def test_a_string_costs_its_overhead_and_lengths(rig):
    rig.call("SET", "key", "x" * 100)
    keyspace = rig.keyspace
    value = keyspace.tables[b"key"]
    assert value.__class__ is bytes  # a string is stored as its bytes, nothing more
    cost = keyspace.memory_usage(b"key", value)
    assert rig.call("MEMORY", "USAGE", "key") == b":%d\r\n" % cost
    rig.call("EXPIRE", "key", "100")
    assert keyspace.memory_usage(b"key", value) > cost
    rig.call("HSET", "h", "f", "x" * 100)
    assert keyspace.memory_usage(b"h", keyspace.tables[b"h"]) > cost  # a hash has containers
    rig.call("HSET", "p", "f", "x" * 10)
    assert keyspace.tables[b"p"].__class__ is Packed
    assert value_cost(b"p", keyspace.tables[b"p"]) < cost  # a small one is packed


def test_string_keys_expire_actively_and_lazily(rig):
    rig.call("SET", "lazy", "v", "PX", "100")
    rig.call("SET", "active", "v", "PX", "100")
    rig.call("SET", "past", "v", "PXAT", "1")
    assert rig.call("DBSIZE") == b":3\r\n"  # a past PXAT is stored, as Redis stores it
    rig.now += 200
    rig.keyspace.tick()
    assert rig.call("GET", "lazy") == b"$-1\r\n"
    rig.keyspace.expire_cycle(budget=None)
    assert rig.keyspace.tables == {}
    assert rig.keyspace.expired_keys == 3
    assert rig.keyspace.data_bytes == 0


def test_string_writes_dirty_watched_keys(rig):
    for argv in (["SET", "k", "v"], ["APPEND", "k", "x"], ["INCR", "n"], ["GETDEL", "k"],
                 ["MSET", "k", "1"], ["SETRANGE", "k", "0", "2"], ["INCRBYFLOAT", "k", "1"],
                 ["GETEX", "k", "EX", "10"], ["GETEX", "k", "PERSIST"]):
        key = argv[1]
        watcher = Client(rig.server)
        rig.keyspace.watch(key.encode(), watcher)
        watcher.dirty_cas = False
        rig.call(*argv)
        assert watcher.dirty_cas, argv
        rig.keyspace.unwatch(key.encode(), watcher)
    watcher = Client(rig.server)
    rig.keyspace.watch(b"k", watcher)
    watcher.dirty_cas = False
    for argv in (["GET", "k"], ["SET", "k", "v", "NX"], ["GETEX", "k"], ["APPEND", "h", "x"]):
        rig.call(*argv)
    assert not watcher.dirty_cas


def test_get_records_the_access_for_lru_and_lfu(rig):
    rig.call("SET", "k", "v")
    rig.now += 10_000
    rig.keyspace.tick()
    assert rig.call("OBJECT", "IDLETIME", "k") == b":10\r\n"
    rig.call("GET", "k")
    assert rig.call("OBJECT", "IDLETIME", "k") == b":0\r\n"
    assert rig.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu") == b"+OK\r\n"
    rig.call("SET", "f", "v")
    for _ in range(20):
        rig.call("GET", "f")
    assert int(rig.call("OBJECT", "FREQ", "f")[1:-2]) > 5
    rig.call("SET", "f", "w")  # an overwrite keeps the counter under LFU, as in Redis
    assert int(rig.call("OBJECT", "FREQ", "f")[1:-2]) > 5


def test_shared_integers_follow_the_maxmemory_policy(rig):
    rig.call("SET", "n", "42")
    assert rig.call("OBJECT", "REFCOUNT", "n") == b":2147483647\r\n"
    maxmemory = rig.server.memory.baseline + 10**9
    rig.call("CONFIG", "SET", "maxmemory", maxmemory)
    assert rig.call("OBJECT", "REFCOUNT", "n") == b":2147483647\r\n"  # noeviction
    rig.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    assert rig.call("OBJECT", "REFCOUNT", "n") == b":1\r\n"


def test_string_keys_are_evicted_under_allkeys_lru(rig):
    rig.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    per_key = value_cost(b"key0000", b"x" * 100)
    rig.call("CONFIG", "SET", "maxmemory", rig.server.memory.baseline + 100 * per_key)
    for i in range(300):
        assert rig.call("SET", f"key{i:04d}", "x" * 100) == b"+OK\r\n"
    assert 90 <= len(rig.keyspace) <= 101
    assert rig.keyspace.evicted_keys >= 199


def test_denyoom_string_writes_are_refused_at_maxmemory_and_reads_go_on(rig):
    rig.call("SET", "k", "v")
    rig.call("CONFIG", "SET", "maxmemory", rig.server.memory.baseline + 1)
    for argv in (["SET", "k", "w"], ["APPEND", "k", "x"], ["SETRANGE", "k", "0", "x"],
                 ["INCR", "n"], ["MSET", "a", "1"], ["GETSET", "k", "w"],
                 ["INCRBYFLOAT", "n", "1"], ["SETEX", "k", "10", "v"]):
        assert rig.call(*argv) == OOM, argv
    assert rig.call("GET", "k") == b"$1\r\nv\r\n"
    assert rig.call("GETDEL", "k") == b"$1\r\nv\r\n"  # not denyoom: frees memory


def test_huge_setrange_and_append_are_refused_before_allocating(rig):
    """SETRANGE's offset and APPEND's growth are checked against proto-max-bulk-len
    before anything is allocated; CONFIG SET lowers the bound at once."""
    tracemalloc.start()
    try:
        for offset in ("536870912", "9223372036854775807", "9223372036854775806"):
            assert rig.call("SETRANGE", "k", offset, "x") == TOO_LONG
        assert rig.call("SETRANGE", "k", "99999999999999999999", "x") == \
            b"-ERR value is not an integer or out of range\r\n"
        assert rig.call("SETRANGE", "k", "-1", "x") == b"-ERR offset is out of range\r\n"
        assert rig.call("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
        assert rig.call("SETRANGE", "k", 1024 * 1024, "x") == TOO_LONG
        assert rig.call("SETRANGE", "k", 1024 * 1024 - 1, "x") == b":1048576\r\n"
        assert rig.call("APPEND", "k", "y") == TOO_LONG
        assert rig.call("SETRANGE", "k", 1024 * 1024 - 1, "z") == b":1048576\r\n"
        assert rig.call("STRLEN", "k") == b":1048576\r\n"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
    assert rig.keyspace.exists(b"k")
    assert rig.call("EXISTS", "z") == b":0\r\n"


def test_incrbyfloat_and_getex_values_replace_without_copying_a_table(rig):
    rig.call("HSET", "h", "f", "v")
    rig.call("SET", "h", "1.5")
    assert rig.keyspace.tables[b"h"].__class__ is bytes
    rig.call("INCRBYFLOAT", "h", "1")
    assert rig.call("OBJECT", "ENCODING", "h") == b"$6\r\nembstr\r\n"
    rig.call("HDEL", "x", "f")
    assert not any(isinstance(v, Table) for v in rig.keyspace.tables.values())


def test_a_real_arbiter_bounds_hostile_string_sizes(workdir):
    """Against a real process: offsets and growth past proto-max-bulk-len are refused
    without the process growing, one allowed just under the limit costs about its size,
    and another client is answered throughout."""
    with start_arbiter(workdir, "--proto-max-bulk-len", "8mb") as server, \
            redis.Redis(unix_socket_path=server.socket_path) as client, \
            redis.Redis(unix_socket_path=server.socket_path) as other:
        baseline = process_memory(server.pid)["VmRSS"]
        for offset in (8 * 1024 * 1024, 2**31, 2**62, 2**63 - 2):
            with pytest.raises(redis.ResponseError, match="proto-max-bulk-len"):
                client.setrange("k", offset, "x")
            assert other.ping()
        assert client.setrange("k", 8 * 1024 * 1024 - 1, "x") == 8 * 1024 * 1024
        with pytest.raises(redis.ResponseError, match="proto-max-bulk-len"):
            client.append("k", "y")
        with pytest.raises(redis.ResponseError, match="proto-max-bulk-len"):
            client.setrange("k", 8 * 1024 * 1024 - 1, "yz")
        with client.pipeline(transaction=False) as pipe:
            for _ in range(200):
                pipe.append("k", "y").setrange("k", 2**40, "z")
            replies = pipe.execute(raise_on_error=False)
        assert all(isinstance(reply, redis.ResponseError) for reply in replies)
        assert client.strlen("k") == 8 * 1024 * 1024
        assert other.ping()
        assert process_memory(server.pid)["VmHWM"] - baseline < 64 * 1024 * 1024
