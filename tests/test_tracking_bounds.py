"""Hostile CLIENT TRACKING clients: what each costs the arbiter is bounded.

- A client that reads two million distinct keys: the tracking table never holds more than
  `tracking-table-max-keys`; the keys pushed out are invalidated (the client is told).
- A client that tracks every key but never reads its invalidations: its pushes count as
  output, and `client-output-buffer-limit` closes it.
"""

from __future__ import annotations

import socket
from pathlib import Path

import hiredis
import redis
from differential.harness import encode
from servers import poll_until, process_memory, start_arbiter

MAX_KEYS = 10_000
DISTINCT_KEYS = 2_000_000
BATCH = 1000  # keys per MGET
WINDOW = 20  # MGETs in flight


def _stat(client: redis.Redis, name: str) -> int:
    return int(client.info()[name])


def test_two_million_tracked_keys_stay_within_the_table_bound(tmp_path: Path) -> None:
    with start_arbiter(tmp_path, "--tracking-table-max-keys", str(MAX_KEYS)) as arbiter:
        admin = redis.Redis(unix_socket_path=arbiter.socket_path, protocol=2)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(arbiter.socket_path)
        reader = hiredis.Reader()
        sock.sendall(encode(["HELLO", "3"]) + encode(["CLIENT", "TRACKING", "on"]))
        replies: list = []
        invalidated = 0

        def take(count: int) -> None:
            """Read `count` replies, counting the invalidation pushes met on the way."""
            nonlocal invalidated
            got = 0
            while got < count:
                item = reader.gets()
                if item is False:
                    reader.feed(sock.recv(1 << 20))
                elif isinstance(item, list) and item[:1] == [b"invalidate"]:
                    invalidated += len(item[1])
                else:
                    replies.append(item)
                    got += 1
                    del replies[:-1]

        take(2)
        peak_table = 0
        start_rss = process_memory(arbiter.pid)["VmRSS"]
        batches = DISTINCT_KEYS // BATCH
        for first in range(0, batches, WINDOW):
            window = range(first, min(first + WINDOW, batches))
            sock.sendall(b"".join(
                encode(["MGET", *(b"key:%d" % (b * BATCH + i) for i in range(BATCH))])
                for b in window))
            take(len(window))
            if first % 200 == 0:
                peak_table = max(peak_table, _stat(admin, "tracking_total_keys"))
        sock.sendall(encode(["PING"]))
        take(1)
        assert replies[-1] == b"PONG"
        assert 0 < peak_table <= MAX_KEYS
        assert _stat(admin, "tracking_total_keys") == MAX_KEYS
        assert _stat(admin, "tracking_total_items") == MAX_KEYS
        # Every key pushed out of the table was invalidated, after the reply that read it.
        assert invalidated == DISTINCT_KEYS - MAX_KEYS
        # 2M keys of 10 bytes would cost hundreds of MB if the table were unbounded.
        assert process_memory(arbiter.pid)["VmRSS"] - start_rss < 100 * 1024 * 1024
        sock.close()
        admin.close()


def test_a_client_that_never_reads_its_invalidations_is_closed(tmp_path: Path) -> None:
    limit = 1024 * 1024
    with start_arbiter(tmp_path, "--client-output-buffer-limit",
                       f"normal {limit} {limit // 2} 60") as arbiter:
        writer = redis.Redis(unix_socket_path=arbiter.socket_path, protocol=2)
        silent = socket.socket(socket.AF_UNIX)
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        silent.connect(arbiter.socket_path)
        silent.sendall(encode(["HELLO", "3"]) + encode(["CLIENT", "TRACKING", "on", "BCAST"]))
        assert poll_until(lambda: any("t" in c["flags"] for c in writer.client_list()))
        start_rss = process_memory(arbiter.pid)["VmRSS"]
        value = b"v"
        # Each MSET makes one broadcast of 1000 long key names (about 200 KB).
        for round_ in range(200):
            writer.mset({b"%0200d" % (round_ * 1000 + i): value for i in range(1000)})
            if _stat(writer, "client_output_buffer_limit_disconnections"):
                break
        assert _stat(writer, "client_output_buffer_limit_disconnections") == 1
        assert poll_until(lambda: _stat(writer, "tracking_clients") == 0)
        assert len(writer.client_list()) == 1
        # What waited for the silent client was dropped with it.
        assert process_memory(arbiter.pid)["VmRSS"] - start_rss < 64 * 1024 * 1024
        silent.close()
        writer.close()
