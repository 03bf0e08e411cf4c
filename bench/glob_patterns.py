"""Hostile glob patterns: how long KEYS takes on the arbiter and on redis-server, and how
long another client's PING waits meanwhile.

    python -m bench.glob_patterns            # every pattern, best of 3 rounds (1 past 1 s)
    python -m bench.glob_patterns --rounds 1

Both servers hold the same keys: a 40-byte one and a 10,000-byte one. For each pattern
one client sends KEYS and a second client sends PING right after; the table shows the
time to the KEYS reply and to the PING reply, in milliseconds (both servers run one
command at a time, so a PING read after the KEYS waits for it), and flags any pattern
on which the two servers return different keys. Traffic goes only to the two Unix
sockets in a temporary directory, and both servers are stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

import hiredis

if __package__ in (None, ""):  # `python bench/glob_patterns.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.servers import ServerProcess, start_arbiter, start_redis

KEYS = (b"a" * 39 + b"b", b"a" * 10_000 + b"b")
MB = 1 << 20

HOSTILE: dict[str, bytes] = {
    "14 stars then c": b"*" * 14 + b"c",
    "10,000 stars then c": b"*" * 10_000 + b"c",
    "999 star runs, each before a class": b"*[ab]" * 999 + b"*b",
    "1001 star runs (past Redis' limit)": b"*a" * 1001,
    "class of 100,000 ranges": b"*[" + b"a-z" * 100_000 + b"]b",
    "1 MB of stars": b"*" * MB,
    "1 MB of '?'": b"?" * MB,
    "1 MB of '*?'": b"*?" * (MB // 2),
    "1 MB of escapes": b"\\a" * (MB // 2),
    "1 MB of classes": b"[a]" * (MB // 3),
    "1 MB class of ranges, unterminated": b"[" + b"a-a-" * (MB // 4),
    "1 MB class after a star": b"*[" + b"b" * MB + b"]",
}


class Connection:
    """A blocking Unix-socket client reading replies with hiredis."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(path)
        self.reader = hiredis.Reader()

    def send(self, *argv: bytes | str) -> None:
        args = [arg.encode() if isinstance(arg, str) else arg for arg in argv]
        self.sock.sendall(b"*%d\r\n" % len(args)
                          + b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in args))

    def reply(self) -> object:
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.reader.feed(chunk)

    def call(self, *argv: bytes | str) -> object:
        self.send(*argv)
        return self.reply()

    def close(self) -> None:
        self.sock.close()


def timed_with_ping(path: str, *argv: bytes | str) -> tuple[object, float, float]:
    """Send `argv` on one connection and PING on another right after: the reply, and the
    seconds until the reply and until the PONG."""
    busy, other = Connection(path), Connection(path)
    try:
        other.call("PING")  # connected and served once: only the wait is measured below
        start = time.perf_counter()
        busy.send(*argv)
        other.send("PING")
        assert other.reply() == b"PONG"
        ping = time.perf_counter() - start
        reply = busy.reply()
        return reply, time.perf_counter() - start, ping
    finally:
        busy.close()
        other.close()


def load(path: str) -> None:
    connection = Connection(path)
    try:
        connection.call("FLUSHALL")
        for key in KEYS:
            connection.call("HSET", key, "f", "v")
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args(argv).rounds
    with tempfile.TemporaryDirectory(prefix="glob-") as directory:
        servers: list[ServerProcess] = []
        try:
            servers.append(start_redis(Path(directory)))
            servers.append(start_arbiter(Path(directory)))
            for server in servers:
                load(server.socket_path)
            print(f"{'pattern':40} {'redis KEYS':>11} {'PING':>8} {'arbiter KEYS':>13} "
                  f"{'PING':>8}  (ms, best of {rounds})")
            for name, pattern in HOSTILE.items():
                cells = []
                replies = []
                for server in servers:
                    best = timed_with_ping(server.socket_path, "KEYS", pattern)
                    for _ in range(rounds - 1 if best[1] < 1 else 0):  # no reruns past 1 s
                        best = min(best, timed_with_ping(server.socket_path, "KEYS", pattern),
                                   key=lambda timing: timing[1])
                    replies.append(sorted(best[0]))  # KEYS order is the hash table's
                    cells += [best[1] * 1000, best[2] * 1000]
                same = "" if replies[0] == replies[1] else "  REPLIES DIFFER"
                print(f"{name:40} {cells[0]:11.1f} {cells[1]:8.1f} {cells[2]:13.1f} "
                      f"{cells[3]:8.1f}{same}")
        finally:
            for server in reversed(servers):
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
