"""In-process tests of how keys are stored: small hashes packed in one bytes object,
strings as their bytes, deadlines and access words kept beside the keys, and what a key
costs."""

from __future__ import annotations

import gc
import random
import tracemalloc

import pytest

from resp_arbiter import commands  # noqa: F401  (registers the commands)
from resp_arbiter.client import Client
from resp_arbiter.config import Config
from resp_arbiter.keyspace import (
    LISTPACK_MAX_VALUE,
    PACKED_MAX_FIELDS,
    Keyspace,
    Packed,
    Table,
)
from resp_arbiter.server import Server

NOW = 1_800_000_000_000


class Rig:
    """A server and one client, with a hand-driven clock."""

    def __init__(self) -> None:
        self.server = Server(Config())
        self.client = Client(self.server)
        self.keyspace = self.server.keyspace
        self.now = NOW
        self.server.databases.set_clock(lambda: self.now)
        self.server.databases.tick()

    def call(self, *argv: str | bytes | int) -> bytes:
        self.client.out.clear()
        self.server.call(self.client, [a if isinstance(a, bytes) else str(a).encode()
                                       for a in argv])
        return bytes(self.client.out)

    def stored(self, key: bytes) -> object:
        return self.keyspace.tables[key]


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_packed_reads_and_writes_agree_with_a_dict():
    rng = random.Random(7)
    for _ in range(300):
        fields: dict[bytes, bytes] = {}
        packed = None
        for _ in range(rng.randrange(1, 40)):
            name = rng.choice([b"", b"a", b"b" * 64, b"f%d" % rng.randrange(20)])
            value = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 5, 64])))
            put = Packed.single(name, value) if packed is None else packed.put(name, value)
            if put is None:  # it would no longer fit: a 17th field
                assert len(fields) == PACKED_MAX_FIELDS and name not in fields
                break
            if isinstance(put, tuple):
                new, added, grown = put
                assert added == (name not in fields)
                assert bytes.__len__(new) - bytes.__len__(packed) == grown
                put = new
            fields[name] = value
            packed = put
            assert packed.__class__ is Packed and len(packed) == len(fields)
            assert packed.items() == list(fields.items())
            assert packed.fields == fields and packed.names() == list(fields)
            for name in fields:
                assert packed.value(name) == fields[name] and packed.has(name)
            assert packed.value(b"missing") is None and not packed.has(b"missing")
            assert packed.values_of([b"missing", *fields]) == [None, *fields.values()]
    assert Packed.single(b"f", b"v").put(b"g", b"x" * (LISTPACK_MAX_VALUE + 1)) is None


def test_a_small_hash_is_packed_until_it_outgrows_the_limits(rig):
    rig.call("HSET", "h", *[f"f{i}" for i in range(2 * PACKED_MAX_FIELDS)])
    assert rig.stored(b"h").__class__ is Packed
    assert rig.call("OBJECT", "ENCODING", "h") == b"$8\r\nlistpack\r\n"
    rig.call("HSET", "h", "one-more", "v")  # a 17th field: containers, still a listpack
    assert rig.stored(b"h").__class__ is Table
    assert rig.call("OBJECT", "ENCODING", "h") == b"$8\r\nlistpack\r\n"
    assert rig.call("HLEN", "h") == b":17\r\n"
    rig.call("HSET", "long", "f", "x" * (LISTPACK_MAX_VALUE + 1))
    assert rig.stored(b"long").__class__ is Table
    assert rig.call("OBJECT", "ENCODING", "long") == b"$9\r\nhashtable\r\n"
    rig.call("HSET", "edge", "f" * LISTPACK_MAX_VALUE, "x" * LISTPACK_MAX_VALUE)
    assert rig.stored(b"edge").__class__ is Packed


def test_a_field_ttl_or_a_pin_unpacks_a_small_hash(rig):
    rig.call("HSET", "h", "a", "1", "b", "2")
    assert rig.call("HPEXPIRE", "h", "1000", "FIELDS", "1", "a") == b"*1\r\n:1\r\n"
    assert rig.stored(b"h").__class__ is Table
    assert rig.call("HPTTL", "h", "FIELDS", "2", "a", "b") == b"*2\r\n:1000\r\n:-1\r\n"
    rig.call("HSET", "p", "a", "1")
    assert rig.call("STASH.ENSURE", "p") == b":0\r\n"
    assert rig.stored(b"p").__class__ is Table and rig.stored(b"p").pinned
    assert rig.call("HDEL", "p", "a") == b":1\r\n"
    assert rig.call("EXISTS", "p") == b":1\r\n"  # pinned: kept while empty


def test_writes_to_a_packed_hash_keep_order_and_counters(rig):
    rig.call("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert rig.call("HSET", "h", "b", "two", "d", "4") == b":1\r\n"
    assert rig.call("HSETNX", "h", "a", "x") == b":0\r\n"
    assert rig.call("HINCRBY", "h", "n", "5") == b":5\r\n"
    assert rig.call("HDEL", "h", "a", "zz", "a") == b":1\r\n"
    assert rig.stored(b"h").__class__ is Packed
    assert rig.call("HGETALL", "h") == (b"*8\r\n$1\r\nb\r\n$3\r\ntwo\r\n$1\r\nc\r\n$1\r\n3\r\n"
                                         b"$1\r\nd\r\n$1\r\n4\r\n$1\r\nn\r\n$1\r\n5\r\n")
    assert rig.call("HGETDEL", "h", "FIELDS", "3", "b", "b", "c") == \
        b"*3\r\n$3\r\ntwo\r\n$-1\r\n$1\r\n3\r\n"
    keyspace = rig.keyspace
    assert keyspace.data_bytes == sum(keyspace.memory_usage(key, value)
                                      for key, value in keyspace.tables.items())
    assert rig.call("HDEL", "h", "d", "n") == b":2\r\n"
    assert rig.call("EXISTS", "h") == b":0\r\n" and keyspace.data_bytes == 0


def test_a_string_is_its_bytes_and_a_deadline_is_kept_beside_it(rig):
    rig.call("SET", "s", "value")
    assert rig.stored(b"s").__class__ is bytes
    rig.call("PEXPIRE", "s", "500")
    assert rig.keyspace.deadlines == {b"s": NOW + 500}
    rig.call("RENAME", "s", "t")
    assert rig.keyspace.deadlines == {b"t": NOW + 500}
    assert rig.call("PTTL", "t") == b":500\r\n"
    rig.call("SET", "t", "other", "KEEPTTL")
    assert rig.call("PTTL", "t") == b":500\r\n"
    rig.call("PERSIST", "t")
    assert rig.keyspace.deadlines == {} and rig.call("PTTL", "t") == b":-1\r\n"


def test_access_words_follow_reads_renames_and_copies(rig):
    keyspace = rig.keyspace
    rig.call("HSET", "h", "f", "v")
    rig.now += 5000
    rig.server.databases.tick()
    assert rig.call("OBJECT", "IDLETIME", "h") == b":5\r\n"
    rig.call("HGET", "h", "f")
    assert rig.call("OBJECT", "IDLETIME", "h") == b":0\r\n"
    rig.now += 3000
    rig.server.databases.tick()
    assert not keyspace.accessed  # the tick wrote the read into the index
    rig.call("RENAME", "h", "r")  # RENAME keeps the access time, as in Redis
    assert rig.call("OBJECT", "IDLETIME", "r") == b":3\r\n"
    rig.call("COPY", "r", "c")  # a copy is a new object
    assert rig.call("OBJECT", "IDLETIME", "c") == b":0\r\n"
    rig.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    for _ in range(50):
        rig.call("GET", "missing")
        rig.call("HGET", "c", "f")
    assert int(rig.call("OBJECT", "FREQ", "c")[1:-2]) > 5


def _bytes_per_key(fill) -> float:
    count = 20_000
    keyspace = Keyspace()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fill(keyspace, count)
        keyspace.tick()
        return (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()


def test_a_small_key_costs_no_object_of_its_own():
    """A key of one small field and a small string cost their bytes objects and their
    entries (the dict, the index): about 150 to 190 bytes, where a wrapper object per key
    cost 210 (string) and 490 (hash)."""
    def strings(keyspace: Keyspace, count: int) -> None:
        for n in range(count):
            keyspace.set_string(b"key:%d" % n, b"value:%d" % n)

    def small_hashes(keyspace: Keyspace, count: int) -> None:
        for n in range(count):
            keyspace.set_fields(b"key:%d" % n, [b"f", b"value:%d" % n])

    assert _bytes_per_key(strings) < 180
    assert _bytes_per_key(small_hashes) < 200
