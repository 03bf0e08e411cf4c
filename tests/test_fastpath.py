"""The compiled fast path (resp_arbiter/_fastpath.c) against the Python path.

The same bytes, cut into reads at random places, go to two servers: one runs the HGET,
HSET, GET and SET requests at the start of each read in C, the other runs everything in
Python.
Replies, stored values, their encodings, memory estimate, counters and statistics must
come out equal. The requests are chosen to reach every place where the fast path hands
over: new keys, deadlines passed and ahead, field TTLs, WATCHed keys, values of the other
type, encoding changes, long values, non-canonical framing, split requests, other
commands and states."""

from __future__ import annotations

import importlib.util
import itertools
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import Transport

from resp_arbiter import (
    commands,  # noqa: F401  (registers the commands)
    fastpath,
)
from resp_arbiter.client import Client
from resp_arbiter.config import Config
from resp_arbiter.keyspace import Table
from resp_arbiter.server import Server

BUILT = importlib.util.find_spec("resp_arbiter._fastpath") is not None
PURE = bool(os.environ.get(fastpath.PURE_PYTHON_ENV))
needs_fast_path = pytest.mark.skipif(
    not BUILT or PURE, reason="the C fast path was not built, or RESP_ARBITER_PURE_PYTHON "
    "turns it off in this process")


def test_ci_builds_the_fast_path():
    """In CI the extension must be built (a missing compiler fails the run), and a
    process started with RESP_ARBITER_PURE_PYTHON runs without it."""
    if os.environ.get("CI"):
        assert BUILT
    server = Server(Config())
    assert (server.fast_path is not None) == (BUILT and not PURE)


def _encode(argv: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)


def _state(server: Server) -> tuple:
    """Everything a request may have changed, in comparable form."""
    dbs = []
    for db in server.databases:
        values = {}
        for key, value in db.tables.items():
            if value.__class__ is Table:
                values[key] = ("table", list(value.fields.items()), value.listpack,
                               value.size, _members(value.index), dict(value.field_ttl))
            else:
                values[key] = (value.__class__.__name__, bytes(value))
        dbs.append((values, db.data_bytes, db.dirty, sorted(db.accessed),
                    dict(db.deadlines), db.lookups is None, db.snapshot))
    stats = {spec.full_name: (row.calls, row.failed, row.rejected)
             for spec, row in server.command_stats.items() if row.calls or row.failed
             or row.rejected}
    return (dbs, stats, list(server.lookups), server.error_stats.total,
            len(server.slowlog.entries), server.stats.net_input_bytes,
            server.stats.net_output_bytes)


def _members(index: object) -> list[bytes] | None:
    """Every member of a scan index, in order (None for a table without one)."""
    if index is None:
        return None
    cursor, members = 0, []
    while True:
        cursor, batch = index.scan(cursor, 1000)
        members += batch
        if not cursor:
            return sorted(members)


class _Counting:
    """The fast path, counting the bytes it ran."""

    def __init__(self, module: object) -> None:
        self.module = module
        self.taken = 0

    def read(self, server: Server, client: Client, data: bytes) -> int:
        taken = self.module.read(server, client, data)
        self.taken += len(data) if taken == fastpath.READ_DONE else max(taken, 0)
        return taken

    def serve(self, server: Server, client: Client, keyspace: object, data: bytes) -> int:
        taken = self.module.serve(server, client, keyspace, data)
        self.taken += taken
        return taken


def _run(chunks: list[bytes], fast: bool, flush_at: int | None = None,
         setup: list[list[bytes]] = (), hooked: bool = False,
         tracker: bool = False) -> tuple:
    random.seed(7)  # eviction samples at random: the same draws in both runs
    config = Config()
    config.set("slowlog-log-slower-than", "-1")  # only `CONFIG SET ... 0` logs: no timing
    server = Server(config)
    now = [_START_MS]
    for db in server.databases:
        db.clock = lambda: now[0]  # one clock for all: deadlines come out equal
    if not fast:
        server.fast_path = None
    counting = None if server.fast_path is None else _Counting(server.fast_path)
    server.fast_path = counting
    client = Client(server)
    transport = Transport()
    client.connection_made(transport)  # type: ignore[arg-type]
    if flush_at is not None:
        client.flush_at = flush_at
    written: list[tuple[str, list[bytes], int]] = []
    if hooked:  # a second write hook, as the append-only file's when it is on
        server.on_write(lambda c, spec, argv: written.append(
            (spec.full_name, list(argv), c.db.id)))
    for argv in setup:
        server.call(client, argv)
    other = Client(server)  # another client, whose cache the writes invalidate
    other.connection_made(Transport())  # type: ignore[arg-type]
    if tracker:
        for argv in ([b"HELLO", b"3"], [b"CLIENT", b"TRACKING", b"on"],
                     [b"HGET", b"packed", b"f0"], [b"GET", b"s"], [b"HGET", b"big", b"g1"]):
            server.call(other, argv)
    now[0] += _LATER_MS  # the keys set up with EXPIRE 1000 are due, those with 5000 not
    for chunk in chunks:
        client.data_received(chunk)
        while client.held and not client.write_paused and client.transport is not None:
            client._run_held()
    client.flush()
    other.flush()
    error_row = server.error_stats.current
    current = next((s.full_name for s, row in server.command_stats.items()
                    if row is error_row), None)
    return (bytes(transport.sent) + bytes(client.out), _state(server),
            client.last_command, current, written, client.dirty_cas,
            bytes(other.transport.sent)), \
        0 if counting is None else counting.taken


_START_MS = 1_800_000_000_000
_LATER_MS = 2_000_000


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


_KEYS = [b"h", b"packed", b"big", b"s", b"ttl", b"ttl2", b"sttl", b"sdue", b"watched",
         b"swatched", b"sfloat", b"new"]
_FIELDS = [b"f%d" % i for i in range(20)] + [b"x" * 65, b""]
_VALUES = [b"", b"v", b"1", b"x" * 64, b"y" * 65, b"z" * 300]

# Keys set up before the requests: a small hash, a big one (a Table with a scan index),
# a listpack Table, a string, a key with a deadline, a hash with a field TTL.
_SETUP = [
    [b"HSET", b"packed", b"f0", b"a", b"f1", b"b"],
    [b"HSET", b"big"] + [part for i in range(600) for part in (b"g%d" % i, b"v")],
    [b"HSET", b"h", b"f0", b"v" * 70],
    [b"SET", b"s", b"text"], [b"SET", b"swatched", b"text"],
    [b"SET", b"sttl", b"text"], [b"EXPIRE", b"sttl", b"5000"],
    [b"SET", b"sdue", b"12345"], [b"EXPIRE", b"sdue", b"1000"],
    [b"HSET", b"ttl", b"f0", b"v"], [b"EXPIRE", b"ttl", b"1000"],
    [b"HSET", b"ttl2", b"f0", b"v"], [b"EXPIRE", b"ttl2", b"5000"],
    [b"APPEND", b"swatched", b"!"], [b"INCRBYFLOAT", b"sfloat", b"1.5"],  # RawStr, BuiltStr
    [b"HSET", b"fttl", b"f0", b"v", b"f1", b"w"],
    [b"HEXPIRE", b"fttl", b"1000", b"FIELDS", b"1", b"f1"],
    [b"HSET", b"watched", b"f0", b"v"],
]


def _spelling(draw: st.DrawFn, name: bytes) -> bytes:
    return draw(st.sampled_from([name.upper(), name.lower(), name.capitalize()]))


@st.composite
def _request(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 12))
    # Mostly the keys the fast path serves, and fields they have.
    key = draw(st.sampled_from([b"packed"] * 6 + [b"big"] * 3 + [b"s", b"sttl"] * 3 + _KEYS
                               + [b"fttl"]))
    field = draw(st.sampled_from(_FIELDS[:3] * 8 + [b"g1", b"g2"] * 4 + _FIELDS))
    value = draw(st.sampled_from(_VALUES[:3] * 4 + _VALUES))
    if kind <= 3:
        return _encode([_spelling(draw, b"hset"), key, field, value])
    if kind <= 6:
        return _encode([_spelling(draw, b"hget"), key, field])
    if kind == 7:  # framings the fast path leaves to the Python path
        return draw(st.sampled_from([
            b"*3\r\n$4\r\nHGET\r\n$01\r\nh\r\n$2\r\nf0\r\n",
            b"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$2\r\nf0\r\n",
            b"*3\r\n$4\r\nHSET\r\n$1\r\nh\r\n$2\r\nf0\r\n",
            b"*2\r\n$4\r\nHGET\r\n$1\r\nh\r\n",
            b"HGET h f0\r\n",
            b"*3\r\n$4\r\nHGET\r\n$1\r\nhh\r\n$2\r\nf0\r\n",
        ]))
    if kind == 8:
        return _encode([b"HSET", key, field, value, b"f19", b"w"])
    if kind == 10:
        return _encode([_spelling(draw, b"get"), key])
    if kind == 11:
        return _encode([_spelling(draw, b"set"), key, value])
    if kind == 12:  # options the fast path leaves to the Python path
        option = draw(st.sampled_from([[b"EX", b"100"], [b"KEEPTTL"], [b"NX"], [b"XX"],
                                       [b"GET"]]))
        return _encode([b"SET", key, value, *option])
    return _encode(draw(st.sampled_from([
        [b"DEL", key], [b"HDEL", key, field], [b"PING"], [b"SELECT", b"1"],
        [b"SELECT", b"0"], [b"EXPIRE", key, b"500"], [b"PERSIST", key],
        [b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0"],
        [b"CONFIG", b"SET", b"slowlog-log-slower-than", b"-1"],
        [b"HINCRBY", key, field, b"1"], [b"GET", key], [b"HLEN", key],
        # States in which the fast path steps aside, and their ends.
        [b"HELLO", b"3"], [b"HELLO", b"2"], [b"MULTI"], [b"EXEC"], [b"DISCARD"],
        [b"CONFIG", b"SET", b"maxmemory", b"1gb"], [b"CONFIG", b"SET", b"maxmemory", b"0"],
        [b"CLIENT", b"TRACKING", b"on"], [b"CLIENT", b"TRACKING", b"off"],
        [b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lfu"],
        [b"CONFIG", b"SET", b"maxmemory-policy", b"noeviction"],
    ])))


@needs_fast_path
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(_request(), min_size=1, max_size=40), st.lists(st.integers(0, 10**6),
                                                               max_size=6),
       st.sampled_from([None, 16, 200]), st.booleans())
def test_the_fast_path_answers_and_changes_exactly_what_the_python_path_does(
        requests, cuts, flush_at, hooked):
    data = b"".join(requests)
    chunks = _cut(data, cuts)
    watch = [[b"WATCH", b"watched", b"swatched"]]
    fast, _ = _run(chunks, True, flush_at, _SETUP + watch, hooked)
    slow, _ = _run(chunks, False, flush_at, _SETUP + watch, hooked)
    assert fast == slow


@needs_fast_path
def test_hget_and_hset_at_the_start_of_a_read_run_in_c():
    data = b"".join([_encode([b"HSET", b"packed", b"f%d" % i, b"v"]) for i in range(10)]
                    + [_encode([b"HGET", b"packed", b"f3"]),
                       _encode([b"hget", b"big", b"g7"]), _encode([b"HGET", b"no", b"f"])]
                    + [_encode([b"PING"]), _encode([b"HGET", b"packed", b"f3"])])
    (replies, state, last, current, *_), taken = _run([data], True, None, _SETUP)
    # Everything up to PING ran in C; PING and the HGET after it in Python.
    assert taken == data.index(_encode([b"PING"]))
    assert replies.endswith(b":0\r\n" * 2 + b":1\r\n" * 8 + b"$1\r\nv\r\n$1\r\nv\r\n$-1\r\n"
                            b"+PONG\r\n$1\r\nv\r\n")
    assert last == "hget" and current == "hget"
    assert (replies, state) == _run([data], False, None, _SETUP)[0][:2]


@needs_fast_path
def test_a_reply_bound_stops_the_fast_path_and_holds_the_rest():
    """A pipeline of reads of a large value: the fast path stops once the replies reach
    the client's bound, as the Python path does, and the rest waits for the next turn."""
    setup = [*_SETUP, [b"HSET", b"large", b"f", b"x" * 5000]]
    data = _encode([b"HGET", b"large", b"f"]) * 50
    fast, taken = _run([data], True, 20_000, setup)
    assert taken == len(_encode([b"HGET", b"large", b"f"])) * 4  # 4 replies pass 20,000
    assert fast == _run([data], False, 20_000, setup)[0]
    assert fast[0].count(b"x" * 5000) == 50


@needs_fast_path
def test_a_request_split_across_reads_runs_first_and_the_fast_path_takes_the_rest():
    """redis-cli --pipe cuts requests anywhere: the one left open by a read completes in
    Python, and the rest of that read goes back to the fast path."""
    one = _encode([b"HSET", b"packed", b"f0", b"x"])
    data = one * 10
    fast, taken = _run([data[:7], data[7:]], True, None, _SETUP)
    assert taken == len(one) * 9
    assert fast[0].endswith(b":0\r\n" * 10)
    assert fast == _run([data[:7], data[7:]], False, None, _SETUP)[0]


@needs_fast_path
def test_get_and_set_of_strings_run_in_c_with_their_deadlines_checked():
    data = b"".join(_encode(argv) for argv in (
        [b"SET", b"s", b"new text"], [b"get", b"s"], [b"GET", b"sttl"],  # a deadline ahead
        [b"GET", b"missing"], [b"GET", b"sdue"],  # its deadline has passed: Python
        [b"GET", b"s"]))
    fast, taken = _run([data], True, None, _SETUP)
    assert taken == data.index(_encode([b"GET", b"sdue"]))
    assert fast[0].endswith(b"+OK\r\n$8\r\nnew text\r\n$4\r\ntext\r\n$-1\r\n$-1\r\n"
                            b"$8\r\nnew text\r\n")
    assert fast == _run([data], False, None, _SETUP)[0]


# Requests that change what the fast path may do, each undone by another.
_STATES = [
    [b"HELLO", b"3"], [b"HELLO", b"2"], [b"MULTI"], [b"EXEC"], [b"DISCARD"],
    [b"CONFIG", b"SET", b"maxmemory", b"1"], [b"CONFIG", b"SET", b"maxmemory", b"0"],
    [b"CLIENT", b"TRACKING", b"on"], [b"CLIENT", b"TRACKING", b"off"],
    [b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lfu"],
    [b"CONFIG", b"SET", b"maxmemory-policy", b"noeviction"],
    [b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0"],
    [b"CONFIG", b"SET", b"slowlog-log-slower-than", b"-1"],
    [b"SELECT", b"1"], [b"SELECT", b"0"], [b"WATCH", b"packed", b"s"], [b"UNWATCH"],
]
_SERVED = [
    [b"HGET", b"packed", b"f0"], [b"HGET", b"packed", b"nofield"], [b"HGET", b"nokey", b"f"],
    [b"HSET", b"packed", b"f0", b"x"], [b"HSET", b"big", b"g1", b"y"], [b"GET", b"s"],
    [b"GET", b"nokey"], [b"SET", b"s", b"z"], [b"HGET", b"big", b"g2"],
]


@st.composite
def _states_then_served(draw: st.DrawFn) -> list[list[bytes]]:
    """Steps of one state change followed by requests the fast path serves."""
    requests = []
    for _ in range(draw(st.integers(1, 10))):
        requests.append(draw(st.sampled_from(_STATES)))
        requests += draw(st.lists(st.sampled_from(_SERVED), min_size=1, max_size=3))
    return requests


@needs_fast_path
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_states_then_served(), st.lists(st.booleans(), min_size=40, max_size=40),
       st.booleans())
def test_every_state_that_adds_checks_keeps_the_fast_path_out(requests, joined, tracker):
    """Each request its own read, or joined to the one before: the states MULTI,
    tracking (its own, or another client's), maxmemory, LFU, RESP3, the slow log and
    WATCH switch on and off between reads, and each read starts on the fast path."""
    chunks: list[bytes] = []
    for argv, join in zip(requests, joined):  # noqa: B905 (joined is the longer)
        if join and chunks:
            chunks[-1] += _encode(argv)
        else:
            chunks.append(_encode(argv))
    fast, _ = _run(chunks, True, None, _SETUP, tracker=tracker)
    slow, _ = _run(chunks, False, None, _SETUP, tracker=tracker)
    assert fast == slow
