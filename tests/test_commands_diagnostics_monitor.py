"""MONITOR: the feed's lines compared with redis-server 7.0's (over a raw connection and
through a real `redis-cli monitor` process), what is hidden or redacted, and the bound
on a monitor that stops reading."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
from differential.harness import RawConnection, encode
from differential.session import Session, session
from servers import ServerProcess, poll_until, require_binary, start_arbiter

pytestmark = pytest.mark.differential

MARKER = b"monitor-test-done"
_LINE_HEAD = re.compile(rb"^\+?([0-9]{10})\.([0-9]{6}) \[([0-9]+) unix:([^\]]+)\] ")

# What a client sends while another one monitors: argument escaping, passwords (shown
# as "(redacted)" when the command got as far as reading them), commands Redis hides
# (admin ones, MONITOR itself, rejected ones), the order inside MULTI/EXEC.
SCRIPT: list[tuple[bytes | str, ...]] = [
    ("HSET", "k", "f", "v"),
    ("HSET", 'quo"te', "back\\slash", b"\x00\xff\r\n\t\x07\x08 \x7f\xc3\xa9"),
    ("HSET", "k", "123", "-45"), ("ECHO", ""), ("ECHO", "x" * 5000),
    ("AUTH", "secret"), ("AUTH", "user", "secret"), ("AUTH", "a", "b", "c", "d"),
    ("HELLO", "2", "AUTH", "default", "pw"), ("HELLO", "2", "SETNAME", "a b", "AUTH", "d", "p"),
    ("HELLO", "2", "AUTH", "nobody", "pw", "SETNAME", "n"), ("HELLO", "9", "AUTH", "x", "y"),
    ("CLIENT", "ID"), ("CLIENT", "LIST"), ("CLIENT", "SETNAME", "commander"),
    ("CLIENT", "KILL", "ID", "99999999"), ("CONFIG", "GET", "timeout"), ("SLOWLOG", "LEN"),
    ("LATENCY", "LATEST"), ("INFO", "server"), ("DBSIZE",), ("COMMAND", "COUNT"),
    ("NOSUCH", "x"), ("HSET", "k"), ("CLIENT", "NOSUCH"),
    ("MULTI",), ("HSET", "k", "a", "b"), ("HGET", "k", "a"), ("EXEC",),
    ("MULTI",), ("NOSUCH",), ("EXEC",), ("MULTI",), ("HSET", "k"), ("DISCARD",),
    ("SELECT", "3"), ("HSET", "k", "in", "3"), ("SELECT", "99"), ("MULTI",),
    ("SELECT", "5"), ("HGET", "k", "in"), ("EXEC",), ("MOVE", "k", "0"), ("SELECT", "0"),
    ("PING",), ("ECHO", MARKER),
]


def _normalize(line: bytes, socket_path: str) -> bytes:
    """A feed line with its time replaced (checked to be now) and its socket path; the
    database it shows is kept."""
    match = _LINE_HEAD.match(line)
    assert match, line
    assert abs(int(match.group(1)) - time.time()) < 60, line
    assert match.group(4) == socket_path.encode(), line
    return b"[%s] %s" % (match.group(3), line[match.end():])


def _feed(server: ServerProcess, commands: list[tuple[bytes | str, ...]]) -> list[bytes]:
    """Everything a monitor receives while another client sends `commands`."""
    with session(server.socket_path) as monitor, session(server.socket_path) as client:
        assert monitor.call("MONITOR").raw == b"+OK\r\n"
        assert monitor.call("PING").raw == b"+PONG\r\n"  # a monitor may still PING (and
        lines = [monitor.conn.read(1)[0].raw]            # sees it), but not touch keys
        assert monitor.call("HGET", "k", "f").raw == (
            b"-ERR Replica can't interact with the keyspace\r\n")
        for argv in commands:
            client.conn.send(encode(argv))
            client.conn.read(1)
        while MARKER not in lines[-1]:
            replies = monitor.conn.read(1)
            assert replies, "the monitor connection closed"
            lines.append(replies[0].raw)
        with session(server.socket_path) as quitter:  # QUIT is fed too, then closes
            quitter.conn.send(encode(["QUIT"]))
            quitter.conn.read(None)
        lines.append(monitor.conn.read(1)[0].raw)
    return [_normalize(line, server.socket_path) for line in lines]


def test_monitor_lines_match_redis(arbiter: ServerProcess, redis_server: ServerProcess):
    expected, actual = _feed(redis_server, SCRIPT), _feed(arbiter, SCRIPT)
    assert actual == expected
    # The lines the script is about, spelled out (Redis' own output, so a change on
    # either side shows here).
    assert b'[0] "HSET" "quo\\"te" "back\\\\slash" "\\x00\\xff\\r\\n\\t\\a\\b ' \
        b'\\x7f\\xc3\\xa9"\r\n' in actual
    assert b'[0] "AUTH" "(redacted)" "(redacted)"\r\n' in actual
    assert b'[0] "HELLO" "2" "SETNAME" "a b" "AUTH" "d" "p"\r\n' in actual
    assert not any(line.startswith((b'[0] "CLIENT" "LIST"', b'[0] "CONFIG"',
                                    b'[0] "MONITOR"')) for line in actual)
    assert actual[0] == b'[0] "PING"\r\n' and actual[-1] == b'[0] "QUIT"\r\n'
    # The database shown is the client's after the command (SELECT inside EXEC too).
    assert [line for line in actual if line[:3] != b"[0]"] == [
        b'[3] "SELECT" "3"\r\n', b'[3] "HSET" "k" "in" "3"\r\n',
        b'[3] "SELECT" "99"\r\n', b'[3] "MULTI"\r\n',
        b'[5] "SELECT" "5"\r\n', b'[5] "HGET" "k" "in"\r\n', b'[5] "EXEC"\r\n',
        b'[5] "MOVE" "k" "0"\r\n']


def test_monitor_inside_exec_and_twice(arbiter: ServerProcess, redis_server: ServerProcess):
    for server in (redis_server, arbiter):
        with session(server.socket_path) as s:
            assert [r.raw for r in s.calls([("MULTI",), ("MONITOR",), ("EXEC",)])] == [
                b"+OK\r\n", b"+QUEUED\r\n",
                b"*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"]
            assert s.call("MONITOR").raw == b"+OK\r\n"
            s.conn.send(encode(["MONITOR"]))  # ignored without a reply, as Redis does
            s.conn.send(encode(["CLIENT", "INFO"]))
            info = s.conn.read(1)[0]
            assert " flags=OU " in info.text() and " cmd=client|info " in info.text()


def test_reset_ends_monitor_mode(arbiter: ServerProcess, redis_server: ServerProcess):
    for server in (redis_server, arbiter):
        with session(server.socket_path) as monitor, session(server.socket_path) as other:
            assert monitor.call("MONITOR").raw == b"+OK\r\n"
            assert monitor.call("RESET").raw == b"+RESET\r\n"  # not fed: no longer one
            assert other.call("PING").raw == b"+PONG\r\n"
            assert monitor.call("PING").raw == b"+PONG\r\n"  # no feed line before it
            info = monitor.call("CLIENT", "INFO").text()
            assert " flags=U " in info, info


def _cli_monitor(server: ServerProcess, directory: Path) -> list[bytes]:
    """The lines a real `redis-cli -s SOCK monitor` prints while SCRIPT runs."""
    out_path = directory / f"monitor-{Path(server.socket_path).stem}.out"
    with open(out_path, "wb") as out:
        process = subprocess.Popen([require_binary("redis-cli"), "-s", server.socket_path,
                                    "monitor"], stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        try:
            assert poll_until(lambda: out_path.read_bytes().startswith(b"OK\n"), 10)
            with session(server.socket_path) as client:
                client.calls(SCRIPT)
            assert poll_until(lambda: MARKER in out_path.read_bytes(), 10)
        finally:
            process.terminate()
            process.wait(10)
    lines = out_path.read_bytes().splitlines(keepends=True)
    assert lines[0] == b"OK\n"
    return [_normalize(line, server.socket_path) for line in lines[1:]]


def test_redis_cli_monitor_prints_what_it_prints_for_redis(
        arbiter: ServerProcess, redis_server: ServerProcess, tmp_path: Path) -> None:
    expected = _cli_monitor(redis_server, tmp_path)
    actual = _cli_monitor(arbiter, tmp_path)
    assert actual == expected
    assert b'[0] "HSET" "k" "f" "v"\n' in actual


def test_a_monitor_that_stops_reading_is_disconnected(tmp_path: Path) -> None:
    """A monitor that reads nothing while commands keep coming is closed once 64 MiB of
    its output is waiting, instead of the arbiter's memory growing without end."""
    with start_arbiter(tmp_path, name="lagging") as server:
        stalled = RawConnection(server.socket_path)
        stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.send(encode(["MONITOR"]))
        with session(server.socket_path) as observer:
            assert poll_until(lambda: " flags=OU " in observer.call("CLIENT", "LIST").text())
            writer = Session(server.socket_path)
            value = b"v" * (1 << 20)
            for _ in range(80):  # 80 lines of 1 MiB each for a monitor reading none
                writer.conn.send(encode(["HSET", "k", "f", value]))
                assert writer.conn.read(1)[0].raw in (b":0\r\n", b":1\r\n")
                if " flags=OU " not in observer.call("CLIENT", "LIST").text():
                    break
            else:
                pytest.fail("the stalled monitor is still connected after 80 MiB")
            writer.conn.close()
        stalled.close()
    assert "overcoming of output buffer limits" in server.log_path.read_text()
