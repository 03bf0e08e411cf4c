"""Keyspace command cases: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RENAME, RENAMENX,
RANDOMKEY, DBSIZE, FLUSHDB/FLUSHALL, MEMORY USAGE."""

from __future__ import annotations

from . import compare as cmp
from .harness import Case, case, cmd, pipeline

NAMES = ["a", "b", "ab", "abc", "a*", "a?", "a[", "a]", "a\\", "h1llo", "hallo", "hello",
         "hxllo", "heeeello", "x-y", "^x", "[", "]", "-", "\\", "A", "B", "*"]

PATTERNS = ["*", "a*", "*b*", "?", "??", "a?", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo",
            "h[a-b]llo", "h[b-a]llo", "h[a-]llo", "[a-]", "[-a]", "[]]", "[[]", "[\\]]",
            "a\\*", "a\\?", "a\\[", "a\\\\", "\\a", "a\\", "[^a]", "[^]", "[]", "[!a]",
            "[a", "a[", "\\*", "*\\", "[\\-]", "[a-c-x]", "[^a-z]", "**", "*?*", "[A-Z]",
            "x[-]y", "", "[^", "[\\"]

ARITY = [("DEL",), ("UNLINK",), ("EXISTS",), ("TYPE",), ("TYPE", "a", "b"), ("KEYS",),
         ("KEYS", "a", "b"), ("SCAN",), ("RENAME", "a"), ("RENAME", "a", "b", "c"),
         ("RENAMENX", "a"), ("RANDOMKEY", "x"), ("DBSIZE", "x"), ("MEMORY",),
         ("MEMORY", "USAGE"), ("memory", "usage")]


def _keys_cases() -> list[Case]:
    setup = pipeline(*[("HSET", name, "f", "v") for name in NAMES])
    return [case(f"keys {pattern!r}", setup, cmd("KEYS", pattern, compare=cmp.unordered),
                 cmd("SCAN", "0", "MATCH", pattern, "COUNT", "1000", compare=_scan_set))
            for pattern in PATTERNS]


def _scan_set(redis, arbiter) -> bool:
    """One SCAN call covering everything: cursor exact, names as a set."""
    return (len(redis.children) == len(arbiter.children) == 2
            and redis.children[0].raw == arbiter.children[0].raw
            and cmp.unordered(redis.children[1], arbiter.children[1]))


def _scan_cases() -> list[Case]:
    cases = [
        case("scan empty", cmd("SCAN", "0"), cmd("SCAN", "0", "MATCH", "x*", "COUNT", "3"),
             cmd("SCAN", "0", "TYPE", "hash"), cmd("SCAN", "0", "TYPE", "string")),
        case("scan whole with count", cmd("HSET", "k1", "f", "v"), cmd("HSET", "k2", "f", "v"),
             cmd("SCAN", "0", "COUNT", "100", compare=_scan_set),
             cmd("SCAN", "0", "TYPE", "HASH", "COUNT", "100", compare=_scan_set),
             cmd("SCAN", "0", "TYPE", "string", "COUNT", "100"),
             cmd("SCAN", "0", "TYPE", "list"), cmd("SCAN", "0", "TYPE", "nosuchtype"),
             cmd("SCAN", "0", "MATCH", "k1", "COUNT", "100"),
             cmd("SCAN", "0", "count", "100", "match", "k*", "type", "hash",
                 compare=_scan_set)),
    ]
    errors = [("x",), ("-1",), ("1.5",), ("",), (" 0",), ("+0",), ("18446744073709551616",),
              ("0", "COUNT"), ("0", "COUNT", "0"), ("0", "COUNT", "-5"), ("0", "COUNT", "x"),
              ("0", "MATCH"), ("0", "TYPE"), ("0", "BOGUS", "x"), ("0", "NOVALUES"),
              ("0", "COUNT", "x", "TYPE", "nosuchtype"), ("x", "COUNT", "x"),
              ("0", "TYPE", "nosuchtype", "COUNT", "0")]
    for args in errors:
        cases.append(case(f"scan errors {' '.join(args)!r}", cmd("HSET", "k", "f", "v"),
                          cmd("SCAN", *args, compare=_scan_or_error)))
    return cases


def _scan_or_error(redis, arbiter) -> bool:
    """SCAN replies whose cursor depends on the table layout: errors exact, else shape."""
    if "-" in (redis.kind, arbiter.kind):
        return cmp.exact(redis, arbiter)
    return [c.kind for c in redis.children] == [c.kind for c in arbiter.children]


def _misc_cases() -> list[Case]:
    return [
        case("del unlink exists", cmd("HSET", "a", "f", "v"), cmd("HSET", "b", "f", "v"),
             cmd("EXISTS", "a", "a", "b", "c"), cmd("DEL", "a", "a", "c"),
             cmd("UNLINK", "b", "c"), cmd("EXISTS", "a", "b"), cmd("DEL", "nokey"),
             cmd("UNLINK", "nokey")),
        case("type", cmd("HSET", "a", "f", "v"), cmd("TYPE", "a"), cmd("TYPE", "nokey"),
             cmd("type", "A")),
        case("rename", cmd("HSET", "a", "f", "v"), cmd("RENAME", "a", "b"),
             cmd("EXISTS", "a", "b"), cmd("HGETALL", "b"), cmd("RENAME", "b", "b"),
             cmd("RENAME", "nokey", "x"), cmd("RENAME", "nokey", "nokey"),
             cmd("HSET", "c", "g", "w"), cmd("RENAME", "b", "c"), cmd("HGETALL", "c"),
             cmd("DBSIZE")),
        case("renamenx", cmd("HSET", "a", "f", "v"), cmd("HSET", "b", "g", "w"),
             cmd("RENAMENX", "a", "b"), cmd("RENAMENX", "a", "a"),
             cmd("RENAMENX", "a", "c"), cmd("RENAMENX", "nokey", "d"),
             cmd("RENAMENX", "nokey", "nokey"), cmd("HGETALL", "c"), cmd("EXISTS", "a")),
        case("randomkey", cmd("RANDOMKEY"), cmd("HSET", "only", "f", "v"), cmd("RANDOMKEY"),
             cmd("HSET", "other", "f", "v"),
             cmd("RANDOMKEY", compare=cmp.members_of({b"only", b"other"}))),
        case("dbsize", cmd("DBSIZE"), pipeline(*[("HSET", f"k{i}", "f", "v")
                                                 for i in range(30)]), cmd("DBSIZE")),
        case("flushdb flushall", cmd("HSET", "a", "f", "v"), cmd("FLUSHDB"), cmd("DBSIZE"),
             cmd("HSET", "a", "f", "v"), cmd("FLUSHALL"), cmd("DBSIZE"),
             cmd("FLUSHALL", "ASYNC"), cmd("FLUSHALL", "sync"), cmd("FLUSHDB", "ASYNC"),
             cmd("FLUSHDB", "Sync"), cmd("FLUSHALL", "x"), cmd("FLUSHDB", "x"),
             cmd("FLUSHALL", "ASYNC", "SYNC"), cmd("FLUSHDB", "SYNC", "x")),
        case("memory usage", cmd("HSET", "a", "f", "v"),
             cmd("MEMORY", "USAGE", "a", compare=cmp.kind), cmd("MEMORY", "USAGE", "nokey"),
             cmd("MEMORY", "USAGE", "a", "SAMPLES", "5", compare=cmp.kind),
             cmd("MEMORY", "USAGE", "a", "SAMPLES", "0", compare=cmp.kind),
             cmd("MEMORY", "USAGE", "a", "SAMPLES"), cmd("MEMORY", "USAGE", "a", "SAMPLES", "x"),
             cmd("MEMORY", "USAGE", "a", "FOO", "5"), cmd("MEMORY", "USAGE", "a", "x"),
             cmd("MEMORY", "USAGE", "nokey", "SAMPLES", "x"),
             cmd("MEMORY", "USAGE", "a", "SAMPLES", "5", "SAMPLES", "2", compare=cmp.kind),
             cmd("MEMORY", "NOSUCH"), cmd("MEMORY", "help", "x")),
    ]


# Byte names for the glob quirks: C's char is signed, so 0x80-0xff sort below 0x00 in
# ranges; an empty key is matched by the empty pattern and the lone `*` only.
BYTE_NAMES = [b"", b"\x00", b"\x01", b"a", b"b", b"\x7f", b"\x80", b"\xe9", b"\xff", b"a\xe9"]
BYTE_PATTERNS = [b"[a-\xff]", b"[\xff-a]", b"[\x80-\x01]", b"[\x7f-\x80]", b"[^\xe9]",
                 b"*\xe9", b"?", b"*", b"**", b"", b"?*", b"[\x00-\x00]", b"[^a-\xff]"]
# Runs of stars: Redis stops (no match) past 1000 nested star recursions.
STARRED_KEYS = [b"a" * 1001, b"a" * 39 + b"b"]
STARRED_PATTERNS = [b"*a" * 1000, b"*a" * 1001, b"a*" * 1001, b"*a" * 1000 + b"*",
                    b"*a" * 1001 + b"*", b"*" * 10_000 + b"b", b"*" * 14 + b"b",
                    b"*a*" * 20 + b"b", b"?" * 40, b"*[ab]" * 999 + b"*",
                    b"[" + b"a-z" * 1000 + b"]*b"]


def _glob_quirk_cases() -> list[Case]:
    cases = []
    for names, patterns, label in ((BYTE_NAMES, BYTE_PATTERNS, "bytes"),
                                   (STARRED_KEYS, STARRED_PATTERNS, "stars")):
        setup = pipeline(*[("HSET", name, "f", "v") for name in names],
                         *[("HSET", "\x00fields", name, "v") for name in names])
        for pattern in patterns:
            cases.append(case(f"glob {label} {pattern[:30]!r} ({len(pattern)} bytes)", setup,
                              cmd("KEYS", pattern, compare=cmp.unordered),
                              cmd("SCAN", "0", "MATCH", pattern, "COUNT", "1000",
                                  compare=_scan_set),
                              cmd("HSCAN", "\x00fields", "0", "MATCH", pattern, "COUNT", "1000",
                                  compare=_scan_set)))
    return cases


CASES: list[Case] = [*[case(f"arity {' '.join(a)}", cmd(*a)) for a in ARITY],
                     *_keys_cases(), *_glob_quirk_cases(), *_scan_cases(), *_misc_cases()]
