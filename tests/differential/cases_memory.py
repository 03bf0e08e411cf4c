"""Memory cases: OBJECT (ENCODING, FREQ, IDLETIME, REFCOUNT, HELP) under LRU and LFU
policies, the maxmemory settings, and the OOM refusal under noeviction.

Each case that changes a setting restores it, as the servers are shared by the session."""

from __future__ import annotations

from . import compare as cmp
from .harness import Case, case, cmd, pipeline

RESTORE = (cmd("CONFIG", "SET", "maxmemory", "0"),
           cmd("CONFIG", "SET", "maxmemory-policy", "noeviction"))


def _object_cases() -> list[Case]:
    return [
        case("object encoding", cmd("HSET", "small", "f", "v"),
             cmd("OBJECT", "ENCODING", "small"), cmd("object", "encoding", "small"),
             cmd("HSET", "long", "f", "x" * 65), cmd("OBJECT", "ENCODING", "long"),
             pipeline(*[("HSET", "wide", f"f{i}", "v") for i in range(513)]),
             cmd("OBJECT", "ENCODING", "wide"), cmd("HDEL", "wide", "f0", "f1"),
             cmd("OBJECT", "ENCODING", "wide"), cmd("OBJECT", "ENCODING", "nokey")),
        case("object refcount", cmd("HSET", "h", "f", "v"), cmd("OBJECT", "REFCOUNT", "h"),
             cmd("OBJECT", "REFCOUNT", "nokey")),
        case("object help and errors", cmd("OBJECT", "HELP"), cmd("object", "help"),
             cmd("OBJECT"), cmd("OBJECT", "NOSUCH"), cmd("OBJECT", "NOSUCH", "k"),
             cmd("OBJECT", "HELP", "x"), cmd("OBJECT", "ENCODING"),
             cmd("OBJECT", "ENCODING", "a", "b"), cmd("OBJECT", "FREQ"),
             cmd("OBJECT", "IDLETIME", "a", "b"), cmd("OBJECT", "REFCOUNT")),
        case("object under lru", cmd("HSET", "h", "f", "v"), cmd("OBJECT", "FREQ", "h"),
             cmd("OBJECT", "FREQ", "nokey"), cmd("OBJECT", "IDLETIME", "nokey"),
             cmd("OBJECT", "IDLETIME", "h", compare=cmp.integer_kind)),
        # A new key's counter starts at 5 (LFU_INIT_VAL), and the first hit always adds 1
        # (later hits are probabilistic).
        case("object under lfu", cmd("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"),
             cmd("HSET", "h", "f", "v"), cmd("OBJECT", "FREQ", "h"), cmd("HGET", "h", "f"),
             cmd("OBJECT", "FREQ", "h"), cmd("OBJECT", "IDLETIME", "h"),
             cmd("OBJECT", "IDLETIME", "nokey"), cmd("OBJECT", "FREQ", "nokey"),
             cmd("HSET", "h2", "f", "v"), cmd("EXISTS", "h2"), cmd("TYPE", "h2"),
             cmd("OBJECT", "ENCODING", "h2"), cmd("OBJECT", "FREQ", "h2"),
             cmd("CONFIG", "SET", "maxmemory-policy", "volatile-lfu"),
             cmd("OBJECT", "FREQ", "h"), cmd("CONFIG", "GET", "maxmemory-policy"), *RESTORE),
    ]


def _config_cases() -> list[Case]:
    return [
        case("maxmemory settings", cmd("CONFIG", "SET", "maxmemory", "100mb"),
             cmd("CONFIG", "GET", "maxmemory"), cmd("CONFIG", "SET", "maxmemory", "1gb"),
             cmd("CONFIG", "GET", "maxmemory"), cmd("CONFIG", "SET", "maxmemory", "12345"),
             cmd("CONFIG", "GET", "maxmemory"),
             cmd("CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU"),
             cmd("CONFIG", "GET", "maxmemory-policy"),
             cmd("CONFIG", "SET", "maxmemory-samples", "10"),
             cmd("CONFIG", "GET", "maxmemory-samples"),
             cmd("CONFIG", "SET", "maxmemory-samples", "5"),
             cmd("CONFIG", "SET", "lfu-log-factor", "0", "lfu-decay-time", "0"),
             cmd("CONFIG", "GET", "lfu-log-factor"), cmd("CONFIG", "GET", "lfu-decay-time"),
             cmd("CONFIG", "SET", "lfu-log-factor", "10", "lfu-decay-time", "1"), *RESTORE),
        case("maxmemory setting errors", cmd("CONFIG", "SET", "maxmemory", "-1"),
             cmd("CONFIG", "SET", "maxmemory", "1.5"), cmd("CONFIG", "SET", "maxmemory", "x"),
             cmd("CONFIG", "SET", "maxmemory", "1tb"), cmd("CONFIG", "SET", "maxmemory", "+5"),
             cmd("CONFIG", "SET", "maxmemory", "-0"), cmd("CONFIG", "SET", "maxmemory", " 5"),
             cmd("CONFIG", "SET", "maxmemory", "5K"), cmd("CONFIG", "GET", "maxmemory"),
             cmd("CONFIG", "SET", "maxmemory", "kb"), cmd("CONFIG", "GET", "maxmemory"),
             cmd("CONFIG", "SET", "maxmemory", "7"), cmd("CONFIG", "SET", "maxmemory", ""),
             cmd("CONFIG", "GET", "maxmemory"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", ""),
             cmd("CONFIG", "SET", "maxmemory-policy", "bogus"),
             cmd("CONFIG", "SET", "maxmemory-policy", "allkeys_lru"),
             cmd("CONFIG", "SET", "maxmemory-samples", "0"),
             cmd("CONFIG", "SET", "maxmemory-samples", "x"),
             cmd("CONFIG", "SET", "maxmemory-samples", "2147483648"),
             cmd("CONFIG", "SET", "lfu-log-factor", "-1"),
             cmd("CONFIG", "SET", "lfu-decay-time", "1.5"),
             cmd("CONFIG", "GET", "maxmemory"), cmd("CONFIG", "GET", "maxmemory-policy")),
    ]


def _oom_cases() -> list[Case]:
    return [
        case("oom under noeviction", cmd("HSET", "kept", "f", "v"),
             cmd("CONFIG", "SET", "maxmemory", "1"),
             cmd("HSET", "h", "f", "v"), cmd("HSETNX", "h", "f", "v"),
             cmd("HMSET", "h", "f", "v"), cmd("HINCRBY", "kept", "n", "1"),
             cmd("HINCRBYFLOAT", "kept", "n", "1.5"), cmd("HSET", "kept", "f", "new"),
             cmd("HGET", "kept", "f"), cmd("HGETALL", "kept"), cmd("EXISTS", "kept"),
             cmd("PING"), cmd("EXPIRE", "kept", "1000"), cmd("PERSIST", "kept"),
             cmd("HDEL", "kept", "nosuch"), cmd("RENAME", "kept", "moved"),
             cmd("DBSIZE"), cmd("HSET", "moved", "a", "b", "c"),
             cmd("MULTI"), cmd("HGET", "moved", "f"), cmd("PING"), cmd("EXEC"),
             cmd("MULTI"), cmd("DISCARD"), cmd("DEL", "moved"),
             cmd("CONFIG", "SET", "maxmemory", "0"), cmd("HSET", "h", "f", "v")),
        case("oom inside multi", cmd("MULTI"), cmd("CONFIG", "SET", "maxmemory", "1"),
             cmd("HSET", "h", "f", "v"), cmd("EXEC"), cmd("HSET", "h", "f", "v"),
             cmd("MULTI"), cmd("MULTI"), cmd("WATCH", "h"), cmd("DISCARD"), *RESTORE),
    ]


CASES: list[Case] = [*_object_cases(), *_config_cases(), *_oom_cases()]
