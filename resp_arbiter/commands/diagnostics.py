"""Diagnostics: SLOWLOG, MONITOR and LATENCY, with redis-server's replies and texts.

The data they show is gathered by `Server.execute` (see `resp_arbiter.stats`)."""

from __future__ import annotations

from .. import errors
from ..client import Client
from ..registry import Family
from ._args import parse_int, text
from .connection import help_reply

SERVER = "server"
FAMILY = Family(SERVER)
command = FAMILY.command
container = FAMILY.container
ADMIN = "admin loading stale"

# -- SLOWLOG --------------------------------------------------------------------------

container("slowlog", since="2.2.12",
          summary="A container for slow log commands.")


@command("get", -2, ADMIN, syntax="[count:integer]", since="2.2.12",
         parent="slowlog", tips="request_policy:all_nodes nondeterministic_output",
         complexity="O(N) where N is the number of entries returned",
         summary="Returns the slow log's entries.")
def slowlog_get(c: Client, argv: list[bytes]) -> None:
    """The newest `count` entries (10 by default, -1 for all): id, Unix time, duration
    in microseconds, arguments, client address, client name."""
    if len(argv) > 3:
        raise errors.CommandError(errors.SUBCOMMAND_SYNTAX.format(
            text(argv[1][:128]), "SLOWLOG"))
    entries = c.server.slowlog.entries
    count = 10
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count is None or count < -1:
            raise errors.CommandError(errors.SLOWLOG_COUNT)
        if count == -1:
            count = len(entries)
    r = c.reply
    shown = min(count, len(entries))
    r.array_len(shown)
    for index in range(shown):
        entry_id, unix_time, micros, args, peer, name = entries[index]
        r.array_len(6)
        r.integer(entry_id)
        r.integer(unix_time)
        r.integer(micros)
        r.bulks(args)
        r.bulk(peer)
        r.bulk(name)


@command("len", 2, ADMIN, since="2.2.12", parent="slowlog",
         tips="request_policy:all_nodes response_policy:agg_sum nondeterministic_output",
         summary="Returns the number of entries in the slow log.")
def slowlog_len(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(len(c.server.slowlog.entries))


@command("reset", 2, ADMIN, since="2.2.12", parent="slowlog",
         tips="request_policy:all_nodes response_policy:all_succeeded",
         complexity="O(N) where N is the number of entries in the slowlog",
         summary="Clears all entries from the slow log.")
def slowlog_reset(c: Client, argv: list[bytes]) -> None:
    c.server.slowlog.reset()
    c.reply.ok()


@command("help", 2, "loading stale", since="6.2.0", parent="slowlog",
         summary="Show helpful text about the different subcommands")
def slowlog_help(c: Client, argv: list[bytes]) -> None:
    help_reply(c, (
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN", "    Return the length of the slowlog.",
        "RESET", "    Reset the slowlog.",
        "HELP", "    Prints this help.",
    ))


# -- MONITOR --------------------------------------------------------------------------

@command("monitor", 1, "admin noscript loading stale", since="1.0.0",
         summary="Listens for all requests received by the server in real-time.")
def monitor(c: Client, argv: list[bytes]) -> None:
    """From now on the client gets a line for every command run (admin commands and
    those flagged skip_monitor excepted), and may not touch the keys any more."""
    server = c.server
    if server.keyspace.frozen:  # inside EXEC: Redis' DENY BLOCKING clients
        raise errors.CommandError(errors.MONITOR_DENY_BLOCKING)
    if c.monitor:
        return  # Redis ignores a second MONITOR without a reply
    server.add_monitor(c)
    c.reply.ok()


# -- LATENCY --------------------------------------------------------------------------

# The arbiter records no latency events (Redis' latency monitor is off by default too,
# latency-monitor-threshold 0), so LATEST and HISTORY are empty and RESET resets none.
container("latency", since="2.8.13",
          summary="A container for latency diagnostics commands.")
LATENCY_ADMIN = "admin noscript loading stale"
LATENCY_TIPS = "nondeterministic_output request_policy:all_nodes response_policy:special"


@command("latest", 2, LATENCY_ADMIN, since="2.8.13", parent="latency",
         tips=LATENCY_TIPS, summary="Returns the latest latency samples for all events.")
def latency_latest(c: Client, argv: list[bytes]) -> None:
    c.reply.array_len(0)


@command("history", 3, LATENCY_ADMIN, syntax="event", since="2.8.13",
         parent="latency", tips=LATENCY_TIPS,
         summary="Returns timestamp-latency samples for an event.")
def latency_history(c: Client, argv: list[bytes]) -> None:
    c.reply.array_len(0)


@command("reset", -2, LATENCY_ADMIN, syntax="[event+]", since="2.8.13",
         parent="latency", tips="request_policy:all_nodes response_policy:all_succeeded",
         summary="Resets the latency data for one or more events.")
def latency_reset(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(0)


@command("help", 2, "loading stale", since="2.8.13", parent="latency",
         summary="Returns helpful text about the different subcommands.")
def latency_help(c: Client, argv: list[bytes]) -> None:
    help_reply(c, (
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HELP", "    Prints this help.",
    ))
