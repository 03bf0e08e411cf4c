"""SCAN and HSCAN guarantees under concurrent writes, as Redis documents them.

A full iteration must return every element that was present for the whole iteration,
whatever another client adds or deletes between the calls; it never returns an element
that never existed; and one call does bounded work (at most COUNT elements), so a worker
scanning a large stash table cannot stall the arbiter.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import ServerProcess

# Above redis-server's hash-max-listpack-entries (512), so the hash is scanned page by
# page with a cursor, not returned whole.
STABLE = 520
POOL = 400

# A step: scan once with COUNT, or have the other client add or delete a run of the
# volatile pool (runs long enough to leave many holes and force compaction).
steps = st.lists(
    st.one_of(
        st.tuples(st.just("scan"), st.integers(1, 60)),
        st.tuples(st.sampled_from(["add", "delete"]), st.integers(0, POOL - 1),
                  st.integers(1, 150)),
    ),
    min_size=1, max_size=40,
)

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def clients(arbiter: ServerProcess) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    """Two connections: one scans, the other mutates."""
    path = arbiter.socket_path
    with redis.Redis(unix_socket_path=path, protocol=2) as scanner, \
            redis.Redis(unix_socket_path=path, protocol=2) as mutator:
        yield scanner, mutator


def volatile(start: int, length: int) -> list[str]:
    return [f"v{n}" for n in range(start, min(start + length, POOL))]


def run_iteration(plan: list[tuple], scan_once, mutate) -> set[bytes]:
    """Follows `plan` (then plain scans) until the cursor is back at 0; returns all seen."""
    seen: set[bytes] = set()
    cursor, started = 0, False
    position = 0
    while not started or cursor != 0:
        step = plan[position] if position < len(plan) else ("scan", 25)
        position += 1
        if step[0] == "scan":
            cursor, page = scan_once(cursor, step[1])
            started = True
            seen.update(page)
        else:
            mutate(step[0], volatile(step[1], step[2]))
        assert position < len(plan) + 10_000, "the iteration never ended"
    return seen


@SETTINGS
@given(plan=steps, initial=st.integers(0, POOL))
def test_hscan_returns_every_field_present_throughout(clients, plan, initial):
    scanner, mutator = clients
    scanner.delete("table")
    stable = {f"s{n}".encode(): f"value-{n}".encode() for n in range(STABLE)}
    scanner.hset("table", mapping=stable)
    if initial:
        scanner.hset("table", mapping=dict.fromkeys(volatile(0, initial), "old"))

    def scan_once(cursor: int, count: int) -> tuple[int, list[bytes]]:
        cursor, page = scanner.hscan("table", cursor, count=count)
        for field, value in page.items():
            if field in stable:
                assert value == stable[field], field
            else:
                assert field.startswith(b"v") and value in (b"old", b"new"), field
        return cursor, list(page)

    def mutate(action: str, fields: list[str]) -> None:
        if action == "add":
            mutator.hset("table", mapping=dict.fromkeys(fields, "new"))
        else:
            mutator.hdel("table", *fields)

    seen = run_iteration(plan, scan_once, mutate)
    assert set(stable) <= seen, sorted(set(stable) - seen)[:10]
    assert all(f.startswith(b"v") for f in seen - set(stable))


@SETTINGS
@given(plan=steps, initial=st.integers(0, POOL),
       use_match=st.booleans(), use_type=st.booleans())
def test_scan_returns_every_key_present_throughout(clients, plan, initial, use_match,
                                                   use_type):
    scanner, mutator = clients
    scanner.flushdb()
    stable = {f"s{n}".encode() for n in range(STABLE)}
    with scanner.pipeline(transaction=False) as pipe:
        for key in stable:
            pipe.hset(key, "f", "v")
        for key in volatile(0, initial):
            pipe.hset(key, "f", "v")
        pipe.execute()
    match = "s*" if use_match else None
    type_name = "hash" if use_type else None

    def scan_once(cursor: int, count: int) -> tuple[int, list[bytes]]:
        return scanner.scan(cursor, match=match, count=count, _type=type_name)

    def mutate(action: str, keys: list[str]) -> None:
        with mutator.pipeline(transaction=False) as pipe:
            for key in keys:
                if action == "add":
                    pipe.hset(key, "f", "v")
                else:
                    pipe.delete(key)
            pipe.execute()

    seen = run_iteration(plan, scan_once, mutate)
    assert stable <= seen, sorted(stable - seen)[:10]
    assert all(k.startswith(b"v") for k in seen - stable)
    if use_match:
        assert seen == stable


@pytest.mark.parametrize("count", [1, 7, 10, 100, 1000])
def test_hscan_page_is_bounded_by_count(arbiter, count):
    """One call returns at most COUNT fields however large the table, also where most
    fields have been deleted (holes), and a whole iteration still returns everything."""
    with redis.Redis(unix_socket_path=arbiter.socket_path, protocol=2) as client:
        client.hset("large", mapping={f"f{n}": n for n in range(20_000)})
        client.hdel("large", *[f"f{n}" for n in range(20_000) if n % 10])
        remaining = {f"f{n}".encode() for n in range(0, 20_000, 10)}
        cursor, seen, calls = 0, set(), 0
        while True:
            cursor, page = client.hscan("large", cursor, count=count)
            calls += 1
            assert len(page) <= count
            seen.update(page)
            if cursor == 0:
                break
        assert seen == remaining
        assert calls >= len(remaining) // count


def test_scan_with_unmatched_pattern_stops_early(arbiter):
    """SCAN with a MATCH that nothing satisfies still answers after looking at a bounded
    slice: an empty page with a cursor to continue from, not a walk of the keyspace."""
    with redis.Redis(unix_socket_path=arbiter.socket_path, protocol=2) as client:
        with client.pipeline(transaction=False) as pipe:
            for n in range(5000):
                pipe.hset(f"key:{n}", "f", "v")
            pipe.execute()
        cursor, page = client.scan(0, match="nothing:*", count=10)
        assert page == []
        assert cursor != 0
        cursor, page = client.hscan("key:0", 0, count=10)
        assert (cursor, page) == (0, {b"f": b"v"})
        cursor, keys = client.scan(0, count=10)
        assert 1 <= len(keys) <= 10
        assert cursor != 0
