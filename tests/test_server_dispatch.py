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
