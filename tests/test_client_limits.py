"""Clients that do not read their replies, on real arbiter processes: what they may
cost (resident memory, other clients' latency), when they are closed, and that clients
which do read are never closed, however large a reply or a pipeline.

Each test starts its own arbiter, so that its memory figures are its own.
"""

from __future__ import annotations

import time
from pathlib import Path

import redis
from hostile import (
    MIB,
    PingWatch,
    closed_by_server,
    connect,
    read_exactly,
    send_until_closed,
)
from servers import PairFactory, ServerProcess, poll_until, start_arbiter
from servers import encode_request as command
from servers import process_memory as memory

PASSWORD = "s3cret"
LIMIT_LOG = "scheduled to be closed ASAP for overcoming of output buffer limits."
# A table whose HGETALL reply is about 35 KB: 30,000 of them make a gigabyte.
FIELDS = {f"field{i}": "v" * 20 for i in range(1000)}
# Other clients' PING while one client misbehaves: proves "does not stall", generously
# (before flow control, 30,000 unread HGETALLs made PING wait 2.6 s).
PING_BOUND = 1.0


def _client(server: ServerProcess, **options) -> redis.Redis:
    return redis.Redis(unix_socket_path=server.socket_path, protocol=2, **options)


def _stat(server: ServerProcess, name: str, **options) -> int:
    with _client(server, **options) as client:
        return client.info("stats")[name]


def _hgetall_reply(server: ServerProcess, key: str) -> bytes:
    """The exact bytes of one HGETALL reply."""
    with connect(server.socket_path) as sock:
        sock.sendall(command("HGETALL", key) + command("ECHO", "end"))
        data = b""
        while not data.endswith(b"$3\r\nend\r\n"):
            data += sock.recv(1 << 20)
    return data[:-len(b"$3\r\nend\r\n")]


def test_unauthenticated_client_that_never_reads_is_closed(server_pair: PairFactory) -> None:
    """Before AUTH, more than 16 KiB of replies may not wait (Redis 7.0.15 does the
    same: the flood is the one that grew an arbiter from 29 MB to 304 MB and on)."""
    flood = command("HGET", "h", "f") * 2000
    arbiter, redis_server = server_pair("--requirepass", PASSWORD)
    before = memory(arbiter.pid)
    assert send_until_closed(arbiter.socket_path, flood, timeout=30)
    assert memory(arbiter.pid)["VmHWM"] < before["VmHWM"] + 16 * MIB
    assert poll_until(lambda: LIMIT_LOG in arbiter.log_path.read_text())
    line = next(line for line in arbiter.log_path.read_text().splitlines()
                if LIMIT_LOG in line)
    assert "WARNING Client id=" in line and " cmd=" in line
    assert _stat(arbiter, "client_output_buffer_limit_disconnections",
                 password=PASSWORD) == 1
    assert send_until_closed(redis_server.socket_path, flood, timeout=30)
    assert poll_until(lambda: LIMIT_LOG in redis_server.log_path.read_text())


def test_client_that_never_reads_costs_little_and_is_served_when_it_reads(
        workdir: Path) -> None:
    """30,000 pipelined HGETALLs of a 1000-field table, unread: the arbiter stops
    running them while the replies wait (they used to add a gigabyte), other clients
    stay fast, the client gets its replies in order once it reads, and what it left
    unread is let go when it leaves."""
    count = 30_000
    with start_arbiter(workdir) as arbiter:
        with _client(arbiter) as client:
            client.hset("big", mapping=FIELDS)
        reply = _hgetall_reply(arbiter, "big")
        before = memory(arbiter.pid)
        payload = command("HGETALL", "big") * count
        received = _stat(arbiter, "total_net_input_bytes")
        with PingWatch(arbiter.socket_path) as watch, \
                connect(arbiter.socket_path) as sock:
            sock.sendall(payload)
            assert poll_until(lambda: _stat(arbiter, "total_net_input_bytes")
                              >= received + len(payload), timeout=30)
            held = memory(arbiter.pid)
            assert read_exactly(sock, reply, 1000)
        assert held["VmHWM"] < before["VmHWM"] + 32 * MIB
        assert watch.worst < PING_BOUND
        assert poll_until(lambda: memory(arbiter.pid)["VmRSS"] < before["VmRSS"] + 16 * MIB)


def test_client_that_keeps_sending_without_reading_is_closed_at_the_limit(
        workdir: Path) -> None:
    """Past the held input, requests run although replies wait (as in Redis), and
    client-output-buffer-limit closes the client: logged and counted as Redis does."""
    with start_arbiter(workdir, "--client-output-buffer-limit",
                       "normal 8mb 0 0") as arbiter:
        with _client(arbiter) as client:
            client.hset("big", mapping=FIELDS)
        before = memory(arbiter.pid)
        with PingWatch(arbiter.socket_path) as watch:
            assert send_until_closed(arbiter.socket_path,
                                     command("HGETALL", "big") * 10_000, timeout=60)
        # Held input (16 MiB), the replies up to the limit (8 MiB), slack for the rest.
        assert memory(arbiter.pid)["VmHWM"] < before["VmHWM"] + 64 * MIB
        assert watch.worst < PING_BOUND
        assert poll_until(lambda: LIMIT_LOG in arbiter.log_path.read_text())
        assert _stat(arbiter, "client_output_buffer_limit_disconnections") == 1
        with _client(arbiter) as client:
            assert client.ping()


def test_soft_limit_closes_a_client_whose_replies_stay_unread(workdir: Path) -> None:
    """A client with requests waiting behind replies it does not read is closed once
    those replies stay over the soft limit for its seconds (the cron keeps the clock);
    the same requests from a client that reads are served."""
    with start_arbiter(workdir, "--client-output-buffer-limit",
                       "normal 0 1mb 1") as arbiter:
        with _client(arbiter) as client:
            client.hset("large", mapping={f"f{i}": "x" * 100_000 for i in range(40)})
        reply = _hgetall_reply(arbiter, "large")
        with connect(arbiter.socket_path) as sock:
            sock.sendall(command("HGETALL", "large") * 3)
            assert read_exactly(sock, reply, 3)
        assert _stat(arbiter, "client_output_buffer_limit_disconnections") == 0
        with connect(arbiter.socket_path) as sock:
            sock.sendall(command("HGETALL", "large") * 3)
            assert poll_until(lambda: _stat(
                arbiter, "client_output_buffer_limit_disconnections") == 1, timeout=10)
            assert closed_by_server(sock, timeout=10)


def test_reply_over_the_hard_limit_with_requests_behind_it_is_served(
        workdir: Path) -> None:
    """A reply larger than the hard limit, with a request pipelined behind it, read a
    little later: no reply is cut for its size alone."""
    with start_arbiter(workdir, "--client-output-buffer-limit",
                       "normal 1mb 0 0") as arbiter:
        with _client(arbiter) as client:
            client.hset("large", mapping={f"f{i}": "x" * 100_000 for i in range(40)})
        reply = _hgetall_reply(arbiter, "large")
        with connect(arbiter.socket_path) as sock:
            sock.sendall(command("HGETALL", "large") + command("PING"))
            time.sleep(0.5)  # the cron checks held clients every 100 ms meanwhile
            assert read_exactly(sock, reply + b"+PONG\r\n")
        assert _stat(arbiter, "client_output_buffer_limit_disconnections") == 0


def test_reader_of_a_million_field_hgetall_is_never_closed(workdir: Path) -> None:
    """One HGETALL of a 1,000,000-field table, read by redis-py: with the default
    limits, and with limits far smaller than the reply (a reply is never cut while the
    client has not asked for more)."""
    with start_arbiter(workdir) as arbiter:
        with connect(arbiter.socket_path, timeout=120) as sock:
            for start in range(0, 1_000_000, 1000):
                sock.sendall(b"*2002\r\n$4\r\nHSET\r\n$5\r\ntable\r\n" + b"".join(
                    b"$13\r\nfield:%07d\r\n$13\r\nvalue:%07d\r\n" % (i, i)
                    for i in range(start, start + 1000)))
            sock.sendall(command("HLEN", "table"))
            assert read_exactly(sock, b":1000\r\n", 1000)
            assert read_exactly(sock, b":1000000\r\n")
        for limits in (None, "normal 1mb 1mb 0"):
            with _client(arbiter, socket_timeout=120) as client:
                if limits:
                    client.config_set("client-output-buffer-limit", limits)
                table = client.hgetall("table")
            assert len(table) == 1_000_000
            assert table[b"field:0999999"] == b"value:0999999"
        assert _stat(arbiter, "client_output_buffer_limit_disconnections") == 0


def test_pipelines_written_before_reading_complete(workdir: Path) -> None:
    """redis-py writes a whole pipeline before reading: the arbiter keeps reading while
    replies wait (pausing reads would deadlock), past the held input too."""
    with start_arbiter(workdir) as arbiter, \
            _client(arbiter, socket_timeout=120) as client:
        with client.pipeline(transaction=False) as pipe:
            for i in range(20_000):  # about 20 MB of requests, small replies
                pipe.hset("loaded", f"field{i}", "x" * 1000)
            assert pipe.execute() == [1] * 20_000
        client.hset("big", mapping={f"field{i}": "v" * 20 for i in range(200)})
        before = memory(arbiter.pid)
        with client.pipeline(transaction=False) as pipe:
            for _ in range(10_000):  # about 70 MB of replies
                pipe.hgetall("big")
            replies = pipe.execute()
        assert len(replies) == 10_000 and all(len(reply) == 200 for reply in replies)
        assert memory(arbiter.pid)["VmHWM"] < before["VmHWM"] + 16 * MIB

