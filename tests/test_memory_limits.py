"""maxmemory and its policies: what is refused, what is evicted, what survives; the LRU
clock and LFU counter behind OBJECT IDLETIME/FREQ; used_memory following the data.

In-process servers with a hand-driven clock make eviction order deterministic enough to
assert on; the tests at the end run a real arbiter with redis-py and redis-cli."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
import redis
from servers import require_binary, start_arbiter

from resp_arbiter import commands  # noqa: F401  (registers the commands)
from resp_arbiter.client import Client
from resp_arbiter.config import Config
from resp_arbiter.memory import FIELD_OVERHEAD, KEY_OVERHEAD
from resp_arbiter.server import Server

OOM = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
VALUE = b"x" * 100
# What one `HSET key f VALUE` with a 6-byte key adds to the estimate.
KEY_COST = KEY_OVERHEAD + 6 + FIELD_OVERHEAD + 1 + len(VALUE)


class Rig:
    """A server, one client and a clock, driven by hand."""

    def __init__(self, policy: str = "noeviction", room_for: int = 0) -> None:
        self.server = Server(Config())
        self.client = Client(self.server)
        self.now = 1_000_000_000
        self.keyspace = self.server.keyspace
        self.server.databases.set_clock(lambda: self.now)
        self.server.databases.tick()
        self.config("maxmemory-policy", policy)
        if room_for:
            self.config("maxmemory", str(self.server.memory.baseline + room_for * KEY_COST))

    def config(self, name: str, value: str) -> None:
        assert self.call(b"CONFIG", b"SET", name.encode(), value.encode()) == b"+OK\r\n"

    def call(self, *argv: bytes) -> bytes:
        self.client.out.clear()
        self.server.call(self.client, list(argv))
        return bytes(self.client.out)

    def advance(self, ms: int) -> None:
        """Time passes, and the cron's clock tick with it."""
        self.now += ms
        self.server.databases.tick()

    def hset(self, key: bytes) -> bytes:
        return self.call(b"HSET", key, b"f", VALUE)

    def present(self, keys: list[bytes]) -> set[bytes]:
        return {key for key in keys if key in self.keyspace.tables}


def _keys(prefix: str, count: int) -> list[bytes]:
    return [f"{prefix}{i:03d}".encode() for i in range(count)]


def test_noeviction_refuses_writes_but_loses_nothing_and_serves_reads_and_deletes():
    rig = Rig("noeviction", room_for=50)
    stored = []
    for key in _keys("key", 200):
        reply = rig.hset(key)
        if reply == OOM:
            break
        assert reply == b":1\r\n"
        stored.append(key)
    assert 40 <= len(stored) <= 51
    assert rig.hset(b"more") == OOM
    # Commands without the denyoom flag run: reads, DEL, HDEL, EXPIRE.
    for key in stored:
        assert rig.call(b"HGET", key, b"f") == b"$100\r\n" + VALUE + b"\r\n"
    assert rig.call(b"DBSIZE") == b":%d\r\n" % len(stored)
    assert rig.call(b"HINCRBY", stored[0], b"n", b"1") == OOM
    assert rig.call(b"EXPIRE", stored[0], b"100") == b":1\r\n"
    assert rig.keyspace.evicted_keys == 0
    assert rig.call(b"DEL", *stored[:5]) == b":5\r\n"
    assert rig.hset(b"more") == b":1\r\n"  # room again


def test_oom_inside_multi_refuses_every_queued_command_and_aborts_exec():
    rig = Rig("noeviction")
    rig.config("maxmemory", "1")
    assert rig.call(b"MULTI") == b"+OK\r\n"
    assert rig.call(b"HGET", b"k", b"f") == OOM  # anything queued could grow memory
    assert rig.call(b"EXEC") == \
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    assert rig.call(b"MULTI") == b"+OK\r\n"
    assert rig.call(b"DISCARD") == b"+OK\r\n"


def test_exec_of_a_queued_write_is_aborted_when_memory_ran_out_meanwhile():
    rig = Rig("noeviction")
    other = Client(rig.server)
    assert rig.call(b"MULTI") == b"+OK\r\n"
    assert rig.call(b"HSET", b"k", b"f", b"v") == b"+QUEUED\r\n"
    rig.server.call(other, [b"CONFIG", b"SET", b"maxmemory", b"1"])
    assert rig.call(b"EXEC") == (b"-EXECABORT Transaction discarded because of: OOM command "
                                 b"not allowed when used memory > 'maxmemory'.\r\n")
    assert rig.client.multi is None
    assert rig.call(b"MULTI") == b"+OK\r\n"
    assert rig.call(b"EXEC") == b"*0\r\n"  # nothing queued that needs memory


def test_allkeys_lru_keeps_a_hot_set_that_is_read_and_evicts_cold_keys():
    rig = Rig("allkeys-lru", room_for=100)
    hot = _keys("hot", 10)
    cold = _keys("cld", 90)
    for key in hot + cold:
        assert rig.hset(key) == b":1\r\n"
    assert rig.keyspace.evicted_keys == 0
    fresh = _keys("new", 300)
    for i, key in enumerate(fresh):
        rig.advance(100)
        if i % 10 == 0:
            for hot_key in hot:
                rig.call(b"HGET", hot_key, b"f")
        assert rig.hset(key) == b":1\r\n"
    assert rig.present(hot) == set(hot)
    assert len(rig.present(cold)) <= 10
    assert rig.keyspace.evicted_keys >= 290
    rig.call(b"PING")  # evicts what the last write added
    assert rig.server.memory.baseline + rig.keyspace.data_bytes <= rig.server.memory.maxmemory


def _in_db(rig: Rig, db: int, *argv: bytes) -> bytes:
    """`argv` run in database `db`, the client back in db 0 after it."""
    rig.call(b"SELECT", b"%d" % db)
    reply = rig.call(*argv)
    rig.call(b"SELECT", b"0")
    return reply


def test_eviction_samples_every_database():
    """allkeys-lru with cold keys in db 3 and a hot set in db 0 read meanwhile: eviction
    takes the cold keys of db 3, and the limit covers the data of every database."""
    rig = Rig("allkeys-lru", room_for=100)
    hot = _keys("hot", 10)
    cold = _keys("cld", 60)
    for key in hot:
        assert rig.hset(key) == b":1\r\n"
    for key in cold:
        assert _in_db(rig, 3, b"HSET", key, b"f", VALUE) == b":1\r\n"
    databases = rig.server.databases
    for i, key in enumerate(_keys("new", 200)):
        rig.advance(100)
        if i % 10 == 0:
            for hot_key in hot:
                rig.call(b"HGET", hot_key, b"f")
        assert _in_db(rig, 7, b"HSET", key, b"f", VALUE) == b":1\r\n"
    assert rig.present(hot) == set(hot)
    assert not set(cold) & set(databases[3].tables)
    assert databases.evicted_keys >= 150
    assert databases[7].evicted_keys > 0
    rig.call(b"PING")
    assert rig.server.memory.baseline + databases.data_bytes <= rig.server.memory.maxmemory
    info = rig.call(b"INFO", b"stats").decode()
    assert f"evicted_keys:{databases.evicted_keys}\r\n" in info


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-random", "volatile-ttl"])
def test_volatile_eviction_finds_keys_with_a_ttl_in_any_database(policy):
    rig = Rig(policy, room_for=40)
    keep = _keys("per", 20)
    for key in keep:
        rig.hset(key)
    expiring = _keys("ttl", 15)
    for key in expiring:
        _in_db(rig, 5, b"HSET", key, b"f", VALUE)
        assert _in_db(rig, 5, b"EXPIRE", key, b"1000") == b":1\r\n"
    for key in _keys("new", 40):
        rig.advance(10)
        if rig.hset(key) == OOM:
            break
    assert rig.present(keep) == set(keep)
    assert not rig.server.databases[5].tables
    assert rig.server.databases[5].evicted_keys == 15
    assert rig.hset(b"one-more") == OOM


def test_allkeys_random_takes_turns_over_the_databases():
    rig = Rig("allkeys-random", room_for=60)
    for db in (1, 2):
        for key in _keys(f"d{db}-", 30):
            _in_db(rig, db, b"HSET", key, b"f", VALUE)
    for key in _keys("new", 60):
        assert rig.hset(key) == b":1\r\n"
    databases = rig.server.databases
    assert databases[1].evicted_keys > 0 and databases[2].evicted_keys > 0


def test_allkeys_lfu_keeps_frequently_read_keys():
    rig = Rig("allkeys-lfu", room_for=100)
    hot = _keys("hot", 10)
    for key in hot:
        rig.hset(key)
        for _ in range(50):
            rig.call(b"HGET", key, b"f")
    for key in _keys("cld", 400):
        assert rig.hset(key) == b":1\r\n"
    assert rig.present(hot) == set(hot)
    assert rig.keyspace.evicted_keys >= 300
    assert int(rig.call(b"OBJECT", b"FREQ", hot[0])[1:-2]) > 5


def test_allkeys_random_evicts_to_fit():
    rig = Rig("allkeys-random", room_for=50)
    for key in _keys("key", 200):
        assert rig.hset(key) == b":1\r\n"
    assert rig.keyspace.evicted_keys == 200 - len(rig.keyspace) >= 149
    assert 50 <= len(rig.keyspace) <= 51


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random",
                                    "volatile-ttl"])
def test_volatile_policies_evict_only_keys_with_a_ttl(policy):
    rig = Rig(policy, room_for=60)
    keep = _keys("per", 30)
    expiring = _keys("ttl", 25)
    for key in keep:
        rig.hset(key)
    for key in expiring:
        rig.hset(key)
        assert rig.call(b"EXPIRE", key, b"1000") == b":1\r\n"
    for key in _keys("new", 40):
        rig.advance(10)
        reply = rig.hset(key)
        if reply == OOM:
            break
        assert reply == b":1\r\n"
    # Every persistent key survives; evicting stops, and writes are refused, when no key
    # with a TTL is left.
    assert rig.present(keep) == set(keep)
    assert rig.present(expiring) == set()
    assert rig.keyspace.evicted_keys == 25
    assert rig.hset(b"one-more") == OOM


def test_volatile_ttl_evicts_the_nearest_deadline_first():
    rig = Rig("volatile-ttl", room_for=40)
    soon = _keys("soon", 10)
    late = _keys("late", 10)
    for i, key in enumerate(late + soon):
        rig.hset(key)
        seconds = 10_000 + i if key in late else 100 + i
        rig.call(b"EXPIRE", key, b"%d" % seconds)
    rig.config("maxmemory-samples", "10")
    for key in _keys("per", 30):
        if rig.hset(key) == OOM:
            break
    assert rig.keyspace.evicted_keys >= 10
    assert not rig.present(soon)
    assert len(rig.present(late)) == 20 - rig.keyspace.evicted_keys


def test_config_set_maxmemory_at_run_time_evicts_down_to_the_new_limit():
    rig = Rig("allkeys-lru")
    for key in _keys("key", 100):
        rig.hset(key)
    assert rig.keyspace.evicted_keys == 0
    rig.config("maxmemory", str(rig.server.memory.baseline + 30 * KEY_COST))
    rig.call(b"PING")  # no cron here: the next commands do the evicting
    while len(rig.keyspace) > 30:  # each command evicts for at most a millisecond
        rig.call(b"PING")
    assert rig.keyspace.evicted_keys == 100 - len(rig.keyspace)
    assert rig.server.memory.baseline + rig.keyspace.data_bytes <= rig.server.memory.maxmemory
    rig.config("maxmemory", "0")
    for key in _keys("again", 100):
        assert rig.hset(key) == b":1\r\n"
    assert rig.keyspace.evicted_keys == 70


def test_a_hostile_maxmemory_samples_costs_at_most_max_samples_per_eviction():
    """maxmemory-samples accepts up to 2^31-1, as in Redis; an eviction samples at most
    MAX_SAMPLES keys whatever it is set to, so 200 evictions among 3000 keys finish at
    once (unbounded, each would draw two billion samples)."""
    rig = Rig("allkeys-lru")
    rig.config("maxmemory-samples", "2147483647")
    for i in range(3000):
        rig.hset(b"k%05d" % i)  # six bytes, as KEY_COST counts
    rig.config("maxmemory", str(rig.server.memory.baseline + 2800 * KEY_COST))
    start = time.monotonic()
    while len(rig.keyspace) > 2800 and time.monotonic() - start < 30:
        rig.call(b"PING")
    assert len(rig.keyspace) == 2800
    assert rig.keyspace.evicted_keys == 200


def test_evicting_a_key_removes_the_whole_table():
    rig = Rig("allkeys-lru")
    pairs = [x for i in range(1000) for x in (b"f%d" % i, b"v")]
    rig.call(b"HSET", b"wide", *pairs)
    rig.advance(5000)
    rig.hset(b"fresh")
    rig.config("maxmemory", str(rig.server.memory.baseline + 2 * KEY_COST))
    rig.call(b"PING")
    assert rig.call(b"EXISTS", b"wide", b"fresh") == b":1\r\n"
    assert rig.keyspace.evicted_keys == 1
    assert rig.call(b"HLEN", b"wide") == b":0\r\n"


def test_info_reports_the_settings_and_the_data_estimate():
    rig = Rig("allkeys-lru")
    memory = rig.server.memory
    limit = memory.baseline + 100 * 1024 * 1024
    rig.config("maxmemory", str(limit))
    info = rig.call(b"INFO", b"memory")
    assert f"\r\nmaxmemory:{limit}\r\n".encode() in info
    assert f"\r\nmaxmemory_human:{limit / 1024**2:.2f}M\r\n".encode() in info
    assert b"\r\nmaxmemory_policy:allkeys-lru\r\n" in info
    used_before = memory.used()
    assert f"\r\nused_memory:{used_before}\r\n".encode() in info
    rig.call(b"HSET", b"h", *[x for i in range(100) for x in (b"f%03d" % i, VALUE)])
    grown = memory.used() - used_before
    assert grown == KEY_OVERHEAD + 1 + 100 * (FIELD_OVERHEAD + 4 + len(VALUE))
    assert rig.call(b"MEMORY", b"USAGE", b"h") == b":%d\r\n" % grown
    rig.call(b"HDEL", b"h", *[b"f%03d" % i for i in range(50)])
    assert memory.used() - used_before == KEY_OVERHEAD + 1 + 50 * (FIELD_OVERHEAD + 4 + 100)
    assert rig.keyspace.evicted_keys == 0


def test_idletime_follows_the_lru_clock_and_counts_only_real_accesses():
    rig = Rig("noeviction")
    rig.hset(b"k")
    rig.advance(7_500)
    assert rig.call(b"OBJECT", b"IDLETIME", b"k") == b":7\r\n"
    # OBJECT, EXISTS, TYPE, MEMORY USAGE and SCAN do not count as accesses ...
    for argv in ([b"OBJECT", b"ENCODING", b"k"], [b"EXISTS", b"k"], [b"TYPE", b"k"],
                 [b"MEMORY", b"USAGE", b"k"], [b"SCAN", b"0"], [b"RANDOMKEY"]):
        rig.call(*argv)
    assert rig.call(b"OBJECT", b"IDLETIME", b"k") == b":7\r\n"
    assert rig.call(b"OBJECT", b"FREQ", b"k").startswith(b"-ERR An LFU maxmemory policy is not")
    # ... a read does.
    rig.call(b"HGET", b"k", b"f")
    assert rig.call(b"OBJECT", b"IDLETIME", b"k") == b":0\r\n"


def test_lfu_counter_grows_logarithmically_and_decays_with_time():
    rig = Rig("allkeys-lfu")
    rig.hset(b"k")
    assert rig.call(b"OBJECT", b"FREQ", b"k") == b":5\r\n"
    rig.call(b"HGET", b"k", b"f")
    assert rig.call(b"OBJECT", b"FREQ", b"k") == b":6\r\n"
    for _ in range(2000):
        rig.call(b"HGET", b"k", b"f")
    grown = int(rig.call(b"OBJECT", b"FREQ", b"k")[1:-2])
    assert 10 <= grown <= 40  # logarithmic: thousands of hits, tens of counts
    rig.advance(3 * 60_000)  # lfu-decay-time 1: one count a minute
    assert rig.call(b"OBJECT", b"FREQ", b"k") == b":%d\r\n" % (grown - 3)
    assert rig.call(b"OBJECT", b"IDLETIME", b"k").startswith(
        b"-ERR An LFU maxmemory policy is selected")
    # Decay is applied when the counter is read or bumped, never stored by a read:
    # with decay off, the counter of the last access is back.
    rig.config("lfu-decay-time", "0")
    rig.advance(60 * 60_000)
    assert rig.call(b"OBJECT", b"FREQ", b"k") == b":%d\r\n" % grown


def test_hot_path_reads_record_access_cheaply():
    """Under LRU a read only notes the key (one set add); the tick writes the clock into
    the key's access word, once per key, before the clock moves on."""
    rig = Rig("allkeys-lru")
    rig.hset(b"k")
    keyspace = rig.keyspace
    created = keyspace.lru_clock
    rig.advance(1000)
    assert keyspace.access_of(b"k") == created
    rig.call(b"HGET", b"k", b"f")
    assert keyspace.accessed == {b"k"} and keyspace.access_of(b"k") == keyspace.lru_clock
    read_at = keyspace.lru_clock
    rig.advance(1000)
    assert not keyspace.accessed and keyspace.index.word(b"k") == read_at


# -- a real arbiter -------------------------------------------------------------------

def test_a_real_arbiter_refuses_writes_at_maxmemory_and_evicts_under_lru(tmp_path):
    with start_arbiter(tmp_path, "--maxmemory-policy", "noeviction") as arbiter, \
            redis.Redis(unix_socket_path=arbiter.socket_path) as client:
        memory = client.info("memory")
        assert memory["maxmemory"] == 0 and memory["maxmemory_policy"] == "noeviction"
        limit = memory["used_memory"] + 200_000
        assert client.config_set("maxmemory", limit)
        info = client.info("memory")
        assert info["maxmemory"] == limit
        assert info["maxmemory_human"].endswith("M")
        written = 0
        with pytest.raises(redis.exceptions.OutOfMemoryError,
                           match=re.escape("command not allowed when used memory > "
                                           "'maxmemory'.")):
            for i in range(10_000):
                client.hset(f"key:{i}", "f", "x" * 100)
                written += 1
        assert 100 < written < 10_000
        assert client.dbsize() == written
        assert client.hget("key:0", "f") == b"x" * 100
        assert client.delete("key:0") == 1
        client.config_set("maxmemory-policy", "allkeys-lru")
        for i in range(written, written + 500):
            client.hset(f"key:{i}", "f", "x" * 100)
        stats = client.info("stats")
        assert stats["evicted_keys"] > 400
        assert client.info("memory")["used_memory"] <= limit


def test_redis_cli_hotkeys_finds_the_hot_key_under_lfu(tmp_path):
    with start_arbiter(tmp_path, "--maxmemory-policy", "allkeys-lfu") as arbiter, \
            redis.Redis(unix_socket_path=arbiter.socket_path) as client:
        for i in range(200):
            client.hset(f"key:{i}", "f", "v")
        pipe = client.pipeline(transaction=False)
        for _ in range(3000):
            pipe.hget("key:42", "f")
        pipe.execute()
        done = subprocess.run([require_binary("redis-cli"), "-s", arbiter.socket_path,
                               "--hotkeys"], capture_output=True, timeout=30)
        report = done.stdout.decode()
        assert done.returncode == 0, (report, done.stderr)
        assert "Sampled 200 keys in the keyspace!" in report
        counters = re.findall(r"hot key found with counter: (\d+)\tkeyname: \"([^\"]+)\"",
                              report)
        assert counters, report
        top = max(counters, key=lambda found: int(found[0]))
        assert top[1] == "key:42" and int(top[0]) > 5
        # OBJECT FREQ reads did not count as accesses: every other key still reads 5.
        assert {int(counter) for counter, name in counters if name != "key:42"} == {5}
