"""Hash command cases: HSET ... HSCAN, their arities, argument errors and edge values."""

from __future__ import annotations

from . import compare as cmp
from .harness import Case, case, cmd, pipeline

BIG = 600  # above hash-max-listpack-entries (512 here): a hash table, in hash order


def big_hash(key: str = "big", count: int = BIG) -> tuple:
    """HSET of `count` fields f0..f{count-1}, values v0.."""
    args: list[str] = []
    for i in range(count):
        args += [f"f{i}", f"v{i}"]
    return ("HSET", key, *args)


def small(key: str = "h") -> tuple:
    return ("HSET", key, "a", "1", "b", "2", "c", "3")


LONG_VALUE = "x" * 65  # above hash-max-listpack-value: a hash table as well

ARITY = [
    ("HSET", "h"), ("HSET", "h", "f"), ("HSET", "h", "f", "v", "g"), ("HSETNX", "h", "f"),
    ("HMSET", "h", "f"), ("HMSET", "h", "f", "v", "g"), ("HGET", "h"),
    ("HGET", "h", "f", "g"), ("HMGET", "h"), ("HGETALL",), ("HGETALL", "h", "x"),
    ("HKEYS",), ("HVALS", "h", "x"), ("HLEN",), ("HEXISTS", "h"), ("HDEL", "h"),
    ("HSTRLEN", "h"), ("HINCRBY", "h", "f"), ("HINCRBYFLOAT", "h", "f"),
    ("HINCRBYFLOAT", "h", "f", "1", "2"), ("HRANDFIELD",), ("HSCAN", "h"), ("hset",),
    ("HsEt", "h", "f"),
]

FLOAT_INCREMENTS = [
    "0.1", "-0.1", "1", "1.5", "1e308", "1.5e400", "-1.5e400", "1e-400", "1e5000", "inf",
    "-inf", "+inf", "Infinity", "nan", "NaN", "-0", "-0.0", "0.0", "+1.5", "1.", ".5",
    "1e3", "1E3", "1e+3", "2.5e-3", "0x10", " 1", "1 ", "", "abc", "1e", "e5", "1.2.3",
    "3.0000000000000000001", "123456789012345678901234567890",
    "0.30000000000000004", "1e17", "12345678901234567.5", "5.0e3", "-5e-17", "1e-18",
    "0x1p3", "0X.8", "-0x10", "0x", "0x1p", "1e-4950", "1e-5000", "1e4932", "1.2e4932",
    "1\x00junk", "1" * 255, "1" * 256, "\t1", "1\n", "infinityx", "-nan",
]

FLOAT_START_VALUES = [
    "10.5", "5.0e3", "3.0e3", "0", "-0", "1e308", "abc", "", "1 ", "inf", "nan",
    "9223372036854775807", "0.1", "1e-20",
]

INT_INCREMENTS = [
    "1", "-1", "0", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
    "-9223372036854775809", "1.5", "abc", "", " 1", "01", "+1", "-0", "1e3", "0x1",
]

INT_START_VALUES = [
    "5", "-5", "9223372036854775807", "-9223372036854775808", "1.5", "abc", "", " 5",
    "05", "+5", "99999999999999999999",
]


def _arity_cases() -> list[Case]:
    return [case(f"arity {' '.join(argv)}", cmd(*argv)) for argv in ARITY]


def _float_cases() -> list[Case]:
    cases = [case(f"hincrbyfloat by {inc!r}", cmd("HINCRBYFLOAT", "h", "f", inc),
                  cmd("HGET", "h", "f"), cmd("HINCRBYFLOAT", "h", "f", inc),
                  cmd("HGETALL", "h"))
             for inc in FLOAT_INCREMENTS]
    cases += [case(f"hincrbyfloat from {start!r}", cmd("HSET", "h", "f", start),
                   cmd("HINCRBYFLOAT", "h", "f", "1.5"), cmd("HINCRBYFLOAT", "h", "f", "-1e308"),
                   cmd("HGET", "h", "f"))
              for start in FLOAT_START_VALUES]
    cases.append(case("hincrbyfloat 0.1 ten times",
                      pipeline(*[("HINCRBYFLOAT", "h", "f", "0.1")] * 10)))
    cases.append(case("hincrbyfloat to overflow", cmd("HSET", "h", "f", "1e308"),
                      pipeline(*[("HINCRBYFLOAT", "h", "f", "1e308")] * 40),
                      cmd("HGET", "h", "f")))
    cases.append(case("hincrbyfloat to negative zero", cmd("HINCRBYFLOAT", "h", "f", "-0.5"),
                      cmd("HINCRBYFLOAT", "h", "f", "0.5"), cmd("HGET", "h", "f")))
    cases.append(case("hincrbyfloat cancel to tiny", cmd("HINCRBYFLOAT", "h", "f", "1e-10"),
                      cmd("HINCRBYFLOAT", "h", "f", "1e10"),
                      cmd("HINCRBYFLOAT", "h", "f", "-1e10")))
    return cases


def _int_cases() -> list[Case]:
    cases = [case(f"hincrby by {inc!r}", cmd("HINCRBY", "h", "f", inc),
                  cmd("HINCRBY", "h", "f", inc), cmd("HGETALL", "h"))
             for inc in INT_INCREMENTS]
    cases += [case(f"hincrby from {start!r}", cmd("HSET", "h", "f", start),
                   cmd("HINCRBY", "h", "f", "1"), cmd("HINCRBY", "h", "f", "-1"),
                   cmd("HGET", "h", "f"))
              for start in INT_START_VALUES]
    cases.append(case("hincrby overflow both ways",
                      cmd("HSET", "h", "max", "9223372036854775807",
                          "min", "-9223372036854775808"),
                      cmd("HINCRBY", "h", "max", "1"), cmd("HINCRBY", "h", "min", "-1"),
                      cmd("HINCRBY", "h", "max", "-9223372036854775808"),
                      cmd("HINCRBY", "h", "min", "9223372036854775807")))
    return cases


def _hrandfield_cases() -> list[Case]:
    data = small()
    members = {b"a", b"b", b"c", b"1", b"2", b"3"}
    same = cmp.members_of(members)
    cases = [case("hrandfield missing key", cmd("HRANDFIELD", "nokey"),
                  cmd("HRANDFIELD", "nokey", "3"), cmd("HRANDFIELD", "nokey", "-3"),
                  cmd("HRANDFIELD", "nokey", "3", "WITHVALUES"))]
    for count in ("0", "1", "2", "3", "5", "-1", "-5"):
        for extra in ((), ("WITHVALUES",), ("withvalues",)):
            cases.append(case(f"hrandfield {count} {' '.join(extra)}".strip(), cmd(*data),
                              cmd("HRANDFIELD", "h", count, *extra, compare=same)))
    cases.append(case("hrandfield one", cmd(*data), cmd("HRANDFIELD", "h", compare=same)))
    # A count as large as the hash returns the whole hash in its own order.
    cases.append(case("hrandfield whole", cmd(*data), cmd("HRANDFIELD", "h", "3"),
                      cmd("HRANDFIELD", "h", "10", "WITHVALUES")))
    for bad in (("x",), ("1.5",), ("x", "WITHVALUE"),
                ("-9223372036854775808", "WITHVALUE"), ("3", "WITHVALUE"), ("3", "WITHVALUES", "x"),
                ("-9223372036854775808", "WITHVALUES"), ("-4611686018427387904", "WITHVALUES"),
                ("4611686018427387904", "WITHVALUES"), ("9223372036854775807", "WITHVALUES"),
                ("-9223372036854775807", "WITHVALUES"), ("-9223372036854775808",),
                ("99999999999999999999",)):
        cases.append(case(f"hrandfield error {' '.join(bad)}", cmd(*data),
                          cmd("HRANDFIELD", "h", *bad, compare=same)))
        cases.append(case(f"hrandfield error on missing {' '.join(bad)}",
                          cmd("HRANDFIELD", "nokey", *bad)))
    # The most negative count accepted with values; on an existing hash both servers
    # would build a reply of 2**62 pairs, so only the missing key is asked.
    cases.append(case("hrandfield lowest count on missing",
                      cmd("HRANDFIELD", "nokey", "-4611686018427387903", "WITHVALUES"),
                      cmd("HRANDFIELD", "nokey", "-9223372036854775807")))
    # The largest count accepted with values: the whole hash, as any count past its size.
    cases.append(case("hrandfield highest count with values", cmd(*data),
                      cmd("HRANDFIELD", "h", "4611686018427387903", "WITHVALUES"),
                      cmd("HRANDFIELD", "h", "9223372036854775807")))
    return cases


def _hscan_cases() -> list[Case]:
    cases = [
        case("hscan missing key", cmd("HSCAN", "nokey", "0"),
             cmd("HSCAN", "nokey", "0", "MATCH", "*", "COUNT", "5")),
        case("hscan small whole", cmd(*small()), cmd("HSCAN", "h", "0"),
             cmd("HSCAN", "h", "0", "COUNT", "1"), cmd("HSCAN", "h", "0", "MATCH", "[ab]"),
             cmd("HSCAN", "h", "0", "match", "c", "count", "100"),
             cmd("HSCAN", "h", "17"), cmd("HSCAN", "h", "0", "MATCH", "a", "MATCH", "b")),
    ]
    errors = [("x",), ("-1",), ("1.5",), ("",), ("18446744073709551616",),
              ("18446744073709551615",), ("0", "COUNT"), ("0", "COUNT", "0"),
              ("0", "COUNT", "-1"), ("0", "COUNT", "x"), ("0", "MATCH"), ("0", "FOO", "1"),
              ("0", "TYPE", "hash"), ("0", "COUNT", "x", "MATCH", "y"),
              ("x", "COUNT", "x"), ("0", "MATCH", "a", "COUNT")]
    for args in errors:
        cases.append(case(f"hscan errors {' '.join(args)!r}", cmd(*small()),
                          cmd("HSCAN", "h", *args), cmd("HSCAN", "nokey", *args)))
    return cases


def _cursor_shape(redis, arbiter) -> bool:
    """An HSCAN step over a hash table: a cursor that is not 0 (more to come) and a
    page, whatever the layout puts in it."""
    return (redis.kind == arbiter.kind == "*"
            and [c.kind for c in redis.children] == [c.kind for c in arbiter.children]
            and redis.children[0].value != b"0" and arbiter.children[0].value != b"0")


def _misc_cases() -> list[Case]:
    blob = bytes(range(256))
    return [
        case("hset new and update", cmd("HSET", "h", "f", "v"), cmd("HSET", "h", "f", "w"),
             cmd("HSET", "h", "f", "x", "g", "y", "f", "z"), cmd("HGETALL", "h"),
             cmd("HLEN", "h"), cmd("HGET", "h", "f")),
        case("hsetnx", cmd("HSETNX", "h", "f", "v"), cmd("HSETNX", "h", "f", "w"),
             cmd("HGET", "h", "f"), cmd("HSETNX", "h", "g", "")),
        case("hmset", cmd("HMSET", "h", "a", "1", "b", "2"), cmd("HMSET", "h", "a", "3"),
             cmd("HGETALL", "h"), cmd("hmset", "h", "a", "1", "a", "2"), cmd("HGET", "h", "a")),
        case("hget hmget", cmd(*small()), cmd("HGET", "h", "a"), cmd("HGET", "h", "zz"),
             cmd("HGET", "nokey", "a"), cmd("HMGET", "h", "a", "zz", "c", "a"),
             cmd("HMGET", "nokey", "a", "b")),
        case("hgetall hkeys hvals small order", cmd(*small()),
             cmd("HSET", "h", "0", "z", "b", "new"), cmd("HGETALL", "h"), cmd("HKEYS", "h"),
             cmd("HVALS", "h"), cmd("HDEL", "h", "a"), cmd("HSET", "h", "a", "again"),
             cmd("HGETALL", "h")),
        case("hgetall missing", cmd("HGETALL", "nokey"), cmd("HKEYS", "nokey"),
             cmd("HVALS", "nokey"), cmd("HLEN", "nokey")),
        case("hash at 128 fields keeps order", cmd(*big_hash("h", 128)), cmd("HGETALL", "h"),
             cmd("HKEYS", "h"), cmd("HSCAN", "h", "0")),
        case("large hash any order", cmd(*big_hash()),
             cmd("HGETALL", "big", compare=cmp.unordered_pairs),
             cmd("HKEYS", "big", compare=cmp.unordered),
             cmd("HVALS", "big", compare=cmp.unordered), cmd("HLEN", "big"),
             cmd("HGET", "big", "f150"), cmd("HMGET", "big", "f0", "f199", "f200"),
             cmd("HSTRLEN", "big", "f199"), cmd("HEXISTS", "big", "f77"),
             cmd("HSCAN", "big", "0", "MATCH", "nomatch*", compare=_cursor_shape)),
        case("long value any order", cmd(*small()), cmd("HSET", "h", "long", LONG_VALUE),
             cmd("HGETALL", "h", compare=cmp.unordered_pairs),
             cmd("HKEYS", "h", compare=cmp.unordered), cmd("HGET", "h", "long")),
        case("hexists hstrlen", cmd(*small()), cmd("HEXISTS", "h", "a"),
             cmd("HEXISTS", "h", "zz"), cmd("HEXISTS", "nokey", "a"),
             cmd("HSTRLEN", "h", "a"), cmd("HSTRLEN", "h", "zz"), cmd("HSTRLEN", "nokey", "a"),
             cmd("HSET", "h", "e", ""), cmd("HSTRLEN", "h", "e"), cmd("HEXISTS", "h", "e")),
        case("hdel", cmd(*small()), cmd("HDEL", "h", "a", "a", "zz"), cmd("HDEL", "h", "b"),
             cmd("HDEL", "nokey", "a"), cmd("EXISTS", "h"), cmd("HDEL", "h", "c"),
             cmd("EXISTS", "h"), cmd("TYPE", "h"), cmd("HLEN", "h")),
        case("empty strings", cmd("HSET", "", "", ""), cmd("HGET", "", ""),
             cmd("HGETALL", ""), cmd("EXISTS", ""), cmd("HSTRLEN", "", ""),
             cmd("HINCRBY", "", "n", "1"), cmd("KEYS", "*"), cmd("DEL", "")),
        case("binary bytes", cmd("HSET", b"k\x00\r\n", b"f\x00\r\n", blob),
             cmd("HGET", b"k\x00\r\n", b"f\x00\r\n"), cmd("HGETALL", b"k\x00\r\n"),
             cmd("HSTRLEN", b"k\x00\r\n", b"f\x00\r\n"), cmd("KEYS", "k*"),
             cmd("HSCAN", b"k\x00\r\n", "0", "MATCH", b"f\x00*")),
        case("utf-8 names", cmd("HSET", "clé", "ключ", "値"), cmd("HGETALL", "clé"),
             cmd("HSTRLEN", "clé", "ключ")),
        case("long key", cmd("HSET", "k" * 100_000, "f", "v"), cmd("HGET", "k" * 100_000, "f"),
             cmd("EXISTS", "k" * 100_000), cmd("DBSIZE")),
        case("1 MB value", cmd("HSET", "h", "f", "v" * (1 << 20)), cmd("HGET", "h", "f"),
             cmd("HSTRLEN", "h", "f"), cmd("HGETALL", "h")),
        case("many fields in one hset", cmd(*big_hash("h", 1000)), cmd("HLEN", "h"),
             cmd("HDEL", "h", *[f"f{i}" for i in range(0, 1000, 2)]), cmd("HLEN", "h")),
        case("pipeline of 500", pipeline(*[("HSET", "h", f"f{i % 50}", str(i))
                                           for i in range(500)]),
             pipeline(*[("HGET", "h", f"f{i}") for i in range(60)]),
             pipeline(*[("HINCRBY", "c", "n", str(i)) for i in range(200)])),
        case("field names look like numbers", cmd("HSET", "h", "1", "a", "01", "b", "-0", "c",
                                                  "1.0", "d"),
             cmd("HGETALL", "h"), cmd("HGET", "h", "1"), cmd("HGET", "h", "01")),
        case("values look like numbers", cmd("HSET", "h", "a", "123", "b", "-9223372036854775808",
                                              "c", "3.14", "d", "1e10"),
             cmd("HGETALL", "h"), cmd("HSTRLEN", "h", "b"),
             cmd("HINCRBYFLOAT", "h", "c", "0"), cmd("HINCRBYFLOAT", "h", "d", "0")),
    ]


CASES: list[Case] = [*_arity_cases(), *_float_cases(), *_int_cases(),
                     *_hrandfield_cases(), *_hscan_cases(), *_misc_cases()]
