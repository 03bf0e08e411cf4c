"""In-process tests of the data structures and parser under the commands: fast, no
sockets."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction

import pytest

from resp_arbiter.commands._args import compile_glob, cursor_arg
from resp_arbiter.commands.hashes import (
    _format_long_double,
    _parse_long_double,
    _round_long_double,
)
from resp_arbiter.errors import CommandError
from resp_arbiter.keyspace import Keyspace, Packed, ScanIndex, Table
from resp_arbiter.protocol import RequestParser


def test_scan_index_survives_compaction_without_missing_members():
    index = ScanIndex()
    for i in range(1000):
        index.add(b"m%d" % i)
    cursor, seen = 0, set()
    cursor, first = index.scan(cursor, 100)
    seen.update(first)
    for i in range(0, 1000, 2):  # delete half: forces a compaction mid-iteration
        member = b"m%d" % i
        if member not in seen:
            index.remove(member)
    while cursor:
        cursor, batch = index.scan(cursor, 100)
        assert len(batch) <= 100
        seen.update(batch)
    survivors = {b"m%d" % i for i in range(1, 1000, 2)}
    assert survivors <= seen


def test_scan_index_random_member_never_returns_a_removed_one():
    index = ScanIndex()
    for i in range(100):
        index.add(b"%d" % i)
    for i in range(99):
        index.remove(b"%d" % i)
    assert {index.random_member() for _ in range(50)} == {b"99"}


class _Colliding(bytes):
    """A member whose hash it shares with every other one: the worst case of ties."""

    def __hash__(self) -> int:
        return 42


def test_scan_index_returns_members_with_equal_hashes_together():
    index = ScanIndex()
    members = [_Colliding(b"c%d" % i) for i in range(3000)] + [b"m%d" % i for i in range(3000)]
    for member in members:
        index.add(member)
    cursor, seen = 0, []
    while True:
        cursor, batch = index.scan(cursor, 10)
        seen += batch
        if not cursor:
            break
    assert sorted(seen) == sorted(members)  # each exactly once, ties across chunks too
    for member in members[::2]:
        index.remove(member)
    assert len(index) == 3000
    assert {index.random_member() for _ in range(20_000)} <= set(members[1::2])
    with pytest.raises(KeyError):
        index.remove(_Colliding(b"c0"))


def test_scan_cursor_is_an_unsigned_64_bit_number_and_0_at_the_end():
    index = ScanIndex()
    for i in range(100):
        index.add(b"k%d" % i)
    cursor, batch = index.scan(0, 10)
    assert 0 < cursor < 1 << 64 and len(batch) == 10
    assert index.scan(cursor, 1000)[0] == 0
    assert index.scan((1 << 64) - 1, 10) == (0, [])


def test_pinned_table_outlives_its_last_field_and_plain_hash_does_not():
    keyspace = Keyspace()
    keyspace.set_fields(b"plain", [b"f", b"v"])
    keyspace.ensure(b"pinned")
    keyspace.set_fields(b"pinned", [b"f", b"v"])
    for key in (b"plain", b"pinned"):
        table = keyspace.get(key)
        assert keyspace.delete_fields(key, table, [b"f"]) == 1
    assert keyspace.get(b"plain") is None
    assert keyspace.get(b"pinned") is not None


def test_field_and_key_expiry_follow_the_clock():
    keyspace = Keyspace()
    now = [1_000_000]
    keyspace.clock = lambda: now[0]
    keyspace.set_fields(b"t", [b"a", b"1", b"b", b"2"])
    table = keyspace.get(b"t")
    keyspace.set_field_expiry(b"t", table, b"a", now[0] + 100)
    keyspace.set_expiry(b"t", table, now[0] + 1000)
    now[0] += 100
    keyspace.new_command()
    assert list(keyspace.get(b"t").fields) == [b"b"]
    now[0] += 900
    keyspace.new_command()
    assert keyspace.get(b"t") is None
    assert (keyspace.expired_fields, keyspace.expired_keys) == (1, 1)


def test_table_reads_answer_from_fields_and_field_ttls():
    keyspace = Keyspace()
    keyspace.clock = lambda: 1_000
    keyspace.set_fields(b"t", [b"a", b"1", b"b", b"2"])
    packed = keyspace.get(b"t")
    assert packed.__class__ is Packed  # a small hash is packed until a field TTL
    keyspace.set_field_expiry(b"t", packed, b"b", 5_000)
    table = keyspace.get(b"t")
    assert table.__class__ is Table
    for reads in (packed, table):  # the same reads on either form
        assert (reads.value(b"a"), reads.value(b"z")) == (b"1", None)
        assert reads.values_of([b"b", b"z", b"a"]) == [b"2", None, b"1"]
        assert (reads.names(), reads.values(), len(reads)) == ([b"a", b"b"], [b"1", b"2"], 2)
        assert list(reads.items()) == [(b"a", b"1"), (b"b", b"2")]
    assert (table.value(b"a"), table.value(b"z")) == (b"1", None)
    assert table.has(b"b") and not table.has(b"z")
    assert table.values_of([b"b", b"z", b"a"]) == [b"2", None, b"1"]
    assert (table.names(), table.values(), len(table)) == ([b"a", b"b"], [b"1", b"2"], 2)
    assert list(table.items()) == [(b"a", b"1"), (b"b", b"2")]
    assert (table.deadline(b"a"), table.deadline(b"b")) == (None, 5_000)
    assert list(table.deadlines()) == [(b"b", 5_000)]


def test_scan_fields_returns_a_small_table_whole_and_a_large_one_in_steps():
    keyspace = Keyspace()
    keyspace.set_fields(b"small", [b"a", b"1", b"b", b"2"])
    small = keyspace.get(b"small")
    assert small.encoding() == b"listpack"
    assert keyspace.scan_fields(small, 0, 1) == (0, [b"a", b"b"])
    keyspace.set_fields(b"large", [x for i in range(600) for x in (b"f%d" % i, b"v")])
    large = keyspace.get(b"large")
    assert large.encoding() == b"hashtable"
    cursor, seen = 0, []
    while True:
        cursor, names = keyspace.scan_fields(large, cursor, 100)
        assert len(names) <= 100
        seen += names
        if not cursor:
            break
    assert sorted(seen) == sorted(large.names())  # each once, in the order of their hash
    assert {keyspace.random_field(large) for _ in range(50)} <= set(seen)


def test_holds_tells_whether_a_write_removed_the_key():
    keyspace = Keyspace()
    keyspace.set_fields(b"t", [b"a", b"1"])
    table = keyspace.get(b"t")
    assert keyspace.holds(b"t") and keyspace.stored(b"t") is table
    keyspace.delete_fields(b"t", table, [b"a"])
    assert not keyspace.holds(b"t") and keyspace.stored(b"t") is None


def test_active_expiry_cycle_reclaims_without_reads():
    keyspace = Keyspace()
    now = [5_000]
    keyspace.clock = lambda: now[0]
    pairs = [x for i in range(1000) for x in (b"f%d" % i, b"v")]
    keyspace.set_fields(b"t", pairs)
    table = keyspace.tables[b"t"]
    for i in range(1000):
        keyspace.set_field_expiry(b"t", table, b"f%d" % i, now[0] + 10 + i)
    now[0] += 10_000
    keyspace.expire_cycle(budget=None)
    assert b"t" not in keyspace.tables
    assert keyspace.expired_fields == 1000


@pytest.mark.parametrize(("pattern", "name", "matches"), [
    (b"user:*", b"user:1", True),
    (b"user:?", b"user:12", False),
    (b"h[ae]llo", b"hallo", True),
    (b"h[^e]llo", b"hello", False),
    (b"h[a-c]llo", b"hbllo", True),
    (b"h\\*", b"h*", True),
    (b"h\\*", b"hx", False),
    (b"*", b"\x00\r\n", True),
])
def test_glob_follows_redis_stringmatch(pattern, name, matches):
    assert bool(compile_glob(pattern)(name)) is matches


@pytest.mark.parametrize(("text", "value"), [
    (b"0", 0), (b"", 0), (b"+7", 7), (b"-1", 2**64 - 1), (b"18446744073709551615", 2**64 - 1),
    (b"0" * 100_000 + b"7", 7), (b"-" + b"0" * 5000 + b"1", 2**64 - 1), (b"1\x00x", 1),
    (b"\x00", 0), (b"-18446744073709551615", 1),
])
def test_scan_cursor_reads_like_strtoull(text, value):
    assert cursor_arg(text) == value


@pytest.mark.parametrize("text", [b" 1", b"1x", b"18446744073709551616", b"+", b"0x10",
                                  b"1" * 5000, b"9" * 100_000, b"-" + b"1" * 5000,
                                  b"-18446744073709551616", b"+\x00", b"-"])
def test_bad_scan_cursor_is_refused(text):
    with pytest.raises(CommandError, match=r"\AERR invalid cursor\Z"):
        cursor_arg(text)


# Each result is what redis-server 7.0 replied to HSET f x <start>, HINCRBYFLOAT f x <inc>.
@pytest.mark.parametrize(("start", "increment", "result"), [
    (b"10.5", b"0.1", b"10.6"),
    (b"0", b"1e3", b"1000"),
    (b"1000000000000000", b"0.1", b"1000000000000000.0999755859375"),
    (b"-0.5", b"0.5", b"0"),
    (b"5.0e3", b"2.0e2", b"5200"),
])
def test_long_double_arithmetic_matches_redis(start, increment, result):
    total = _round_long_double(_parse_long_double(start) + _parse_long_double(increment))
    assert _format_long_double(total) == result


def test_long_double_overflow_is_detected():
    assert _round_long_double(Fraction(10) ** 5000) is None


def test_a_huge_declared_multibulk_count_allocates_nothing_up_front():
    """hiredis would build the whole array on reading `*N`; such headers go strict."""
    parser = RequestParser()
    tracemalloc.start()
    try:
        assert parser.feed(b"*9999999\r\n$4\r\nHSET\r\n") == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    assert parser.pending_error is None


def test_small_table_has_no_scan_index_until_it_outgrows_the_listpack_limits():
    keyspace = Keyspace()
    keyspace.set_fields(b"t", [b"f%d" % i for i in range(2 * 512)])  # 512 fields
    table = keyspace.get(b"t")
    assert table.index is None and not table.field_ttl and not table.field_heap
    assert {keyspace.random_field(table) for _ in range(2000)} <= set(table.fields)
    assert keyspace.scan_fields(table, 0, 10) == (0, list(table.fields))
    keyspace.set_fields(b"t", [b"new", b"v"])  # the 513th field converts the table
    assert table.index is not None and len(table.index) == 513
    cursor, names = 0, []
    while True:
        cursor, batch = keyspace.scan_fields(table, cursor, 100)
        names += batch
        if not cursor:
            break
    assert sorted(names) == sorted(table.fields)
    copy, _, _ = keyspace.copy_value(table, 0)
    assert copy.index is not None and len(copy.index) == 513


def test_first_field_ttl_gives_a_table_its_own_containers():
    keyspace = Keyspace()
    keyspace.clock = lambda: 1_000_000
    keyspace.set_fields(b"a", [b"f", b"v", b"g", b"w"])
    keyspace.set_fields(b"b", [b"f", b"v"])
    first, second = keyspace.get(b"a"), keyspace.get(b"b")
    assert not keyspace.persist_field(b"a", first, b"f")
    keyspace.set_field_expiry(b"a", first, b"f", 2_000_000)
    first = keyspace.get(b"a")  # unpacked by its first field TTL
    assert first.deadline(b"f") == 2_000_000 and dict(first.deadlines()) == {b"f": 2_000_000}
    assert second.deadline(b"f") is None and not second.field_ttl and not second.field_heap
    keyspace.set_field_expiry(b"a", first, b"g", 0)  # a past deadline deletes the field
    assert list(first.fields) == [b"f"] and keyspace.subexpiry == 1
    assert keyspace.persist_field(b"a", first, b"f") and keyspace.subexpiry == 0


def test_scan_index_random_member_is_uniform_over_uneven_chunks():
    index = ScanIndex()
    members = [b"m%d" % i for i in range(6000)]
    for member in members:
        index.add(member)
    kept = set(members)
    keep = ScanIndex.CHUNK // 4 + 6  # just above the size that merges a chunk
    for chunk in list(index._chunks)[::2]:  # thin every other chunk
        for member in chunk[keep:]:
            index.remove(member)
            kept.discard(member)
    sizes = [len(chunk) for chunk in index._chunks]
    assert max(sizes) > 4 * min(sizes)
    picks: dict[bytes, int] = dict.fromkeys(kept, 0)
    for _ in range(100 * len(kept)):
        picks[index.random_member()] += 1
    assert min(picks.values()) > 40 and max(picks.values()) < 180  # 100 expected each
