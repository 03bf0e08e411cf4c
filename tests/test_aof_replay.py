"""The append-only file rebuilds the data: in-process, with a controlled clock.

Random command sequences (writes of every kind, relative and absolute times, MULTI/EXEC,
expiry as time passes, SAVE rotating the files mid-way) run on one server with AOF on;
a second server loads the directory, possibly much later, and both must hold the same
tables, fields (in order), deadlines and pinned flags once both apply the same clock.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resp_arbiter import commands  # noqa: F401  (registers the commands)
from resp_arbiter.aof import AofStartError
from resp_arbiter.aof_records import REWRITES, propagate
from resp_arbiter.client import Client
from resp_arbiter.config import Config
from resp_arbiter.keyspace import Keyspace, is_hash
from resp_arbiter.registry import COMMANDS
from resp_arbiter.server import Server

START = 1_800_000_000_000  # Unix ms
KEYS = [b"k1", b"k2", b"k3"]
DBS = (0, 1, 2)
FIELDS = [b"a", b"b", b"c", b"d"]


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def make_server(directory: Path, clock: Clock, **options: str) -> Server:
    config = Config()
    config.set("appendonly", "yes")
    config.set("dir", str(directory))
    for name, value in options.items():
        config.set(name.replace("_", "-"), value)
    server = Server(config)
    server.databases.set_clock(clock)
    server.aof.start()
    return server


def run(server: Server, client: Client, *argv: bytes | str | int) -> bytes:
    """One command, its reply, and the AOF write that follows it."""
    start = len(client.out)
    server.call(client, [a if isinstance(a, bytes) else str(a).encode() for a in argv])
    if server.aof.buffer or server.aof.held:  # as Client.data_received defers its replies
        server.aof.waiting[client] = None
    server.aof._release()
    return bytes(client.out[start:])


def states(server: Server) -> list[dict]:
    """`state` of the databases the random steps use."""
    return [state(server.databases[db]) for db in DBS]


def state(keyspace: Keyspace) -> dict:
    keyspace.expire_cycle(budget=None)
    return {key: (list(table.fields.items()), dict(table.field_ttl),
                  keyspace.deadline_of(key), table.pinned) if is_hash(table)
            else (table, keyspace.deadline_of(key))
            for key, table in keyspace.tables.items()}


key = st.sampled_from(KEYS)
field = st.sampled_from(FIELDS)
fields = st.lists(field, min_size=1, max_size=3)
value = st.sampled_from([b"1", b"2", b"x", b"1.5", b"-3"])
delay = st.integers(-2_000, 60_000)
condition = st.sampled_from([[], ["NX"], ["XX"], ["GT"], ["LT"]])


def _fields_arg(names: list[bytes]) -> list:
    return ["FIELDS", len(names), *names]


_COMMANDS = [
    st.builds(lambda k, fv: ["HSET", k, *[x for pair in fv for x in pair]], key,
              st.lists(st.tuples(field, value), min_size=1, max_size=3)),
    st.builds(lambda k, f, v: ["HSETNX", k, f, v], key, field, value),
    st.builds(lambda k, f: ["HDEL", k, *f], key, fields),
    st.builds(lambda k, f, n: ["HINCRBY", k, f, n], key, field, st.integers(-5, 5)),
    st.builds(lambda k, f: ["HINCRBYFLOAT", k, f, "0.25"], key, field),
    st.builds(lambda k: ["DEL", k], key),
    st.builds(lambda a, b: ["RENAME", a, b], key, key),
    st.builds(lambda k: ["STASH.ENSURE", k], key),
    st.builds(lambda k: ["STASH.CLEAR", k], key),
    st.builds(lambda k: ["PERSIST", k], key),
    st.builds(lambda c, k, d, cond: [c, k, d // (1000 if c == "EXPIRE" else 1), *cond],
              st.sampled_from(["EXPIRE", "PEXPIRE"]), key, delay, condition),
    st.builds(lambda k, d: ["PEXPIREAT", k, "@%d" % d], key, delay),
    st.builds(lambda c, k, d, cond, f: [c, k, max(d, 0) // (1000 if c == "HEXPIRE" else 1),
                                        *cond, *_fields_arg(f)],
              st.sampled_from(["HEXPIRE", "HPEXPIRE"]), key, delay, condition, fields),
    st.builds(lambda k, d, f: ["HPEXPIREAT", k, "@%d" % d, *_fields_arg(f)], key, delay,
              fields),
    st.builds(lambda k, f: ["HPERSIST", k, *_fields_arg(f)], key, fields),
    st.builds(lambda k, f: ["HGETDEL", k, *_fields_arg(f)], key, fields),
    st.builds(lambda k, opt, d, f: ["HGETEX", k, *opt(d), *_fields_arg(f)], key,
              st.sampled_from([lambda d: [], lambda d: ["PERSIST"],
                               lambda d: ["PX", max(d, 1)], lambda d: ["EX", max(d, 1000) // 1000],
                               lambda d: ["PXAT", "@%d" % d]]), delay, fields),
    st.builds(lambda k, cond, opt, d, fv: ["HSETEX", k, *cond, *opt(d), "FIELDS", len(fv),
                                           *[x for pair in fv for x in pair]],
              key, st.sampled_from([[], ["FNX"], ["FXX"]]),
              st.sampled_from([lambda d: [], lambda d: ["KEEPTTL"],
                               lambda d: ["PX", max(d, 1)], lambda d: ["PXAT", "@%d" % d]]),
              delay, st.lists(st.tuples(field, value), min_size=1, max_size=2)),
    st.builds(lambda k: ["HGET", k, "a"], key),
    st.just(["FLUSHALL"]),
    st.just(["FLUSHDB"]),
    st.builds(lambda db: ["SELECT", db], st.sampled_from(DBS)),
    st.builds(lambda k, db: ["MOVE", k, db], key, st.sampled_from(DBS)),
    st.builds(lambda a, b, db, replace: ["COPY", a, b, "DB", db, *replace], key, key,
              st.sampled_from(DBS), st.sampled_from([[], ["REPLACE"]])),
    st.builds(lambda a, b: ["SWAPDB", a, b], st.sampled_from(DBS), st.sampled_from(DBS)),
    # Strings on the same keys: type changes, WRONGTYPE refusals, TTLs kept or replaced.
    st.builds(lambda k, v, cond, get, opt, d: ["SET", k, v, *cond, *get, *opt(d)], key, value,
              st.sampled_from([[], ["NX"], ["XX"]]), st.sampled_from([[], ["GET"]]),
              st.sampled_from([lambda d: [], lambda d: ["KEEPTTL"],
                               lambda d: ["PX", max(d, 1)],
                               lambda d: ["EX", max(d, 1000) // 1000],
                               lambda d: ["PXAT", "@%d" % d]]), delay),
    st.builds(lambda c, k, d, v: [c, k, max(d, 1000) // (1000 if c == "SETEX" else 1), v],
              st.sampled_from(["SETEX", "PSETEX"]), key, delay, value),
    st.builds(lambda k, opt, d: ["GETEX", k, *opt(d)], key,
              st.sampled_from([lambda d: [], lambda d: ["PERSIST"], lambda d: ["PX", max(d, 1)],
                               lambda d: ["PXAT", "@%d" % d]]), delay),
    st.builds(lambda c, k, v: [c, k, v], st.sampled_from(["GETSET", "SETNX", "APPEND"]), key,
              value),
    st.builds(lambda k: ["GETDEL", k], key),
    st.builds(lambda c, a, b, v: [c, a, v, b, v], st.sampled_from(["MSET", "MSETNX"]), key,
              key, value),
    st.builds(lambda c, k, n: [c, k, n], st.sampled_from(["INCRBY", "DECRBY"]), key,
              st.integers(-5, 5)),
    st.builds(lambda c, k: [c, k], st.sampled_from(["INCR", "DECR"]), key),
    st.builds(lambda k: ["INCRBYFLOAT", k, "0.25"], key),
    st.builds(lambda k, o, v: ["SETRANGE", k, o, v], key, st.integers(0, 4), value),
]
# Uniform over the kinds (st.one_of favours its first branches).
command = st.integers(0, len(_COMMANDS) - 1).flatmap(_COMMANDS.__getitem__)
step = st.one_of(
    st.tuples(st.just("cmd"), command),
    st.tuples(st.just("multi"), st.lists(command, min_size=1, max_size=4)),
    st.tuples(st.just("sleep"), st.integers(1, 20_000)),
    st.tuples(st.just("save"), st.just(None)),
)


def _resolve(argv: list, now: int) -> list:
    """`@delta` arguments become absolute times relative to the current clock."""
    return [now + int(a[1:]) if isinstance(a, str) and a.startswith("@") else a
            for a in argv]


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=30),
       later=st.one_of(st.just(0), st.integers(0, 100_000)))
def test_a_reload_at_any_later_time_holds_the_same_data(tmp_path_factory, steps, later):
    directory = tmp_path_factory.mktemp("aof")
    clock = Clock(START)
    server = make_server(directory, clock)
    client = Client(server)
    for kind, arg in steps:
        if kind == "cmd":
            run(server, client, *_resolve(arg, clock.now))
        elif kind == "multi":
            run(server, client, "MULTI")
            for argv in arg:
                run(server, client, *_resolve(argv, clock.now))
            run(server, client, "EXEC")
        elif kind == "sleep":
            clock.now += arg
            for db in server.databases:
                db.expire_cycle(budget=None)
            server.aof.cron()
        else:
            assert run(server, client, "SAVE") == b"+OK\r\n"
    server.aof.stop()
    clock.now += later
    reloaded = make_server(directory, Clock(clock.now))
    assert states(reloaded) == states(server)
    reloaded.aof.stop()


def test_relative_times_are_logged_as_absolute_deadlines(tmp_path):
    clock = Clock(START)
    server = make_server(tmp_path, clock)
    client = Client(server)
    run(server, client, "HSET", "h", "a", "1", "b", "2")
    run(server, client, "EXPIRE", "h", "100")
    run(server, client, "HPEXPIRE", "h", "500", "FIELDS", "1", "a")
    run(server, client, "HSETEX", "h", "EX", "7", "FIELDS", "1", "c", "3")
    run(server, client, "PEXPIRE", "h", "-1")
    server.aof.stop()
    log = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    assert log == b"".join([
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n",
        b"*6\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
        b"*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nh\r\n$13\r\n%d\r\n" % (START + 100_000),
        b"*6\r\n$10\r\nHPEXPIREAT\r\n$1\r\nh\r\n$13\r\n%d\r\n$6\r\nFIELDS\r\n$1\r\n1\r\n"
        b"$1\r\na\r\n" % (START + 500),
        b"*1\r\n$5\r\nMULTI\r\n",
        b"*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nc\r\n$1\r\n3\r\n",
        b"*6\r\n$10\r\nHPEXPIREAT\r\n$1\r\nh\r\n$13\r\n%d\r\n$6\r\nFIELDS\r\n$1\r\n1\r\n"
        b"$1\r\nc\r\n" % (START + 7000),
        b"*1\r\n$4\r\nEXEC\r\n",
        b"*2\r\n$3\r\nDEL\r\n$1\r\nh\r\n",
    ])


def test_reads_are_not_logged_and_expiry_is_logged_as_deletion(tmp_path):
    clock = Clock(START)
    server = make_server(tmp_path, clock)
    client = Client(server)
    run(server, client, "HSET", "h", "a", "1", "b", "2")
    run(server, client, "HPEXPIRE", "h", "10", "FIELDS", "1", "a")
    run(server, client, "HSET", "g", "x", "1")
    run(server, client, "PEXPIRE", "g", "10")
    size = server.aof.incr_size
    run(server, client, "HGETEX", "h", "FIELDS", "1", "b")  # a read: nothing logged
    run(server, client, "HGETALL", "h")
    assert server.aof.incr_size == size
    clock.now += 11
    run(server, client, "HGETALL", "h")  # lazy expiry of the field
    server.keyspace.expire_cycle(budget=None)  # active expiry of the key
    server.aof.cron()
    server.aof.stop()
    log = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    assert log[size:] == (b"*3\r\n$4\r\nHDEL\r\n$1\r\nh\r\n$1\r\na\r\n"
                          b"*2\r\n$3\r\nDEL\r\n$1\r\ng\r\n")


def test_a_transaction_is_logged_whole_inside_multi_exec(tmp_path):
    server = make_server(tmp_path, Clock(START))
    client = Client(server)
    for argv in (["MULTI"], ["HSET", "t", "a", "1"], ["HGET", "t", "a"],
                 ["HDEL", "t", "zz"], ["HSET", "u", "b", "2"], ["EXEC"]):
        run(server, client, *argv)
    run(server, client, "MULTI")
    run(server, client, "HSET", "v", "c", "3")
    run(server, client, "EXEC")
    server.aof.stop()
    log = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    assert log == (b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"  # each file starts with it
                   b"*1\r\n$5\r\nMULTI\r\n"
                   b"*4\r\n$4\r\nHSET\r\n$1\r\nt\r\n$1\r\na\r\n$1\r\n1\r\n"
                   b"*4\r\n$4\r\nHSET\r\n$1\r\nu\r\n$1\r\nb\r\n$1\r\n2\r\n"
                   b"*1\r\n$4\r\nEXEC\r\n"
                   b"*4\r\n$4\r\nHSET\r\n$1\r\nv\r\n$1\r\nc\r\n$1\r\n3\r\n")


# Write commands logged exactly as they ran: deterministic given the data before them.
LOGGED_AS_IS = {"hset", "hmset", "hsetnx", "hdel", "hincrby", "del", "unlink", "rename",
                "renamenx", "persist", "hpersist", "flushdb", "flushall", "stash.ensure",
                "stash.clear", "move", "copy", "swapdb", "setnx", "mset", "msetnx", "incr",
                "decr", "incrby", "decrby", "append"}


def test_every_write_command_has_a_logging_rule():
    """A new write command must be placed here deliberately: logged as it ran (if its
    effect does not depend on the clock) or rewritten in aof_records.REWRITES."""
    writes = {spec.full_name for top in COMMANDS.values()
              for spec in (top, *top.subcommands.values()) if spec.is_write}
    assert writes == LOGGED_AS_IS | set(REWRITES)


@pytest.mark.parametrize("argv", [
    [b"HGETEX", b"h", b"FIELDS", b"1", b"a"],
    [b"HGETEX", b"missing", b"PERSIST", b"FIELDS", b"1", b"a"],
])
def test_commands_that_changed_nothing_log_nothing(argv):
    server = Server(Config())
    assert propagate(argv[0].decode().lower(), server.keyspace, argv) == []


@pytest.mark.parametrize(("steps", "expected"), [
    # A key that expired (actively or lazily) and was written again: without the logged
    # DEL, the replay would write into the old key and its past deadline would take it.
    ([["HSET", "k", "a", "1"], ["PEXPIRE", "k", "10"], "sleep", ["HSET", "k", "b", "2"]],
     {b"k": ([(b"b", b"2")], {}, 0, False)}),
    ([["HSET", "k", "a", "1"], ["PEXPIRE", "k", "10"], "lazy", ["HSET", "k", "b", "2"]],
     {b"k": ([(b"b", b"2")], {}, 0, False)}),
    # The same for a field: HINCRBY keeps a field's TTL, so the HDEL must be logged.
    ([["HSET", "k", "a", "1", "z", "0"], ["HPEXPIRE", "k", "10", "FIELDS", "1", "a"],
      "sleep", ["HINCRBY", "k", "a", "1"]],
     {b"k": ([(b"z", b"0"), (b"a", b"1")], {}, 0, False)}),
    ([["HSET", "k", "a", "1", "z", "0"], ["HPEXPIRE", "k", "10", "FIELDS", "1", "a"],
      "lazy", ["HINCRBY", "k", "a", "1"]],
     {b"k": ([(b"z", b"0"), (b"a", b"1")], {}, 0, False)}),
    # HSETEX refused by FNX while lazy expiry changed the key: the hook runs, but
    # nothing of the HSETEX may be logged.
    ([["HSET", "k", "a", "1", "b", "1"], ["HPEXPIRE", "k", "10", "FIELDS", "1", "b"], "lazy",
      ["HSETEX", "k", "FNX", "FIELDS", "1", "a", "9"]],
     {b"k": ([(b"a", b"1")], {}, 0, False)}),
    # A pinned table keeps existing empty through a reload.
    ([["STASH.ENSURE", "p"], ["HSET", "p", "a", "1"], ["HDEL", "p", "a"]],
     {b"p": ([], {}, 0, True)}),
])
@pytest.mark.parametrize("save_at_end", [False, True])
def test_deletions_by_expiry_reach_the_log(tmp_path, steps, expected, save_at_end):
    clock = Clock(START)
    server = make_server(tmp_path, clock)
    client = Client(server)
    for argv in steps:
        if argv in ("sleep", "lazy"):
            clock.now += 20
            if argv == "sleep":
                server.keyspace.expire_cycle(budget=None)
                server.aof.cron()
            continue
        run(server, client, *argv)
    if save_at_end:
        assert run(server, client, "SAVE") == b"+OK\r\n"
    server.aof.stop()
    assert state(server.keyspace) == expected
    assert state(make_server(tmp_path, Clock(clock.now + 60_000)).keyspace) == expected


def _encoded(*records: list[bytes | str]) -> bytes:
    out = bytearray()
    for record in records:
        out += b"*%d\r\n" % len(record)
        for arg in record:
            data = arg.encode() if isinstance(arg, str) else arg
            out += b"$%d\r\n%s\r\n" % (len(data), data)
    return bytes(out)


def test_select_is_logged_when_the_database_changes(tmp_path):
    """SELECT precedes a record only when its database differs from the last logged
    (clients interleaved, SELECT inside MULTI, expiry in another database); a new
    increment file starts with one."""
    clock = Clock(START)
    server = make_server(tmp_path, clock)
    zero, two = Client(server), Client(server)
    run(server, two, "SELECT", "2")
    run(server, zero, "HSET", "a", "f", "1")
    run(server, zero, "HSET", "b", "f", "1")
    run(server, two, "HSET", "a", "f", "2")
    run(server, two, "PEXPIRE", "a", "10")
    run(server, two, "SELECT", "2")  # not a write: nothing logged
    run(server, zero, "MULTI")
    run(server, zero, "HSET", "c", "f", "1")
    run(server, zero, "SELECT", "1")
    run(server, zero, "HSET", "c", "f", "3")
    run(server, zero, "EXEC")
    clock.now += 20
    for db in server.databases:
        db.expire_cycle(budget=None)
    server.aof.cron()
    run(server, zero, "HSET", "d", "f", "1")
    assert run(server, zero, "BGREWRITEAOF").startswith(b"+")
    run(server, zero, "HSET", "e", "f", "1")
    server.aof.stop()
    directory = tmp_path / "appendonlydir"
    assert (directory / "appendonly.aof.1.incr.aof").read_bytes() == _encoded(
        ["SELECT", "0"], ["HSET", "a", "f", "1"], ["HSET", "b", "f", "1"],
        ["SELECT", "2"], ["HSET", "a", "f", "2"], ["PEXPIREAT", "a", str(START + 10)],
        ["SELECT", "0"], ["MULTI"], ["HSET", "c", "f", "1"], ["SELECT", "1"],
        ["HSET", "c", "f", "3"], ["EXEC"],
        ["SELECT", "2"], ["DEL", "a"],
        ["SELECT", "1"], ["HSET", "d", "f", "1"])
    assert (directory / "appendonly.aof.2.incr.aof").read_bytes() == _encoded(
        ["SELECT", "1"], ["HSET", "e", "f", "1"])
    reloaded = make_server(tmp_path, Clock(clock.now))
    assert [sorted(db.tables) for db in list(reloaded.databases)[:3]] == [
        [b"a", b"b", b"c"], [b"c", b"d", b"e"], []]
    reloaded.aof.stop()


def test_a_file_selecting_a_missing_database_refuses_to_load(tmp_path):
    """Files written with more databases than this server has: loading stops with a
    clear error rather than putting that database's data in another one."""
    server = make_server(tmp_path, Clock(START), databases="8")
    client = Client(server)
    run(server, client, "SELECT", "7")
    run(server, client, "HSET", "h", "f", "v")
    server.aof.stop()
    with pytest.raises(AofStartError, match=r"SELECT 7.*larger 'databases'"):
        make_server(tmp_path, Clock(START), databases="4")
    reloaded = make_server(tmp_path, Clock(START), databases="8")
    assert list(reloaded.databases[7].tables) == [b"h"]
    reloaded.aof.stop()


def test_strings_past_a_lowered_proto_max_bulk_len_reload(tmp_path):
    """The loader is not held to proto-max-bulk-len (Redis obeys its AOF client): a
    string grown under a larger limit reloads whole under a smaller one."""
    clock = Clock(START)
    server = make_server(tmp_path, clock, proto_max_bulk_len="2mb")
    client = Client(server)
    chunk = b"x" * (512 * 1024)
    for _ in range(3):
        assert run(server, client, "APPEND", "big", chunk).startswith(b":")
    assert run(server, client, "SETRANGE", "big", 3 * len(chunk), "y") == b":1572865\r\n"
    server.aof.stop()
    reloaded = make_server(tmp_path, Clock(START), proto_max_bulk_len="1mb").keyspace
    assert reloaded.tables[b"big"] == chunk * 3 + b"y"


def test_a_setrange_refused_after_lazy_expiry_is_not_replayed(tmp_path):
    """SETRANGE past the limit on a key that lazily expired changed the data (the
    expiry), so the write hook runs: the log must say the key is gone, never replay the
    SETRANGE the loader would not refuse."""
    clock = Clock(START)
    server = make_server(tmp_path, clock)
    client = Client(server)
    run(server, client, "SET", "k", "v", "PX", "10")
    clock.now += 20
    assert run(server, client, "SETRANGE", "k", 600_000_000, "x") == \
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    server.aof.stop()
    assert state(make_server(tmp_path, Clock(clock.now)).keyspace) == {}
