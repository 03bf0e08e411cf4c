"""Hostile clients as real processes, all at once, against one arbiter with a password.

    python -m bench.hostile --seconds 60

Each attacker is a process of its own: clients that pipeline without ever reading
(authenticated, and not), slowloris clients that send a large request a few bytes at a
time, a connection flood past `maxclients`, clients that disconnect in the middle of
large bulks, and pathological glob patterns. Meanwhile a well-behaved client PINGs and
reads its table. The run prints the arbiter's peak RSS and the worst PING time, and fails
(exit 1) if the well-behaved client ever got an error or a wrong answer.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from bench.servers import encode_request, start_arbiter
from bench.soak import rss_bytes

PASSWORD = "hostile-test"
MAXCLIENTS = 300
BIG_TABLE_FIELDS = 20_000
GOOD_FIELDS = {b"f%d" % i: b"v%d" % i for i in range(50)}


def _connect(path: str, authenticate: bool) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2.0)
    sock.connect(path)
    if authenticate:
        sock.sendall(encode_request(b"AUTH", PASSWORD.encode()))
        sock.recv(64)
    return sock


def never_reads(path: str, deadline: float, authenticate: bool) -> None:
    """Pipelines HGETALL of a large table and never reads a reply; reconnects when cut."""
    request = encode_request(b"HGETALL", b"big") * 100
    while time.time() < deadline:
        with contextlib.suppress(OSError), _connect(path, authenticate) as sock:
            while time.time() < deadline:
                sock.sendall(request)


def slowloris(path: str, deadline: float) -> None:
    """Twenty connections each sending a 1 MB bulk a few bytes at a time."""
    sockets = []
    with contextlib.suppress(OSError):
        for _ in range(20):
            sock = _connect(path, authenticate=True)
            sock.sendall(b"*3\r\n$4\r\nHSET\r\n$4\r\nslow\r\n$1048576\r\n")
            sockets.append(sock)
    while time.time() < deadline:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.sendall(b"xxxx")
        time.sleep(0.05)
    for sock in sockets:
        sock.close()


def flood(path: str, deadline: float) -> None:
    """Holds more connections than maxclients allows, opening new ones as they drop."""
    held: list[socket.socket] = []
    while time.time() < deadline:
        try:
            held.append(_connect(path, authenticate=False))
        except OSError:
            time.sleep(0.01)
        if len(held) > MAXCLIENTS * 2:
            held.pop(0).close()
    for sock in held:
        sock.close()


def half_bulks(path: str, deadline: float) -> None:
    """Sends 20 MB of a 50 MB bulk, then disconnects; again and again."""
    chunk = b"x" * (1 << 20)
    while time.time() < deadline:
        with contextlib.suppress(OSError), _connect(path, authenticate=True) as sock:
            sock.sendall(b"*3\r\n$4\r\nHSET\r\n$4\r\nhalf\r\n$52428800\r\n")
            for _ in range(20):
                sock.sendall(chunk)


def bad_patterns(path: str, deadline: float) -> None:
    """KEYS, SCAN MATCH and CONFIG GET with patterns that make backtracking matchers
    explode."""
    requests = [encode_request(b"KEYS", b"*" * 40 + b"b"),
                encode_request(b"CONFIG", b"GET", b"*" * 30 + b"x"),
                encode_request(b"SCAN", b"0", b"MATCH", b"*a" * 500 + b"b", b"COUNT", b"1000")]
    while time.time() < deadline:
        with contextlib.suppress(OSError), _connect(path, authenticate=True) as sock:
            for request in requests:
                sock.sendall(request)
                sock.recv(1 << 16)


ATTACKERS: dict[str, tuple[Callable[..., None], tuple]] = {
    "never-reads (authenticated)": (never_reads, (True,)),
    "never-reads (unauthenticated)": (never_reads, (False,)),
    "slowloris": (slowloris, ()),
    "connection flood": (flood, ()),
    "mid-bulk disconnects": (half_bulks, ()),
    "pathological patterns": (bad_patterns, ()),
}


@dataclass
class Outcome:
    peak_rss: int
    baseline_rss: int
    worst_ping: float
    pings: int
    failures: list[str]


def attack(directory: Path, seconds: float) -> Outcome:
    """Start an arbiter, run every attacker for `seconds`, measure a good client."""
    arbiter = start_arbiter(directory, "--requirepass", PASSWORD,
                            "--maxclients", str(MAXCLIENTS))
    try:
        return _attack(arbiter.socket_path, arbiter.pid, seconds)
    finally:
        arbiter.stop()


def _attack(path: str, pid: int, seconds: float) -> Outcome:
    good = redis.Redis(unix_socket_path=path, password=PASSWORD, socket_timeout=10)
    good.hset("big", mapping={f"field:{i}": "x" * 40 for i in range(BIG_TABLE_FIELDS)})
    good.hset("good", mapping=GOOD_FIELDS)
    baseline = rss_bytes(pid)
    context = multiprocessing.get_context("spawn")
    deadline = time.time() + seconds
    attackers = [context.Process(target=target, args=(path, deadline, *extra), name=name,
                                 daemon=True)
                 for name, (target, extra) in ATTACKERS.items()]
    for process in attackers:
        process.start()
    peak, worst, pings, failures = baseline, 0.0, 0, []
    while time.time() < deadline:
        began = time.perf_counter()
        try:
            if good.ping() is not True or good.hgetall("good") != GOOD_FIELDS:
                failures.append("wrong answer")
        except redis.RedisError as exc:
            failures.append(repr(exc))
        worst = max(worst, time.perf_counter() - began)
        pings += 1
        peak = max(peak, rss_bytes(pid))
        time.sleep(0.01)
    for process in attackers:
        process.join(10)
        if process.is_alive():
            process.kill()
    good.close()
    return Outcome(peak, baseline, worst, pings, failures[:10])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ra-hostile-") as directory:
        outcome = attack(Path(directory), args.seconds)
    print(f"hostile: {len(ATTACKERS)} attackers for {args.seconds:.0f}s: "
          f"{', '.join(ATTACKERS)}")
    print(f"arbiter RSS: {outcome.baseline_rss / 2**20:.1f} MiB before, peak "
          f"{outcome.peak_rss / 2**20:.1f} MiB")
    print(f"well-behaved client: {outcome.pings} PING+HGETALL, worst "
          f"{outcome.worst_ping * 1000:.1f} ms, {len(outcome.failures)} failures")
    for failure in outcome.failures:
        print(f"  {failure}")
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(main())
