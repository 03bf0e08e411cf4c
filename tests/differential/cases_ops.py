"""Operations commands: SLOWLOG, CLIENT KILL/PAUSE/UNPAUSE/LIST TYPE, LATENCY, and the
counters INFO reports (commandstats, errorstats, keyspace hits and misses, error
replies). Replies that vary by nature (ids, times, durations, socket paths) are compared
by the comparators below, which say what is still compared exactly."""

from __future__ import annotations

import re

from . import compare as cmp
from .harness import Case, case, cmd
from .resp import Reply

# -- comparators ------------------------------------------------------------------------


def _slowlog_entries(reply: Reply) -> list[tuple] | None:
    """SLOWLOG GET entries without what varies: arguments and client name exactly; the
    id, Unix time and duration as their types; the address as `<path>:0`."""
    if reply.kind != "*":
        return None
    entries = []
    for entry in reply.children:
        entry_id, unix_time, micros, args, peer, name = entry.children
        entries.append((entry.kind, len(entry.children), entry_id.kind, unix_time.kind,
                        micros.kind, args.raw, peer.kind, peer.value.endswith(b".sock:0"),
                        name.raw))
    return entries


def slowlog_entries(redis: Reply, arbiter: Reply) -> bool:
    expected, actual = _slowlog_entries(redis), _slowlog_entries(arbiter)
    if expected is None or actual is None:
        return cmp.exact(redis, arbiter)
    ids = [int(entry.children[0].value) for entry in arbiter.children]
    return expected == actual and ids == sorted(ids, reverse=True) and bool(expected)


def _info_lines(reply: Reply) -> list[str]:
    return [line for line in reply.text().split("\r\n") if line]


_USEC = re.compile(r",usec=[0-9]+,usec_per_call=[0-9]+\.[0-9]{2},")


def commandstats(redis: Reply, arbiter: Reply) -> bool:
    """INFO commandstats: the same commands with the same calls, rejected and failed
    counts (any order: Redis walks a hash table); usec and usec_per_call are timings
    and are only checked for their form."""
    def rows(reply: Reply) -> set[str]:
        lines = _info_lines(reply)
        assert all(_USEC.search(line) for line in lines[1:]), lines
        return {_USEC.sub(",usec=*,", line) for line in lines}
    return redis.kind == arbiter.kind and rows(redis) == rows(arbiter)


def info_fields(*names: str):
    """Only the named INFO fields, exactly."""
    def compare(redis: Reply, arbiter: Reply) -> bool:
        def fields(reply: Reply) -> dict[str, str]:
            found = dict(line.split(":", 1) for line in _info_lines(reply) if ":" in line)
            return {name: found.get(name, "<missing>") for name in names}
        return redis.kind == arbiter.kind and fields(redis) == fields(arbiter)
    return compare


def info_sections(redis: Reply, arbiter: Reply) -> bool:
    """The section headers INFO printed, in order."""
    def headers(reply: Reply) -> list[str]:
        return [line for line in _info_lines(reply) if line.startswith("# ")]
    return redis.kind == arbiter.kind and headers(redis) == headers(arbiter)


_LATENCY_LINE = re.compile(
    r"latency_percentiles_usec_([^:]+):p50=[0-9]+\.[0-9]{3},p99=[0-9]+\.[0-9]{3},"
    r"p99\.9=[0-9]+\.[0-9]{3}\Z")


def latencystats(redis: Reply, arbiter: Reply) -> bool:
    """INFO latencystats: the same commands (any order), each line in Redis' form."""
    def names(reply: Reply) -> set[str]:
        lines = _info_lines(reply)
        assert lines[0] == "# Latencystats"
        matches = [_LATENCY_LINE.match(line) for line in lines[1:]]
        assert all(matches), lines
        return {match.group(1) for match in matches if match}
    return redis.kind == arbiter.kind and names(redis) == names(arbiter) != set()


# -- cases ------------------------------------------------------------------------------

LONG_ARG = "x" * 200
SLOW_ALL = cmd("CONFIG", "SET", "slowlog-log-slower-than", "0")
SLOW_DEFAULT = cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000")


def _slowlog_cases() -> list[Case]:
    return [
        case("slowlog errors", cmd("SLOWLOG"), cmd("SLOWLOG", "GET", "x"),
             cmd("SLOWLOG", "GET", "-2"), cmd("SLOWLOG", "GET", "1", "2"),
             cmd("slowlog", "get", "1", "2", "3"), cmd("SLOWLOG", "LEN", "x"),
             cmd("SLOWLOG", "RESET", "x"), cmd("SLOWLOG", "FOO"),
             cmd("SLOWLOG", "HELP", "x"), cmd("SLOWLOG", "GET", "99999999999999999999"),
             cmd("SLOWLOG", "GET", "1.5"), cmd("SLOWLOG", "GET", ""),
             cmd("SLOWLOG", "GET", "0"), cmd("SLOWLOG", "help"), cmd("SLOWLOG", "HELP")),
        # Every command is logged (threshold 0): arguments are cut after 32 (the last
        # one counting the rest) and after 128 bytes, passwords are redacted, the client
        # name is kept, SLOWLOG GET is not in its own reply.
        case("slowlog entries", SLOW_ALL, cmd("SLOWLOG", "RESET"),
             cmd("CLIENT", "SETNAME", "slowprobe"), cmd("HSET", "k", "f", "v"),
             cmd("HGET", "k", LONG_ARG), cmd("HMGET", "k", *[f"f{i}" for i in range(40)]),
             cmd("HMGET", "k", *[f"f{i}" for i in range(31)]),
             cmd("HMGET", "k", *[f"f{i}" for i in range(30)]),
             cmd("ECHO", b"\x00\xff" * 100), cmd("AUTH", "user", "secret"),
             cmd("AUTH", "secret"), cmd("AUTH", "a", "b", "c"),
             cmd("CONFIG", "SET", "requirepass", ""), cmd("NOSUCH", "x"),
             cmd("HSET", "k"), cmd("MULTI"), cmd("HGET", "k", "f"), cmd("EXEC"),
             cmd("SLOWLOG", "LEN"), cmd("SLOWLOG", "GET", compare=slowlog_entries),
             cmd("SLOWLOG", "GET", "-1", compare=slowlog_entries),
             cmd("SLOWLOG", "GET", "3", compare=slowlog_entries),
             SLOW_DEFAULT, cmd("SLOWLOG", "RESET"), cmd("SLOWLOG", "GET")),
        case("slowlog max len", SLOW_ALL, cmd("CONFIG", "SET", "slowlog-max-len", "3"),
             cmd("SLOWLOG", "RESET"), *[cmd("ECHO", str(i)) for i in range(6)],
             cmd("SLOWLOG", "LEN"), cmd("SLOWLOG", "GET", "-1", compare=slowlog_entries),
             cmd("CONFIG", "SET", "slowlog-max-len", "1"), cmd("SLOWLOG", "LEN"),
             cmd("CONFIG", "SET", "slowlog-max-len", "128"), SLOW_DEFAULT,
             cmd("SLOWLOG", "RESET")),
        case("slowlog settings", cmd("CONFIG", "GET", "slowlog-*", compare=cmp.unordered_pairs),
             cmd("CONFIG", "SET", "slowlog-max-len", "-1"),
             cmd("CONFIG", "SET", "slowlog-max-len", "x"),
             cmd("CONFIG", "SET", "slowlog-log-slower-than", "-2"),
             cmd("CONFIG", "SET", "slowlog-log-slower-than", "1.5"),
             cmd("CONFIG", "SET", "slowlog-log-slower-than", "-1"),
             cmd("CONFIG", "GET", "slowlog-log-slower-than"), SLOW_DEFAULT,
             cmd("CONFIG", "GET", "latency-tracking"),
             cmd("CONFIG", "SET", "latency-tracking", "maybe")),
    ]


def _client_cases() -> list[Case]:
    return [
        case("client kill errors", cmd("CLIENT", "KILL"), cmd("CLIENT", "KILL", "1.2.3.4:5"),
             cmd("CLIENT", "KILL", "ID"), cmd("CLIENT", "KILL", "ID", "0"),
             cmd("CLIENT", "KILL", "ID", "x"), cmd("CLIENT", "KILL", "ID", "-1"),
             cmd("CLIENT", "KILL", "ID", "99999999"),
             cmd("CLIENT", "KILL", "TYPE", "foo"), cmd("CLIENT", "KILL", "TYPE", "master"),
             cmd("CLIENT", "KILL", "TYPE", "replica"), cmd("CLIENT", "KILL", "TYPE", "SLAVE"),
             cmd("CLIENT", "KILL", "TYPE", "pubsub"), cmd("CLIENT", "KILL", "USER", "bob"),
             cmd("CLIENT", "KILL", "USER", "default", "SKIPME", "maybe"),
             cmd("CLIENT", "KILL", "FOO", "bar"), cmd("CLIENT", "KILL", "ID", "1", "ID"),
             cmd("CLIENT", "KILL", "ADDR", "x", "LADDR", "y"),
             cmd("CLIENT", "KILL", "SKIPME", "yes", "ID", "abc"),
             cmd("CLIENT", "KILL", "TYPE", "foo", "ID", "x"),
             cmd("CLIENT", "KILL", "ID", "x", "TYPE", "foo"),
             cmd("CLIENT", "KILL", "USER", "default", "ID", "99999999"),
             cmd("CLIENT", "KILL", "addr", "1.2.3.4:5", "skipme", "NO"),
             cmd("CLIENT", "KILL", "ID", "99999999999999999999")),
        case("client pause errors", cmd("CLIENT", "PAUSE", "x"), cmd("CLIENT", "PAUSE", "-1"),
             cmd("CLIENT", "PAUSE", "10", "FOO"), cmd("CLIENT", "PAUSE", "x", "FOO"),
             cmd("CLIENT", "PAUSE", "1.5"), cmd("CLIENT", "PAUSE"),
             cmd("CLIENT", "PAUSE", "1", "ALL", "x"), cmd("CLIENT", "UNPAUSE", "x"),
             cmd("CLIENT", "PAUSE", "99999999999999999999"),
             cmd("CLIENT", "PAUSE", "0"), cmd("CLIENT", "PAUSE", "0", "write"),
             cmd("CLIENT", "UNPAUSE"), cmd("PING")),
        case("client list types", cmd("CLIENT", "LIST", "TYPE", "master"),
             cmd("CLIENT", "LIST", "TYPE", "replica"), cmd("CLIENT", "LIST", "TYPE", "slave"),
             cmd("CLIENT", "LIST", "TYPE", "PUBSUB"), cmd("CLIENT", "LIST", "TYPE", "foo"),
             cmd("CLIENT", "LIST", "TYPE", "normal", "x"),
             cmd("CLIENT", "LIST", "ID", "99999998", "99999999"),
             cmd("CLIENT", "LIST", "ID", "x", "99999999"), cmd("CLIENT", "LIST", "ID")),
        case("client no-evict", cmd("CLIENT", "NO-EVICT", "ON"), cmd("CLIENT", "NO-EVICT", "off"),
             cmd("CLIENT", "NO-EVICT", "x"), cmd("CLIENT", "NO-EVICT")),
    ]


def _latency_cases() -> list[Case]:
    return [
        case("latency", cmd("LATENCY", "LATEST"), cmd("LATENCY", "HISTORY", "command"),
             cmd("LATENCY", "RESET"), cmd("LATENCY", "RESET", "command", "fork"),
             cmd("LATENCY"), cmd("LATENCY", "LATEST", "x"), cmd("LATENCY", "HISTORY"),
             cmd("LATENCY", "NOSUCH")),
    ]


# Commands whose key lookups Redis counts (read commands) and does not (writes, scans),
# errors of every origin (a command's own, arity and unknown-command rejections, inside
# and around MULTI/EXEC), each counted in commandstats, errorstats and INFO stats.
_STATS_SCRIPT = [
    cmd("HSET", "k", "f", "v"), cmd("HGET", "k", "f"), cmd("HGET", "nokey", "f"),
    cmd("EXISTS", "k", "nokey", "nokey2"), cmd("TYPE", "k"), cmd("TYPE", "nokey"),
    cmd("TTL", "nokey"), cmd("PTTL", "k"), cmd("HGETALL", "k"), cmd("HLEN", "nokey"),
    cmd("HSCAN", "k", "0"), cmd("HSTRLEN", "k", "f"), cmd("HEXISTS", "nokey", "f"),
    cmd("HMGET", "k", "a", "b"), cmd("HKEYS", "k"), cmd("HVALS", "nokey"),
    cmd("HRANDFIELD", "nokey"), cmd("EXPIRETIME", "k"),
    cmd("HINCRBY", "k", "f", "1"), cmd("HINCRBY", "k", "n", "x"), cmd("HSETNX", "k", "g", "w"),
    cmd("HDEL", "nokey", "f"), cmd("DEL", "nokey"), cmd("RENAME", "nokey", "x"),
    cmd("HSET", "k"), cmd("NOSUCH"), cmd("CLIENT", "NOSUCH"), cmd("CLIENT"),
    cmd("HSET", "k", "f"), cmd("SLOWLOG", "GET", "x"),
    cmd("MULTI"), cmd("HSET", "k"), cmd("HGET", "k", "f"), cmd("EXEC"),
    cmd("MULTI"), cmd("HINCRBY", "k", "f", "1"), cmd("HGET", "k", "f"), cmd("HLEN", "k"),
    cmd("EXEC"), cmd("EXEC"), cmd("DISCARD"), cmd("KEYS", "*"), cmd("SCAN", "0"),
    cmd("DBSIZE"), cmd("RANDOMKEY"), cmd("WATCH", "k", "nokey"), cmd("UNWATCH"),
    cmd("SELECT", "0"), cmd("SELECT", "x"), cmd("MEMORY", "USAGE", "nokey", "SAMPLES", "x"),
    cmd("MEMORY", "USAGE", "k", compare=cmp.kind), cmd("MEMORY", "USAGE", "nokey"),
]


def _info_cases() -> list[Case]:
    stat_fields = ("keyspace_hits", "keyspace_misses", "total_error_replies",
                   "unexpected_error_replies")
    return [
        case("info counters", cmd("CONFIG", "RESETSTAT"), *_STATS_SCRIPT,
             cmd("INFO", "commandstats", compare=commandstats),
             cmd("INFO", "errorstats"),
             cmd("INFO", "stats", compare=info_fields(*stat_fields)),
             cmd("CONFIG", "RESETSTAT"), cmd("INFO", "errorstats"),
             cmd("INFO", "commandstats", compare=commandstats),
             cmd("INFO", "stats", compare=info_fields(*stat_fields))),
        case("info latencystats", cmd("CONFIG", "RESETSTAT"), cmd("HSET", "k", "f", "v"),
             cmd("HGET", "k", "f"), cmd("CLIENT", "ID", compare=cmp.integer_kind),
             cmd("HSET", "k"), cmd("INFO", "latencystats", compare=latencystats),
             cmd("INFO", "LATENCYSTATS", compare=latencystats)),
        case("info sections", *[cmd("INFO", *names, compare=info_sections) for names in (
            (), ("default",), ("all",), ("everything",), ("commandstats",),
            ("errorstats", "latencystats"), ("modules",), ("module_list",), ("nosuch",),
            ("server", "commandstats"), ("all", "nosuch"), ("default", "commandstats"),
            ("Keyspace", "CPU"), ("everything", "default"), ("stats", "stats"))]),
    ]


def subcommands_any_order(redis: Reply, arbiter: Reply) -> bool:
    """A container's COMMAND INFO row: exact, but for the order of its subcommands'
    rows (Redis walks a hash table)."""
    def parts(reply: Reply) -> tuple:
        row = reply.children[0]
        subs = row.children[9]
        return ([child.raw for child in row.children[:9]], subs.raw.split(b"\r\n", 1)[0],
                sorted(child.raw for child in subs.children))
    return redis.kind == arbiter.kind == "*" and parts(redis) == parts(arbiter)


# This family's rows of COMMAND INFO, each exactly as Redis' (SLOWLOG's container row
# too, in any order; LATENCY's lists subcommands the arbiter leaves out).
OPS_COMMANDS = ["slowlog|get", "slowlog|len", "slowlog|reset", "slowlog|help",
                "monitor", "latency|latest", "latency|history", "latency|reset",
                "latency|help", "client|kill", "client|pause", "client|unpause",
                "client|no-evict", "client|list", "client|info"]


def _command_info_cases() -> list[Case]:
    return [case(f"command info {name}", cmd("COMMAND", "INFO", name))
            for name in OPS_COMMANDS] + [
        case("command info slowlog", cmd("COMMAND", "INFO", "slowlog",
                                         compare=subcommands_any_order))]


CASES = [*_slowlog_cases(), *_client_cases(), *_latency_cases(), *_info_cases(),
         *_command_info_cases()]
