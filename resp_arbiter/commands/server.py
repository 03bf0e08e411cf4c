"""Server commands: INFO, DBSIZE, TIME, FLUSHDB, FLUSHALL, MEMORY USAGE."""

from __future__ import annotations

import time

from .. import errors
from ..client import Client
from ..info import info_text
from ..registry import Family, KeySpec
from ._args import int_arg, text
from .connection import help_reply

FAMILY = Family("server")
command = FAMILY.command
container = FAMILY.container

@command("info", -1, "loading stale",
         syntax="[section+]", categories="dangerous",
         since="1.0.0", tips="nondeterministic_output request_policy:all_shards "
         "response_policy:special", summary="Returns information and statistics about "
         "the server.")
def info(c: Client, argv: list[bytes]) -> None:
    c.reply.verbatim(info_text(c.server, [text(arg).lower() for arg in argv[1:]]))


@command("dbsize", 1, "readonly fast", categories="keyspace",
         since="1.0.0", tips="request_policy:all_shards response_policy:agg_sum",
         summary="Returns the number of keys in the database.")
def dbsize(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(len(c.db))


@command("time", 1, "loading stale fast", since="2.6.0",
         tips="nondeterministic_output", summary="Returns the server time.")
def time_(c: Client, argv: list[bytes]) -> None:
    now = time.time_ns() // 1000
    c.reply.bulks((b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)))


def _flush_mode(argv: list[bytes]) -> None:
    """FLUSHDB's and FLUSHALL's [ASYNC|SYNC]: both free large values in cron steps."""
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() not in (b"async", b"sync")):
        raise errors.CommandError(errors.SYNTAX)


def _flushdb(c: Client, argv: list[bytes]) -> None:
    _flush_mode(argv)
    c.server.tracking.flushed()  # before the keys go: WATCH's touches invalidate nothing
    c.db.flush()
    c.reply.ok()


def _flushall(c: Client, argv: list[bytes]) -> None:
    _flush_mode(argv)
    before = c.server.databases.dirty
    c.server.tracking.flushed()
    c.server.databases.flush_all()
    c.db.dirty += c.server.databases.dirty != before  # logged even if only others changed
    c.reply.ok()


FLUSH_TIPS = "request_policy:all_shards response_policy:all_succeeded"
command("flushdb", -1, "write",
        syntax="[ASYNC|SYNC]", categories="keyspace dangerous",
        since="1.0.0", tips=FLUSH_TIPS, complexity="O(N) where N is the number of keys "
        "in the selected database", summary="Remove all keys from the current "
        "database.")(_flushdb)
command("flushall", -1, "write",
        syntax="[ASYNC|SYNC]", categories="keyspace dangerous",
        since="1.0.0", tips=FLUSH_TIPS, complexity="O(N) where N is the total number of "
        "keys in all databases", summary="Removes all keys from all databases.")(_flushall)

container("memory", since="4.0.0",
          summary="A container for memory diagnostics commands.")


@command("usage", -3, "readonly",
         syntax="key [SAMPLES:count:integer]", key_specs=(KeySpec(("RO",), 2),),
         since="4.0.0", parent="memory",
         complexity="O(N) where N is the number of samples.",
         summary="Estimates the memory usage of a key.")
def memory_usage(c: Client, argv: list[bytes]) -> None:
    i = 3
    while i < len(argv):  # SAMPLES <count>, any number of times, as Redis parses it
        if argv[i].lower() != b"samples" or i + 1 >= len(argv):
            raise errors.CommandError(errors.SYNTAX)
        samples = int_arg(argv[i + 1])
        if samples < 0:
            raise errors.CommandError(errors.SYNTAX)
        i += 2
    # Redis samples SAMPLES fields and extrapolates; the arbiter keeps each table's
    # estimate up to date on every write, so the answer is exact (for the estimate) and
    # O(1) at any SAMPLES.
    keyspace = c.db
    table = keyspace.peek(argv[2])
    if table is None:
        c.reply.null()
        return
    c.reply.integer(keyspace.memory_usage(argv[2], table))


@command("help", 2, "loading stale", since="4.0.0", parent="memory",
         summary="Returns helpful text about the different subcommands.")
def memory_help(c: Client, argv: list[bytes]) -> None:
    help_reply(c, (
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value.",
        "HELP", "    Print this help.",
    ))
