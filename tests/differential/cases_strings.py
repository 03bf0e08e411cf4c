"""String command cases: GET ... SETRANGE, their options, arities, argument errors and
edge values, WRONGTYPE between strings and hashes, and the key commands on strings."""

from __future__ import annotations

from . import compare as cmp
from .cases_hashes import FLOAT_INCREMENTS, FLOAT_START_VALUES, INT_INCREMENTS, INT_START_VALUES
from .harness import Case, case, cmd, pipeline

ARITY = [
    ("GET",), ("GET", "k", "x"), ("SET", "k"), ("SETNX", "k"), ("SETNX", "k", "v", "x"),
    ("SETEX", "k", "10"), ("PSETEX", "k", "10"), ("GETEX",), ("GETDEL",),
    ("GETDEL", "k", "x"), ("GETSET", "k"), ("MGET",), ("MSET",), ("MSET", "k"),
    ("MSET", "a", "1", "b"), ("MSETNX", "k"), ("MSETNX", "a", "1", "b"), ("INCR",),
    ("INCR", "k", "1"), ("DECR",), ("INCRBY", "k"), ("DECRBY", "k", "1", "2"),
    ("INCRBYFLOAT", "k"), ("APPEND", "k"), ("STRLEN",), ("GETRANGE", "k", "0"),
    ("SETRANGE", "k", "0"), ("SUBSTR", "k", "0"), ("set",), ("GeT",),
]

# Every hash command redis-server 7.0 has, with arguments that would otherwise succeed.
HASH_COMMANDS = [
    ("HSET", "s", "f", "v"), ("HSETNX", "s", "f", "v"), ("HMSET", "s", "f", "v"),
    ("HGET", "s", "f"), ("HMGET", "s", "f", "g"), ("HGETALL", "s"), ("HKEYS", "s"),
    ("HVALS", "s"), ("HLEN", "s"), ("HEXISTS", "s", "f"), ("HDEL", "s", "f"),
    ("HSTRLEN", "s", "f"), ("HINCRBY", "s", "f", "1"), ("HINCRBYFLOAT", "s", "f", "1.5"),
    ("HRANDFIELD", "s"), ("HRANDFIELD", "s", "2"), ("HRANDFIELD", "s", "-2", "WITHVALUES"),
    ("HSCAN", "s", "0"),
]

STRING_COMMANDS = [
    ("GET", "h"), ("SET", "h", "v", "GET"), ("SET", "h", "v", "NX", "GET"),
    ("GETEX", "h"), ("GETEX", "h", "EX", "10"), ("GETEX", "h", "PERSIST"), ("GETDEL", "h"),
    ("GETSET", "h", "v"), ("INCR", "h"), ("DECR", "h"), ("INCRBY", "h", "2"),
    ("DECRBY", "h", "2"), ("INCRBYFLOAT", "h", "1.5"), ("INCRBYFLOAT", "h", "x"),
    ("APPEND", "h", "x"), ("STRLEN", "h"), ("GETRANGE", "h", "0", "-1"),
    ("SUBSTR", "h", "0", "-1"), ("SETRANGE", "h", "0", "x"), ("SETRANGE", "h", "0", ""),
    ("SETRANGE", "h", "-1", "x"), ("INCRBY", "h", "x"),
]

SET_OPTIONS = [
    (), ("NX",), ("XX",), ("GET",), ("NX", "GET"), ("XX", "GET"), ("EX", "100"),
    ("PX", "100000"), ("EXAT", "4102444800"), ("PXAT", "4102444800000"), ("KEEPTTL",),
    ("KEEPTTL", "GET"), ("ex", "100", "get", "xx"), ("EX", "10", "EX", "20"),
    ("NX", "NX"), ("KEEPTTL", "KEEPTTL"), ("nx", "KeepTtl"),
    # refused
    ("NX", "XX"), ("XX", "NX"), ("EX", "10", "PX", "10"), ("EX", "10", "KEEPTTL"),
    ("KEEPTTL", "EX", "10"), ("PXAT", "1", "EXAT", "1"), ("EX",), ("PX",), ("EX", "abc"),
    ("EX", "0"), ("EX", "-1"), ("PX", "0"), ("EXAT", "0"), ("PXAT", "-5"),
    ("EX", "9223372036854775"), ("PX", "9223372036854775807"),
    ("EXAT", "9223372036854775"), ("EXAT", "9223372036854776"),
    ("EX", "99999999999999999999"), ("EX", "1.5"), ("PERSIST",), ("BOGUS",), ("GET", "x"),
    ("EX", "10", "BOGUS"), ("NXX",), ("N",), (b"nx\x00junk",), ("",),
]

GETEX_OPTIONS = [
    (), ("PERSIST",), ("EX", "100"), ("PX", "100000"), ("EXAT", "4102444800"),
    ("PXAT", "4102444800000"), ("EXAT", "1"), ("PXAT", "1"), ("persist", "persist"),
    ("EX", "10", "EX", "20"),
    # refused
    ("PERSIST", "EX", "1"), ("EX", "1", "PERSIST"), ("KEEPTTL",), ("NX",), ("GET",),
    ("EX",), ("EX", "0"), ("EX", "-1"), ("EX", "x"), ("EXAT", "9223372036854776"),
    ("EX", "9223372036854776"), ("PX", "9223372036854775807"), ("BOGUS",),
]

RANGES = [
    ("0", "-1"), ("0", "0"), ("1", "3"), ("-3", "-1"), ("-1", "-5"), ("5", "3"),
    ("-100", "100"), ("100", "200"), ("0", "9223372036854775807"),
    ("-9223372036854775808", "-1"), ("1", "-9223372036854775808"), ("3", "2"),
    ("-1", "-1"), ("9", "9"), ("10", "10"), ("x", "1"), ("0", "1.5"),
    ("9223372036854775808", "1"), ("", "0"),
]

ENCODED_VALUES = [
    "0", "1", "9999", "10000", "-1", "-9999", "12", "01", "+1", "-0", " 1", "1 ", "",
    "9223372036854775807", "-9223372036854775808", "9223372036854775808",
    "12345678901234567890", "1.5", "abc", "x" * 44, "x" * 45, "x" * 100,
    "1" * 20, "1" * 21, "1e5",
]

INCRBYFLOAT_CASES = [
    ("10.5", "0.1"), ("5.0e3", "2.0e2"), ("0", "1e-17"), ("0", "1e-18"), ("1e308", "1e308"),
    ("0", "1e308"), ("10", "-10"), ("3", "0"), ("0.1", "0.2"), ("1", "1e400"),
    ("-0", "0"), ("1e4932", "1e4932"), ("inf", "1"), ("-inf", "1"), ("1", "inf"),
    ("1", "-inf"), ("nan", "1"), ("1", "nan"), ("abc", "1"), ("1", "abc"), ("", "1"),
    ("1", ""), ("9223372036854775807", "1"), ("1", " 1"), ("0x10", "1"), ("1", "0x1p3"),
]


def _arity_cases() -> list[Case]:
    return [case(f"arity {' '.join(argv)}", cmd(*argv)) for argv in ARITY]


def _set_cases() -> list[Case]:
    cases = []
    for options in SET_OPTIONS:
        label = " ".join(o if isinstance(o, str) else repr(o) for o in options)
        cases.append(case(
            f"set {label}", cmd("SET", "fresh", "v", *options), cmd("GET", "fresh"),
            cmd("SET", "k", "old", "EX", "1000"), cmd("SET", "k", "new", *options),
            cmd("GET", "k"), cmd("TTL", "k"), cmd("EXPIRETIME", "k", compare=_deadline),
            cmd("HSET", "h", "f", "v"), cmd("SET", "h", "s", *options), cmd("TYPE", "h")))
    cases += [
        case("set past pxat is stored until read", cmd("SET", "k", "v", "PXAT", "1"),
             cmd("DBSIZE"), cmd("GET", "k"), cmd("DBSIZE"),
             cmd("SET", "k", "v", "EXAT", "1", "GET"), cmd("SET", "k", "v", "EXAT", "1", "GET")),
        case("set keepttl keeps the ttl", cmd("SET", "k", "v", "PX", "100000"),
             cmd("SET", "k", "w", "KEEPTTL"), cmd("PTTL", "k", compare=_ttl_close),
             cmd("SET", "k", "x"), cmd("PTTL", "k"), cmd("SET", "k", "y", "KEEPTTL"),
             cmd("PTTL", "k")),
        case("set over a hash with ttl keepttl", cmd("HSET", "h", "f", "v"),
             cmd("EXPIRE", "h", "100"), cmd("SET", "h", "s", "KEEPTTL"), cmd("TTL", "h"),
             cmd("GET", "h"), cmd("TYPE", "h"), cmd("OBJECT", "ENCODING", "h")),
        case("set nx get", cmd("SET", "k", "v", "NX", "GET"), cmd("SET", "k", "w", "NX", "GET"),
             cmd("GET", "k"), cmd("SET", "k", "w", "XX", "GET"), cmd("GET", "k"),
             cmd("SET", "n", "v", "XX", "GET"), cmd("EXISTS", "n")),
        case("setnx", cmd("SETNX", "k", "v"), cmd("SETNX", "k", "w"), cmd("GET", "k"),
             cmd("HSET", "h", "f", "v"), cmd("SETNX", "h", "w"), cmd("TYPE", "h")),
        case("setex psetex", cmd("SETEX", "k", "100", "v"), cmd("TTL", "k"), cmd("GET", "k"),
             cmd("PSETEX", "p", "100000", "v"), cmd("TTL", "p"), cmd("SETEX", "k", "0", "v"),
             cmd("SETEX", "k", "-1", "v"), cmd("SETEX", "k", "x", "v"),
             cmd("PSETEX", "k", "0", "v"), cmd("SETEX", "k", "9223372036854775", "v"),
             cmd("PSETEX", "k", "9223372036854775807", "v"), cmd("HSET", "h", "f", "v"),
             cmd("SETEX", "h", "100", "s"), cmd("TYPE", "h"), cmd("TTL", "h")),
        case("set binary and empty values", cmd("SET", "k", b"\x00\xff\r\n"),
             cmd("GET", "k"), cmd("SET", "e", ""), cmd("GET", "e"), cmd("STRLEN", "e"),
             cmd("EXISTS", "e"), cmd("SET", "", "empty key"), cmd("GET", "")),
    ]
    return cases


def _deadline(redis, arbiter) -> bool:
    """EXPIRETIME of a key set with a relative TTL: same kind, within a second."""
    if redis.kind != ":" or arbiter.kind != ":":
        return cmp.exact(redis, arbiter)
    return abs(int(redis.value) - int(arbiter.value)) <= 1


def _ttl_close(redis, arbiter) -> bool:
    """PTTL just after a relative TTL: both positive, within a second."""
    if redis.kind != ":" or arbiter.kind != ":":
        return cmp.exact(redis, arbiter)
    return abs(int(redis.value) - int(arbiter.value)) <= 1000


def _getex_cases() -> list[Case]:
    cases = [case(f"getex {' '.join(options)}", cmd("SET", "k", "v", "EX", "1000"),
                  cmd("GETEX", "k", *options), cmd("TTL", "k"), cmd("EXISTS", "k"),
                  cmd("GETEX", "nokey", *options), cmd("HSET", "h", "f", "v"),
                  cmd("GETEX", "h", *options))
             for options in GETEX_OPTIONS]
    cases.append(case("getdel getset", cmd("SET", "k", "v", "EX", "100"), cmd("GETSET", "k", "w"),
                      cmd("TTL", "k"), cmd("GETSET", "n", "x"), cmd("GET", "n"),
                      cmd("GETDEL", "k"), cmd("GETDEL", "k"), cmd("EXISTS", "k"),
                      cmd("HSET", "h", "f", "v"), cmd("GETDEL", "h"), cmd("GETSET", "h", "v"),
                      cmd("TYPE", "h")))
    return cases


def _multi_key_cases() -> list[Case]:
    return [
        case("mset mget", cmd("MSET", "a", "1", "b", "2", "a", "3"), cmd("MGET", "a", "b", "c"),
             cmd("HSET", "h", "f", "v"), cmd("MGET", "h", "a", "h"), cmd("MSET", "h", "s"),
             cmd("TYPE", "h"), cmd("SET", "t", "v", "EX", "100"), cmd("MSET", "t", "w"),
             cmd("TTL", "t"), cmd("MGET", "nokey")),
        case("msetnx", cmd("MSETNX", "a", "1", "b", "2"), cmd("MSETNX", "b", "3", "c", "4"),
             cmd("MGET", "a", "b", "c"), cmd("MSETNX", "c", "1", "c", "2"), cmd("GET", "c"),
             cmd("HSET", "h", "f", "v"), cmd("MSETNX", "h", "1", "d", "2"), cmd("EXISTS", "d")),
    ]


def _counter_cases() -> list[Case]:
    cases = [case(f"incrby {increment!r}", cmd("INCRBY", "k", increment), cmd("GET", "k"),
                  cmd("DECRBY", "k", increment), cmd("GET", "k"))
             for increment in INT_INCREMENTS]
    cases += [case(f"incr from {start!r}", cmd("SET", "k", start), cmd("INCR", "k"),
                   cmd("DECR", "k"), cmd("INCRBY", "k", "10"), cmd("GET", "k"),
                   cmd("OBJECT", "ENCODING", "k"))
              for start in INT_START_VALUES]
    cases += [
        case("incr overflow", cmd("SET", "k", "9223372036854775807"), cmd("INCR", "k"),
             cmd("SET", "k", "-9223372036854775808"), cmd("DECR", "k"),
             cmd("DECRBY", "k", "-9223372036854775808"), cmd("INCRBY", "k", "-1"),
             cmd("GET", "k")),
        case("incr keeps the ttl", cmd("SET", "k", "5", "EX", "100"), cmd("INCR", "k"),
             cmd("TTL", "k"), cmd("INCRBYFLOAT", "k", "0.5"), cmd("TTL", "k"),
             cmd("APPEND", "k", "0"), cmd("TTL", "k"), cmd("SETRANGE", "k", "0", "7"),
             cmd("TTL", "k"), cmd("GET", "k")),
        case("incr shared integers", cmd("SET", "k", "5"), cmd("OBJECT", "REFCOUNT", "k"),
             cmd("INCRBY", "k", "10000"), cmd("OBJECT", "REFCOUNT", "k"),
             cmd("INCR", "n"), cmd("OBJECT", "REFCOUNT", "n"), cmd("SET", "m", "-1"),
             cmd("OBJECT", "REFCOUNT", "m"), cmd("SET", "e", "abc"),
             cmd("OBJECT", "REFCOUNT", "e"), cmd("HSET", "h", "f", "1"),
             cmd("OBJECT", "REFCOUNT", "h")),
    ]
    cases += [case(f"incrbyfloat by {inc!r}", cmd("INCRBYFLOAT", "k", inc), cmd("GET", "k"),
                   cmd("INCRBYFLOAT", "k", inc), cmd("GET", "k"),
                   cmd("OBJECT", "ENCODING", "k"))
              for inc in FLOAT_INCREMENTS]
    cases += [case(f"incrbyfloat from {start!r}", cmd("SET", "k", start),
                   cmd("INCRBYFLOAT", "k", "1.5"), cmd("INCRBYFLOAT", "k", "-1e308"),
                   cmd("GET", "k"))
              for start in FLOAT_START_VALUES]
    cases += [case(f"incrbyfloat {start!r} + {inc!r}", cmd("SET", "k", start),
                   cmd("INCRBYFLOAT", "k", inc), cmd("GET", "k"), cmd("OBJECT", "ENCODING", "k"))
              for start, inc in INCRBYFLOAT_CASES]
    cases.append(case("incrbyfloat 0.1 ten times",
                      pipeline(*[("INCRBYFLOAT", "k", "0.1")] * 10)))
    return cases


def _range_cases() -> list[Case]:
    cases = [case(f"getrange {start} {end}", cmd("SET", "k", "Hello World"),
                  cmd("GETRANGE", "k", start, end), cmd("SUBSTR", "k", start, end),
                  cmd("GETRANGE", "nokey", start, end), cmd("SET", "e", ""),
                  cmd("GETRANGE", "e", start, end), cmd("SET", "i", "12345"),
                  cmd("GETRANGE", "i", start, end))
             for start, end in RANGES]
    cases += [
        case("setrange", cmd("SETRANGE", "k", "0", "Hello"), cmd("SETRANGE", "k", "6", "World"),
             cmd("GET", "k"), cmd("SETRANGE", "k", "1", "a"), cmd("GET", "k"),
             cmd("SETRANGE", "k", "3", ""), cmd("SETRANGE", "n", "3", ""), cmd("EXISTS", "n"),
             cmd("SETRANGE", "k", "-1", "x"), cmd("SETRANGE", "k", "x", "x"),
             cmd("SETRANGE", "k", "20", "!"), cmd("GET", "k"), cmd("STRLEN", "k"),
             cmd("SETRANGE", "k", "536870912", "x"), cmd("SETRANGE", "k", "536870911", "xy"),
             cmd("SETRANGE", "k", "9223372036854775807", "x"),
             cmd("SETRANGE", "z", "536870912", "x"), cmd("SETRANGE", "z", "0", ""),
             cmd("SETRANGE", "k", "99999999999999999999", "x"), cmd("STRLEN", "k")),
        case("append", cmd("APPEND", "k", "Hello"), cmd("APPEND", "k", " World"), cmd("GET", "k"),
             cmd("APPEND", "k", ""), cmd("STRLEN", "k"), cmd("APPEND", "e", ""),
             cmd("EXISTS", "e"), cmd("STRLEN", "nokey")),
    ]
    return cases


def _encoding_cases() -> list[Case]:
    cases = [case(f"object encoding of {value[:50]!r}", cmd("SET", "k", value),
                  cmd("OBJECT", "ENCODING", "k"), cmd("APPEND", "k", ""),
                  cmd("OBJECT", "ENCODING", "k"), cmd("APPEND", "a", value),
                  cmd("OBJECT", "ENCODING", "a"), cmd("SETRANGE", "r", "0", value),
                  cmd("OBJECT", "ENCODING", "r"), cmd("GETSET", "g", value),
                  cmd("OBJECT", "ENCODING", "g"), cmd("MSET", "m", value),
                  cmd("OBJECT", "ENCODING", "m"), cmd("SETRANGE", "k", "0", ""),
                  cmd("OBJECT", "ENCODING", "k"))
             for value in ENCODED_VALUES]
    cases.append(case("object on strings", cmd("SET", "k", "v"), cmd("OBJECT", "FREQ", "k"),
                      cmd("OBJECT", "IDLETIME", "k"), cmd("OBJECT", "REFCOUNT", "k"),
                      cmd("MEMORY", "USAGE", "k", compare=cmp.kind), cmd("TYPE", "k"),
                      cmd("SET", "i", "99999"), cmd("OBJECT", "REFCOUNT", "i")))
    return cases


def _wrongtype_cases() -> list[Case]:
    cases = [case(f"wrongtype {argv[0]} on a string", cmd("SET", "s", "v"), cmd(*argv),
                  cmd("GET", "s"), cmd("TYPE", "s"))
             for argv in HASH_COMMANDS]
    cases += [case(f"wrongtype {' '.join(argv)} on a hash", cmd("HSET", "h", "f", "v"),
                   cmd(*argv), cmd("HGETALL", "h"), cmd("TYPE", "h"))
              for argv in STRING_COMMANDS]
    cases.append(case("wrongtype after expiry is a miss", cmd("HSET", "h", "f", "v"),
                      cmd("PEXPIREAT", "h", "1"), cmd("GET", "h"), cmd("SET", "s", "v"),
                      cmd("PEXPIRE", "s", "0"), cmd("HGET", "s", "f")))
    return cases


def _key_cases() -> list[Case]:
    return [
        case("type and exists", cmd("SET", "s", "v"), cmd("HSET", "h", "f", "v"),
             cmd("TYPE", "s"), cmd("TYPE", "h"), cmd("TYPE", "n"), cmd("EXISTS", "s", "h", "n"),
             cmd("DEL", "s", "h", "n"), cmd("DBSIZE")),
        case("rename a string over a hash", cmd("SET", "s", "v", "EX", "100"),
             cmd("HSET", "h", "f", "v"), cmd("RENAME", "s", "h"), cmd("TYPE", "h"),
             cmd("GET", "h"), cmd("TTL", "h"), cmd("EXISTS", "s"), cmd("RENAMENX", "h", "s"),
             cmd("HSET", "t", "f", "v"), cmd("RENAMENX", "s", "t"), cmd("RENAME", "t", "s"),
             cmd("TYPE", "s"), cmd("HGETALL", "s"), cmd("RENAME", "s", "s"), cmd("DBSIZE")),
        case("expire on strings", cmd("SET", "s", "v"), cmd("EXPIRE", "s", "100"),
             cmd("TTL", "s"), cmd("EXPIRE", "s", "50", "GT"), cmd("EXPIRE", "s", "50", "LT"),
             cmd("TTL", "s"), cmd("PERSIST", "s"), cmd("TTL", "s"), cmd("PERSIST", "s"),
             cmd("PEXPIREAT", "s", "4102444800000"), cmd("PEXPIRETIME", "s"),
             cmd("EXPIRETIME", "s"), cmd("EXPIRE", "s", "-1"), cmd("EXISTS", "s"),
             cmd("TTL", "s")),
        case("unlink strings", cmd("MSET", "a", "1", "b", "2"), cmd("UNLINK", "a", "b", "c"),
             cmd("DBSIZE")),
        case("scan type", cmd("MSET", "s1", "v", "s2", "v"), cmd("HSET", "h1", "f", "v"),
             cmd("SCAN", "0", "TYPE", "string", "COUNT", "100", compare=_scan_set),
             cmd("SCAN", "0", "TYPE", "STRING", "COUNT", "100", compare=_scan_set),
             cmd("SCAN", "0", "TYPE", "hash", "COUNT", "100"),
             cmd("SCAN", "0", "TYPE", "list", "COUNT", "100"),
             cmd("SCAN", "0", "MATCH", "s*", "TYPE", "string", "COUNT", "100",
                 compare=_scan_set),
             cmd("KEYS", "*", compare=cmp.unordered)),
        case("watch a string", cmd("SET", "k", "v"), cmd("WATCH", "k"), cmd("APPEND", "k", "x"),
             cmd("MULTI"), cmd("GET", "k"), cmd("EXEC")),
        case("strings in a transaction", cmd("MULTI"), cmd("SET", "k", "1"), cmd("INCR", "k"),
             cmd("HSET", "k", "f", "v"), cmd("GET", "k"), cmd("EXEC")),
    ]


def _scan_set(redis, arbiter) -> bool:
    """One SCAN call covering everything: cursor exact, names as a set."""
    return (len(redis.children) == len(arbiter.children) == 2
            and redis.children[0].raw == arbiter.children[0].raw
            and cmp.unordered(redis.children[1], arbiter.children[1]))


CASES = [*_arity_cases(), *_set_cases(), *_getex_cases(), *_multi_key_cases(),
         *_counter_cases(), *_range_cases(), *_encoding_cases(), *_wrongtype_cases(),
         *_key_cases()]
