"""Numbered database cases: SELECT, MOVE, SWAPDB, COPY, FLUSHDB/FLUSHALL and DBSIZE per
database, INFO keyspace lines, WATCH across databases, SELECT inside MULTI."""

from __future__ import annotations

import re

from . import compare as cmp
from .harness import Case, case, cmd, pipeline
from .resp import Reply

_AVG_TTL = re.compile(rb"avg_ttl=[0-9]+")


def info_keyspace_lines(redis: Reply, arbiter: Reply) -> bool:
    """INFO keyspace line by line, `avg_ttl` masked (Redis estimates it by sampling in
    its cron; the arbiter answers 0), `subexpiry` as `compare.info_keyspace`."""
    if redis.kind != arbiter.kind or not isinstance(arbiter.value, bytes):
        return False
    mine = _AVG_TTL.sub(b"avg_ttl=*", arbiter.value)
    theirs = _AVG_TTL.sub(b"avg_ttl=*", redis.value)
    return cmp.info_keyspace(Reply(redis.kind, redis.raw, theirs),
                             Reply(arbiter.kind, arbiter.raw, mine))


INDEX_ERRORS = ["16", "-1", "x", "", "1.5", " 1", "+1", "01", "2147483648", "-2147483649",
                "99999999999999999999", "9223372036854775808", "-9223372036854775809"]


def _select_cases() -> list[Case]:
    return [
        case("select each db", *[cmd("SELECT", str(i)) for i in range(16)],
             cmd("SELECT", "16"), cmd("SELECT", "15"), cmd("HSET", "h", "f", "v"),
             cmd("DBSIZE"), cmd("SELECT", "0"), cmd("DBSIZE"), cmd("EXISTS", "h"),
             cmd("SELECT", "015"), cmd("SELECT", "-0"), cmd("SELECT", "2147483647"),
             cmd("SELECT", "-2147483648")),
        case("select keeps dbs apart", cmd("HSET", "h", "f", "zero"), cmd("SELECT", "1"),
             cmd("HGET", "h", "f"), cmd("HSET", "h", "f", "one"), cmd("HGET", "h", "f"),
             cmd("KEYS", "*"), cmd("SCAN", "0"), cmd("RANDOMKEY"), cmd("SELECT", "0"),
             cmd("HGET", "h", "f"), cmd("SELECT", "2"), cmd("RANDOMKEY"), cmd("KEYS", "*"),
             cmd("EXISTS", "h"), cmd("TYPE", "h")),
        case("reset returns to db 0", cmd("SELECT", "3"), cmd("HSET", "h", "f", "v"),
             cmd("RESET"), cmd("EXISTS", "h"), cmd("SELECT", "3"), cmd("EXISTS", "h")),
        case("client info shows db", cmd("SELECT", "5"),
             cmd("CLIENT", "INFO", compare=_db_field), cmd("SELECT", "0"),
             cmd("CLIENT", "INFO", compare=_db_field)),
    ]


def _db_field(redis: Reply, arbiter: Reply) -> bool:
    pattern = re.compile(rb" db=([0-9]+) ")
    return (isinstance(redis.value, bytes) and isinstance(arbiter.value, bytes)
            and pattern.search(redis.value).group(1) == pattern.search(arbiter.value).group(1))


def _move_cases() -> list[Case]:
    cases = [
        case("move", cmd("HSET", "h", "f", "v", "g", "w"), cmd("MOVE", "h", "1"),
             cmd("EXISTS", "h"), cmd("MOVE", "h", "1"), cmd("SELECT", "1"),
             cmd("HGETALL", "h"), cmd("MOVE", "h", "1"), cmd("MOVE", "nokey", "0"),
             cmd("HSET", "other", "f", "v"), cmd("SELECT", "0"),
             cmd("HSET", "other", "f", "zero"), cmd("MOVE", "other", "1"),
             cmd("HGET", "other", "f"), cmd("SELECT", "1"), cmd("HGET", "other", "f")),
        case("move keeps ttl", cmd("HSET", "h", "f", "v"), cmd("EXPIRE", "h", "1000"),
             cmd("HSET", "p", "f", "v"), cmd("MOVE", "h", "2"), cmd("MOVE", "p", "2"),
             cmd("SELECT", "2"), cmd("TTL", "h"), cmd("TTL", "p"), cmd("DBSIZE"),
             cmd("SELECT", "0"), cmd("DBSIZE"), cmd("TTL", "h")),
        case("move arity", cmd("MOVE"), cmd("MOVE", "h"), cmd("MOVE", "h", "1", "2")),
        case("move same db", cmd("MOVE", "nokey", "0"), cmd("HSET", "h", "f", "v"),
             cmd("MOVE", "h", "0"), cmd("SELECT", "4"), cmd("MOVE", "h", "4")),
    ]
    for index in INDEX_ERRORS:
        cases.append(case(f"move bad index {index!r}", cmd("HSET", "h", "f", "v"),
                          cmd("MOVE", "h", index), cmd("MOVE", "nokey", index)))
    return cases


def _swapdb_cases() -> list[Case]:
    cases = [
        case("swapdb", cmd("HSET", "a", "f", "zero"), cmd("SELECT", "1"),
             cmd("HSET", "b", "f", "one"), cmd("SWAPDB", "0", "1"), cmd("KEYS", "*"),
             cmd("HGET", "a", "f"), cmd("SELECT", "0"), cmd("KEYS", "*"),
             cmd("HGET", "b", "f"), cmd("SWAPDB", "1", "1"), cmd("SWAPDB", "0", "0"),
             cmd("DBSIZE"), cmd("SWAPDB", "0", "15"), cmd("DBSIZE"), cmd("SELECT", "15"),
             cmd("DBSIZE"), cmd("HGET", "b", "f")),
        case("swapdb with ttl", cmd("HSET", "a", "f", "v"), cmd("EXPIRE", "a", "100"),
             cmd("SWAPDB", "0", "3"), cmd("TTL", "a"), cmd("SELECT", "3"), cmd("TTL", "a"),
             cmd("INFO", "keyspace", compare=info_keyspace_lines)),
        case("swapdb arity", cmd("SWAPDB"), cmd("SWAPDB", "0"), cmd("SWAPDB", "0", "1", "2")),
    ]
    for index in INDEX_ERRORS:
        cases.append(case(f"swapdb bad index {index!r}", cmd("SWAPDB", index, "0"),
                          cmd("SWAPDB", "0", index), cmd("SWAPDB", index, index),
                          cmd("SWAPDB", "x", index), cmd("SWAPDB", index, "x")))
    return cases


def _copy_cases() -> list[Case]:
    cases = [
        case("copy", cmd("HSET", "h", "f", "v", "g", "w"), cmd("COPY", "h", "h2"),
             cmd("HGETALL", "h2"), cmd("COPY", "h", "h2"), cmd("HSET", "h", "f", "changed"),
             cmd("COPY", "h", "h2", "REPLACE"), cmd("HGETALL", "h2"),
             cmd("COPY", "nokey", "h3"), cmd("COPY", "nokey", "h2", "REPLACE"),
             cmd("EXISTS", "h3"), cmd("HGETALL", "h2")),
        case("copy to db", cmd("HSET", "h", "f", "v"), cmd("EXPIRE", "h", "500"),
             cmd("COPY", "h", "h", "DB", "1"), cmd("COPY", "h", "h", "DB", "1"),
             cmd("COPY", "h", "x", "db", "1", "replace"), cmd("SELECT", "1"),
             cmd("KEYS", "*", compare=cmp.unordered), cmd("TTL", "h"), cmd("TTL", "x"),
             cmd("HGETALL", "x"), cmd("COPY", "h", "h", "DB", "0"), cmd("SELECT", "0"),
             cmd("DBSIZE"), cmd("COPY", "h", "h", "REPLACE", "DB", "0"),
             cmd("COPY", "h", "h", "DB", "1", "DB", "0"),
             cmd("COPY", "h", "h", "DB", "0", "DB", "2")),
        case("copy large hash", pipeline(*[("HSET", "big", f"f{i}", f"v{i}")
                                           for i in range(600)]),
             cmd("COPY", "big", "copy"), cmd("HLEN", "copy"),
             cmd("OBJECT", "ENCODING", "copy"), cmd("HGET", "copy", "f599"),
             cmd("HGETALL", "copy", compare=cmp.unordered_pairs)),
        case("copy arity", cmd("COPY"), cmd("COPY", "a")),
    ]
    bad_options = [("BOGUS",), ("DB",), ("DB", "1", "BOGUS"), ("REPLACE", "x"),
                   ("DB", "x"), ("DB", "16"), ("DB", "-1"), ("DB", "99999999999"),
                   ("DB", "x", "BOGUS"), ("BOGUS", "DB", "x"), ("DB", "16", "BOGUS"),
                   ("REPLACE", "DB"), ("db",)]
    for options in bad_options:
        cases.append(case(f"copy options {' '.join(options)!r}", cmd("HSET", "h", "f", "v"),
                          cmd("COPY", "h", "h2", *options), cmd("COPY", "h", "h", *options),
                          cmd("COPY", "nokey", "h", *options), cmd("EXISTS", "h2")))
    return cases


def _flush_cases() -> list[Case]:
    return [
        case("flushdb only the selected db", cmd("HSET", "a", "f", "v"), cmd("SELECT", "1"),
             cmd("HSET", "b", "f", "v"), cmd("HSET", "c", "f", "v"), cmd("FLUSHDB"),
             cmd("DBSIZE"), cmd("SELECT", "0"), cmd("DBSIZE"), cmd("EXISTS", "a"),
             cmd("FLUSHDB", "ASYNC"), cmd("DBSIZE")),
        case("flushall every db", cmd("HSET", "a", "f", "v"), cmd("SELECT", "7"),
             cmd("HSET", "b", "f", "v"), cmd("SELECT", "0"), cmd("FLUSHALL", "SYNC"),
             cmd("DBSIZE"), cmd("SELECT", "7"), cmd("DBSIZE")),
        case("dbsize per db", *[step for i in range(4) for step in (
            cmd("SELECT", str(i)), pipeline(*[("HSET", f"k{j}", "f", "v")
                                              for j in range(i + 1)]))],
             *[step for i in range(5) for step in (cmd("SELECT", str(i)), cmd("DBSIZE"))]),
        case("info keyspace lines", cmd("INFO", "keyspace", compare=info_keyspace_lines),
             cmd("HSET", "a", "f", "v"), cmd("SELECT", "2"), cmd("HSET", "b", "f", "v"),
             cmd("HSET", "c", "f", "v"), cmd("EXPIRE", "c", "1000"), cmd("SELECT", "12"),
             cmd("HSET", "d", "f", "v"),
             cmd("INFO", "keyspace", compare=info_keyspace_lines), cmd("FLUSHDB"),
             cmd("INFO", "keyspace", compare=info_keyspace_lines)),
    ]


def _watch_cases() -> list[Case]:
    return [
        case("watch then move", cmd("HSET", "h", "f", "v"), cmd("WATCH", "h"),
             cmd("MOVE", "h", "1"), cmd("MULTI"), cmd("HSET", "x", "f", "v"), cmd("EXEC"),
             cmd("SELECT", "1"), cmd("WATCH", "h"), cmd("SELECT", "0"),
             cmd("HSET", "h", "f", "v"), cmd("MOVE", "h", "2"), cmd("MULTI"),
             cmd("PING"), cmd("EXEC")),
        case("watch target of move", cmd("SELECT", "1"), cmd("WATCH", "h"),
             cmd("SELECT", "0"), cmd("HSET", "h", "f", "v"), cmd("MOVE", "h", "1"),
             cmd("MULTI"), cmd("PING"), cmd("EXEC")),
        case("watch then swapdb", cmd("HSET", "h", "f", "v"), cmd("WATCH", "h"),
             cmd("SWAPDB", "0", "1"), cmd("MULTI"), cmd("PING"), cmd("EXEC"),
             cmd("WATCH", "nokey"), cmd("SWAPDB", "0", "1"), cmd("MULTI"), cmd("PING"),
             cmd("EXEC"), cmd("SELECT", "2"), cmd("HSET", "h", "f", "v"),
             cmd("SELECT", "3"), cmd("WATCH", "h"), cmd("SWAPDB", "2", "3"), cmd("MULTI"),
             cmd("PING"), cmd("EXEC"), cmd("WATCH", "h"), cmd("SWAPDB", "4", "5"),
             cmd("MULTI"), cmd("PING"), cmd("EXEC")),
        case("watch in db 1, write in db 0", cmd("SELECT", "1"), cmd("WATCH", "h"),
             cmd("SELECT", "0"), cmd("HSET", "h", "f", "v"), cmd("SELECT", "1"),
             cmd("MULTI"), cmd("HSET", "h", "f", "one"), cmd("EXEC"), cmd("HGET", "h", "f"),
             cmd("WATCH", "h"), cmd("HSET", "h", "f", "again"), cmd("MULTI"), cmd("PING"),
             cmd("EXEC")),
        case("watch in both dbs", cmd("WATCH", "h"), cmd("SELECT", "1"), cmd("WATCH", "h"),
             cmd("SELECT", "0"), cmd("HSET", "other", "f", "v"), cmd("MULTI"),
             cmd("PING"), cmd("EXEC"), cmd("WATCH", "h"), cmd("SELECT", "1"),
             cmd("WATCH", "h"), cmd("HSET", "h", "f", "v"), cmd("MULTI"), cmd("PING"),
             cmd("EXEC")),
        case("watch then copy into db", cmd("SELECT", "1"), cmd("WATCH", "h"),
             cmd("SELECT", "0"), cmd("HSET", "h", "f", "v"), cmd("COPY", "h", "h", "DB", "1"),
             cmd("MULTI"), cmd("PING"), cmd("EXEC")),
        case("watch then flushall", cmd("SELECT", "1"), cmd("HSET", "h", "f", "v"),
             cmd("WATCH", "h"), cmd("SELECT", "0"), cmd("FLUSHALL"), cmd("MULTI"),
             cmd("PING"), cmd("EXEC")),
        case("select inside multi", cmd("HSET", "h", "f", "zero"), cmd("MULTI"),
             cmd("SELECT", "1"), cmd("HSET", "h", "f", "one"), cmd("HGET", "h", "f"),
             cmd("SELECT", "16"), cmd("DBSIZE"), cmd("EXEC"), cmd("HGET", "h", "f"),
             cmd("DBSIZE"), cmd("SELECT", "0"), cmd("HGET", "h", "f"), cmd("MULTI"),
             cmd("SELECT", "x"), cmd("EXEC"),
             cmd("CLIENT", "INFO", compare=_db_field)),
        case("select inside discarded multi", cmd("MULTI"), cmd("SELECT", "1"),
             cmd("DISCARD"), cmd("CLIENT", "INFO", compare=_db_field)),
        case("move inside multi", cmd("HSET", "h", "f", "v"), cmd("MULTI"),
             cmd("MOVE", "h", "1"), cmd("MOVE", "h", "0"), cmd("SWAPDB", "0", "1"),
             cmd("COPY", "h", "h", "DB", "x"), cmd("EXISTS", "h"), cmd("EXEC"),
             cmd("DBSIZE")),
    ]


CASES = [*_select_cases(), *_move_cases(), *_swapdb_cases(), *_copy_cases(),
         *_flush_cases(), *_watch_cases()]
