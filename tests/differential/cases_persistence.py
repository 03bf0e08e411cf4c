"""Persistence commands and settings, compared with redis-server 7.0.

Only replies without side effects on disk: the session servers run without persistence,
and the arbiter's `dir` is wherever the tests run."""

from __future__ import annotations

from . import compare as cmp
from .harness import Case, case, cmd

AOF_SETTINGS = ["appendonly", "appendfsync", "appendfilename", "appenddirname",
                "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size",
                "aof-load-truncated", "aof-rewrite-incremental-fsync",
                "no-appendfsync-on-rewrite"]

CASES: list[Case] = [
    *[case(f"command info {name}", cmd("COMMAND", "INFO", name))
      for name in ("bgrewriteaof", "bgsave", "save", "lastsave")],
    case("persistence arity and syntax",
         cmd("BGSAVE", "x"), cmd("BGSAVE", "SCHEDULE", "x"), cmd("BGSAVE", "a", "b"),
         cmd("SAVE", "x"), cmd("BGREWRITEAOF", "x"), cmd("LASTSAVE", "x"),
         cmd("LASTSAVE", compare=cmp.integer_kind)),
    case("save is refused inside a transaction",
         cmd("MULTI"), cmd("SAVE"), cmd("LASTSAVE"), cmd("EXEC")),
    *[case(f"config get {name}", cmd("CONFIG", "GET", name)) for name in AOF_SETTINGS],
    case("config get aof pattern", cmd("CONFIG", "GET", "auto-aof-*",
                                       compare=cmp.unordered_pairs)),
    case("config set aof settings",
         cmd("CONFIG", "SET", "appendfsync", "bad"),
         cmd("CONFIG", "SET", "appendfsync", "ALWAYS"), cmd("CONFIG", "GET", "appendfsync"),
         cmd("CONFIG", "SET", "appendfsync", "everysec"),
         cmd("CONFIG", "SET", "aof-load-truncated", "maybe"),
         cmd("CONFIG", "SET", "no-appendfsync-on-rewrite", "YES"),
         cmd("CONFIG", "GET", "no-appendfsync-on-rewrite"),
         cmd("CONFIG", "SET", "no-appendfsync-on-rewrite", "no"),
         cmd("CONFIG", "SET", "appendfilename", "x.aof"),
         cmd("CONFIG", "SET", "appenddirname", "d"),
         cmd("CONFIG", "SET", "dir", "/tmp"),
         cmd("CONFIG", "SET", "auto-aof-rewrite-percentage", "-1"),
         cmd("CONFIG", "SET", "auto-aof-rewrite-percentage", "abc"),
         cmd("CONFIG", "SET", "auto-aof-rewrite-percentage", "50"),
         cmd("CONFIG", "GET", "auto-aof-rewrite-percentage"),
         cmd("CONFIG", "SET", "auto-aof-rewrite-percentage", "100"),
         cmd("CONFIG", "SET", "auto-aof-rewrite-min-size", "1zz"),
         cmd("CONFIG", "SET", "auto-aof-rewrite-min-size", "1mb"),
         cmd("CONFIG", "GET", "auto-aof-rewrite-min-size"),
         cmd("CONFIG", "SET", "auto-aof-rewrite-min-size", "64mb"),
         cmd("CONFIG", "SET", "appendonly", "maybe")),
]
