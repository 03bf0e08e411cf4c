"""Active expiry reclaims expiring fields nobody touches, in small steps that keep other
clients served. The worst PING latency seen meanwhile is printed (a figure to report,
not a threshold: timing limits belong in bench/)."""

from __future__ import annotations

import threading
import time

import redis
from servers import poll_until, start_arbiter

FIELDS = 100_000


def _stat(client: redis.Redis, name: str) -> int:
    return int(client.info("stats")[name])


def test_active_expiry_reclaims_untouched_fields(tmp_path, capsys):
    with start_arbiter(tmp_path) as arbiter, \
            redis.Redis(unix_socket_path=arbiter.socket_path) as client:
        names = [f"f{i}" for i in range(FIELDS)]
        client.hset("sessions", mapping=dict.fromkeys(names, "x"))
        codes = client.execute_command("HPEXPIRE", "sessions", 200, "FIELDS", FIELDS, *names)
        assert codes == [1] * FIELDS
        client.hset("sessions", "keeper", "stays")

        worst = 0.0
        done = threading.Event()

        def ping_loop() -> None:
            nonlocal worst
            with redis.Redis(unix_socket_path=arbiter.socket_path) as pinger:
                while not done.is_set():
                    start = time.perf_counter()
                    assert pinger.ping()
                    worst = max(worst, time.perf_counter() - start)

        pinger = threading.Thread(target=ping_loop)
        pinger.start()
        try:
            deadline = time.monotonic() + 60
            while _stat(client, "expired_subkeys") < FIELDS and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            done.set()
            pinger.join()
        # Reclaimed by the cron alone: nothing read the table while it happened.
        assert _stat(client, "expired_subkeys") == FIELDS
        assert client.hgetall("sessions") == {b"keeper": b"stays"}
    with capsys.disabled():
        print(f"\nactive expiry of {FIELDS} fields: worst PING latency {worst * 1000:.1f} ms")


def test_active_expiry_covers_every_database(tmp_path):
    """Keys and fields with a TTL in several databases, never read again: the cron
    reclaims them all, and INFO's counters and keyspace lines cover every database."""
    with start_arbiter(tmp_path) as arbiter:
        clients = {db: redis.Redis(unix_socket_path=arbiter.socket_path, db=db)
                   for db in (0, 4, 15)}
        try:
            for client in clients.values():
                for i in range(50):
                    client.hset(f"k{i}", mapping={"a": "1", "b": "2"})
                    client.pexpire(f"k{i}", 100)
                client.hset("fields", mapping={"x": "1", "keep": "2"})
                client.execute_command("HPEXPIRE", "fields", 100, "FIELDS", 1, "x")
            first = clients[0]
            keyspace = first.info("keyspace")
            assert {name: value["keys"] for name, value in keyspace.items()} == {
                "db0": 51, "db4": 51, "db15": 51}
            assert poll_until(lambda: _stat(first, "expired_keys") == 150)
            assert poll_until(lambda: _stat(first, "expired_subkeys") == 3)
            assert {name: (value["keys"], value["expires"])
                    for name, value in first.info("keyspace").items()} == {
                "db0": (1, 0), "db4": (1, 0), "db15": (1, 0)}
            for client in clients.values():
                assert client.hgetall("fields") == {b"keep": b"2"}
        finally:
            for client in clients.values():
                client.close()
