"""Server.execute: a failing command costs its client one error reply, nothing more."""

from __future__ import annotations

from resp_arbiter import commands, errors  # noqa: F401  (registers the commands)
from resp_arbiter.client import Client
from resp_arbiter.config import Config
from resp_arbiter.registry import Command, lookup
from resp_arbiter.server import Server


def _broken(c: Client, argv: list[bytes]) -> None:
    c.reply.array_len(2)  # a reply half written when the bug strikes
    raise RuntimeError("bug")


def test_a_crashing_command_answers_an_error_and_keeps_earlier_replies():
    server = Server(Config())
    client = Client(server)
    server.call(client, [b"PING"])
    broken = Command(name="broken", handler=_broken, arity=1, flags=(), categories=(),
                     full_name="broken")
    server.execute(broken, client, [b"broken"])
    server.call(client, [b"HSET", b"t", b"f", b"v"])
    assert bytes(client.out) == (
        b"+PONG\r\n"
        b"-ERR internal error in 'broken' (the arbiter's log has the details)\r\n"
        b":1\r\n")
    assert lookup(b"broken") is None


def _refusing(c: Client, argv: list[bytes]) -> None:
    c.reply.array_len(2)  # a reply half written when the argument check fails
    raise errors.CommandError(errors.SYNTAX)


def test_a_command_error_replaces_the_partial_reply_with_the_error():
    server = Server(Config())
    client = Client(server)
    refusing = Command(name="refusing", handler=_refusing, arity=1, flags=(),
                       categories=(), full_name="refusing")
    server.execute(refusing, client, [b"refusing"])
    server.call(client, [b"PING"])
    assert bytes(client.out) == b"-ERR syntax error\r\n+PONG\r\n"


# Requests the inline path of `Server.call` takes (known command, right arity, no
# subcommand) and ones it hands to the full checks, mixed, with every kind of outcome.
_MIXED = [
    [b"HSET", b"t", b"f", b"v"], [b"hset", b"t", b"g", b"w"], [b"HSET", b"t", b"f", b"v", b"x"],
    [b"HGET", b"t", b"f"], [b"HGET", b"t", b"missing"], [b"HGET", b"nokey", b"f"],
    [b"GET", b"t"], [b"SET", b"s", b"v"], [b"GET", b"s"], [b"HSET", b"t"],
    [b"COMMAND", b"COUNT"], [b"CLIENT", b"NOSUCH"], [b"NOSUCH", b"x"], [b"PING"],
    [b"MULTI"], [b"HSET", b"t", b"f", b"z"], [b"EXEC"], [b"EXEC"], [b"HDEL", b"t", b"g"],
    [b"SELECT", b"1"], [b"HSET", b"t", b"f", b"one"], [b"DBSIZE"],
]


def _run_mixed(*settings: tuple[str, str]) -> tuple[bytes, dict, tuple, list, int, str]:
    config = Config()
    for name, value in settings:
        config.set(name, value)
    server = Server(config)
    client = Client(server)
    for argv in _MIXED:
        server.call(client, list(argv))
    rows = {spec.full_name: (row.calls, row.failed, row.rejected)
            for spec, row in server.command_stats.items()}
    errors_seen = (server.error_stats.total, dict(server.error_stats.by_code))
    return (bytes(client.out), rows, errors_seen, list(server.lookups),
            server.databases.dirty, client.last_command)


def test_the_inline_dispatch_path_answers_and_counts_as_the_full_checks_do():
    # A maxmemory far above the data makes every request take the full checks (and
    # `execute`) without changing any outcome.
    inline = _run_mixed()
    checked = _run_mixed(("maxmemory", "4gb"))
    assert inline == checked
    replies = inline[0]
    assert replies.startswith(b":1\r\n:1\r\n-ERR wrong number of arguments for 'hset' command"
                              b"\r\n$1\r\nv\r\n$-1\r\n$-1\r\n-WRONGTYPE")
    assert inline[1]["hset"] == (5, 1, 1)  # the one in MULTI ran in EXEC
    assert inline[1]["hget"] == (3, 0, 0)
    # Key lookups: HGET t (twice), GET t (then WRONGTYPE) and GET s hit; HGET nokey misses.
    assert inline[3] == [4, 1]
