"""redis-benchmark runs against a Unix socket, and the parsing of their figures.

redis-benchmark is the neutral load generator: a C client that both servers see in the
same way, with 50 connections and optional pipelining. `--csv` output is parsed (it is
the machine-readable form of `-q`'s "N requests per second" line, plus latencies).
"""

from __future__ import annotations

import csv
import subprocess
from dataclasses import dataclass

from .servers import SetupError, require_binary

CLIENTS = 50
PIPELINE = 16
DEEP_PIPELINE = 32
# `hget myhash element:__rand_int__ -r N` reads N distinct fields; `seed_fields` sets them
# beforehand (on both servers alike) so that every request hits.
RANDOM_FIELDS = 100_000


@dataclass(frozen=True)
class Workload:
    """One redis-benchmark invocation: a name for the table and its arguments."""

    name: str
    args: tuple[str, ...]


def _hget_random(*options: str) -> tuple[str, ...]:
    return (*options, "-r", str(RANDOM_FIELDS), "hget", "myhash", "element:__rand_int__")


WORKLOADS = (
    Workload("HSET  (-t hset, -c 50)", ("-t", "hset")),
    Workload("HSET  (-t hset, -c 50, -P 16)", ("-t", "hset", "-P", str(PIPELINE))),
    Workload("HSET  (-t hset, -c 50, -P 32)", ("-t", "hset", "-P", str(DEEP_PIPELINE))),
    Workload("HGET  (hget myhash element:1, -c 50)", ("hget", "myhash", "element:1")),
    Workload("HGET  (hget myhash element:1, -c 50, -P 16)",
             ("-P", str(PIPELINE), "hget", "myhash", "element:1")),
    Workload("HGET  (random fields, -c 50)", _hget_random()),
    Workload("HGET  (random fields, -c 50, -P 32)", _hget_random("-P", str(DEEP_PIPELINE))),
)


def seed_fields(socket_path: str) -> None:
    """Set `myhash` fields `element:1` and every `element:__rand_int__` the random HGET
    workloads draw (redis-benchmark pads the number to 12 digits), 1000 a command."""
    import redis

    with redis.Redis(unix_socket_path=socket_path) as client:
        client.hset("myhash", "element:1", "xxx")
        for start in range(0, RANDOM_FIELDS, 1000):
            client.hset("myhash", mapping={f"element:{n:012d}": "xxx"
                                           for n in range(start, start + 1000)})


@dataclass(frozen=True)
class Throughput:
    per_second: float
    p50_ms: float


def run(socket_path: str, workload: Workload, requests: int) -> Throughput:
    """Run `workload` against the server on `socket_path`; its figures."""
    argv = [require_binary("redis-benchmark"), "-s", socket_path, "-c", str(CLIENTS),
            "-n", str(requests), "--csv", *workload.args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SetupError(f"redis-benchmark failed ({done.returncode}): "
                              f"{done.stderr.strip() or done.stdout.strip()}")
    return parse_csv(done.stdout)


def parse_csv(output: str) -> Throughput:
    """The one result row of `redis-benchmark --csv` output."""
    rows = [row for row in csv.DictReader(output.splitlines()) if row.get("rps")]
    if len(rows) != 1:
        raise SetupError(f"unexpected redis-benchmark output: {output!r}")
    return Throughput(float(rows[0]["rps"]), float(rows[0]["p50_latency_ms"]))
