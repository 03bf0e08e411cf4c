"""A soak run: several client processes with a mixed workload against one arbiter.

    python -m bench.soak --seconds 600 --clients 4

Each client process runs redis-py (one connection) through hash writes and reads, field
and key expiry, scans, transactions and deletes over a bounded set of tables, for the
given time. The run reports the errors (any error fails it), the operations done, the
latency p50/p99/max across all clients, and the arbiter's RSS: after warm-up (the first
tenth of the run) and at the end, with the growth between them.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path

import redis

from bench.servers import process_memory, start_arbiter

TABLES = 200
FIELDS = 500
WARM_UP_SHARE = 0.1
SAMPLE_EVERY = 1.0


def rss_bytes(pid: int) -> int:
    return process_memory(pid)["VmRSS"]


def _operation(client: redis.Redis, rng: random.Random) -> None:
    table = f"soak:{rng.randrange(TABLES)}"
    field = f"f{rng.randrange(FIELDS)}"
    roll = rng.random()
    if roll < 0.30:
        client.hset(table, field, rng.randbytes(rng.randrange(1, 200)))
    elif roll < 0.60:
        client.hget(table, field)
    elif roll < 0.68:
        client.hincrby(table, "counter", 1)
    elif roll < 0.74:
        client.hdel(table, field)
    elif roll < 0.78:
        client.hgetall(table)
    elif roll < 0.82:
        client.hscan(table, 0, match="f1*", count=50)
    elif roll < 0.86:
        client.hexpire(table, rng.randrange(1, 5), field)
    elif roll < 0.89:
        client.expire(table, rng.randrange(2, 30))
    elif roll < 0.92:
        with client.pipeline(transaction=True) as pipe:
            pipe.hset(table, mapping={field: b"x", "other": b"y"}).hlen(table).execute()
    elif roll < 0.95:
        client.scan(0, match="soak:1*", count=100)
    elif roll < 0.97:
        client.delete(table)
    else:
        client.unlink(table)


def client_loop(path: str, seconds: float, seed: int, results: multiprocessing.Queue) -> None:
    """One client process: operations until the time is up, then its latencies."""
    rng = random.Random(seed)
    client = redis.Redis(unix_socket_path=path, socket_timeout=10)
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.perf_counter()
        try:
            _operation(client, rng)
        except redis.RedisError as exc:
            errors.append(repr(exc))
        latencies.append(time.perf_counter() - began)
    client.close()
    results.put((latencies, errors[:20], len(errors)))


def percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


def soak(seconds: float, clients: int) -> int:
    with tempfile.TemporaryDirectory(prefix="ra-soak-") as directory:
        arbiter = start_arbiter(Path(directory))
        try:
            return _run(arbiter.socket_path, arbiter.pid, seconds, clients)
        finally:
            arbiter.stop()


def _run(path: str, pid: int, seconds: float, clients: int) -> int:
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    workers = [context.Process(target=client_loop, args=(path, seconds, seed, results))
               for seed in range(clients)]
    for worker in workers:
        worker.start()
    started = time.monotonic()
    warm_rss = 0
    peak_rss = 0
    while any(worker.is_alive() for worker in workers) and results.qsize() < clients:
        rss = rss_bytes(pid)
        peak_rss = max(peak_rss, rss)
        if not warm_rss and time.monotonic() - started >= seconds * WARM_UP_SHARE:
            warm_rss = rss
        time.sleep(SAMPLE_EVERY)
    end_rss = rss_bytes(pid)
    latencies: list[float] = []
    shown_errors: list[str] = []
    error_count = 0
    for _ in workers:
        values, some_errors, count = results.get(timeout=60)
        latencies += values
        shown_errors += some_errors
        error_count += count
    for worker in workers:
        worker.join(10)
    latencies.sort()
    warm_rss = warm_rss or end_rss
    growth = (end_rss - warm_rss) / warm_rss * 100
    print(f"soak: {clients} clients x {seconds:.0f}s, {len(latencies)} operations "
          f"({len(latencies) / seconds:.0f}/s), {error_count} errors")
    print(f"latency: p50 {percentile(latencies, 0.5) * 1e6:.0f} us, "
          f"p99 {percentile(latencies, 0.99) * 1e6:.0f} us, "
          f"max {latencies[-1] * 1e3:.1f} ms")
    print(f"arbiter RSS: {warm_rss / 2**20:.1f} MiB after warm-up, "
          f"{end_rss / 2**20:.1f} MiB at the end ({growth:+.1f}%), "
          f"peak {peak_rss / 2**20:.1f} MiB")
    for error in shown_errors:
        print(f"  error: {error}")
    return 1 if error_count else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    return soak(args.seconds, args.clients)


if __name__ == "__main__":
    sys.exit(main())
