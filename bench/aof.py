"""Write throughput with an append-only file: the arbiter beside redis-server, each with
no persistence, `appendfsync everysec` and `appendfsync always`; prints ratios.

Run from the repository root:

    python -m bench.aof            # full run, a few minutes at most
    python -m bench.aof --quick    # smoke run (tests), well under 30 seconds

Six servers run side by side on Unix sockets in one temporary directory (each with its
own AOF directory), all stopped by PID however the run ends. Every measurement is
repeated, alternating the servers, and the best round counts. The last column answers
the question the AOF design has to meet: the arbiter's write throughput under
`everysec` should be within 20% of its throughput without persistence.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # `python bench/aof.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench import redis_benchmark
from bench.client_loops import Limits, timed
from bench.run import best_of, guarded
from bench.servers import (
    ServerProcess,
    require_binary,
    start_arbiter,
    start_redis,
)

POLICIES = ("none", "everysec", "always")
EVERYSEC_TARGET = 0.80  # everysec keeps at least this share of the no-persistence rate


@dataclass(frozen=True)
class Settings:
    requests: int  # redis-benchmark requests per run (none, everysec)
    always_requests: int  # under always every batch waits for an fsync: fewer
    limits: Limits
    rounds: int


QUICK = Settings(requests=3000, always_requests=1000, limits=Limits(500, 0.3), rounds=1)
FULL = Settings(requests=100_000, always_requests=20_000, limits=Limits(20_000, 1.5),
                rounds=3)

WORKLOADS = (
    redis_benchmark.Workload("HSET -c 50", ("-t", "hset")),
    redis_benchmark.Workload("HSET -c 50 -P 16", ("-t", "hset", "-P", "16")),
)
REDIS_PY = "HSET, one redis-py connection"


def _aof_options(policy: str) -> tuple[str, ...]:
    if policy == "none":
        return ("--appendonly", "no")
    return ("--appendonly", "yes", "--appendfsync", policy,
            "--auto-aof-rewrite-percentage", "0", "--aof-use-rdb-preamble", "no")


def start_redis_with(directory: Path, policy: str) -> ServerProcess:
    directory.mkdir()
    return start_redis(directory, "--dir", str(directory), *_aof_options(policy),
                       name=f"redis-{policy}")


def start_arbiter_with(directory: Path, policy: str) -> ServerProcess:
    directory.mkdir()
    return start_arbiter(directory, "--dir", str(directory), *_aof_options(policy),
                         name=f"arbiter-{policy}")


@dataclass(frozen=True)
class Result:
    """Throughput, and the server's own CPU time per operation (user + system): the
    second barely moves with other load on the machine, the first does."""

    per_second: float
    cpu_us: float


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _redis_py_hset(socket_path: str, limits: Limits) -> tuple[float, int]:
    with redis.Redis(unix_socket_path=socket_path) as client:
        hset = client.hset
        rate = timed(lambda i: hset("bench:aof", f"f{i % 1000}", "x" * 32), limits)
    return rate.per_second, rate.ops


def _measure(server: ServerProcess, policy: str, settings: Settings):
    requests = settings.always_requests if policy == "always" else settings.requests

    def one(run) -> Result:
        before = _cpu_seconds(server.pid)
        per_second, ops = run()
        return Result(per_second, (_cpu_seconds(server.pid) - before) / ops * 1e6)

    def benchmark(workload: redis_benchmark.Workload):
        return lambda: (redis_benchmark.run(server.socket_path, workload, requests)
                        .per_second, requests)

    def measure() -> dict:
        results = {workload.name: one(benchmark(workload)) for workload in WORKLOADS}
        results[REDIS_PY] = one(lambda: _redis_py_hset(server.socket_path, settings.limits))
        return results
    return measure


def run(settings: Settings) -> list[tuple[str, str, Result, Result]]:
    """(workload, policy, redis-server's result, the arbiter's) for every combination."""
    for binary in ("redis-server", "redis-benchmark"):
        require_binary(binary)
    with tempfile.TemporaryDirectory(prefix="raa-") as name, contextlib.ExitStack() as stack:
        root = Path(name)
        targets = {}
        pids = []
        for policy in POLICIES:
            for kind, start in (("redis", start_redis_with), ("arbiter", start_arbiter_with)):
                server = start(root / f"{kind}-{policy}", policy)
                stack.callback(server.stop)
                pids.append(f"{server.name} {server.pid}")
                targets[(kind, policy)] = _measure(server, policy, settings)
        print("pids: " + ", ".join(pids))
        print(f"redis-benchmark: {settings.requests} requests ({settings.always_requests} "
              f"under always), 50 clients; redis-py: up to {settings.limits.ops} HSETs or "
              f"{settings.limits.seconds:g} s; best of {settings.rounds}")
        best = best_of(settings.rounds, {f"{k}/{p}": m for (k, p), m in targets.items()})
    names = [workload.name for workload in WORKLOADS] + [REDIS_PY]
    return [(name, policy, best[f"redis/{policy}"][name], best[f"arbiter/{policy}"][name])
            for name in names for policy in POLICIES]


def print_report(rows: list[tuple[str, str, Result, Result]]) -> bool:
    """The table; returns whether everysec met its target on every workload."""
    none = {name: (on_redis, on_arbiter) for name, policy, on_redis, on_arbiter in rows
            if policy == "none"}
    header = ("workload (ops/s)", "appendfsync", "redis-server", "arbiter", "arbiter/redis",
              "redis vs none", "arbiter vs none", "arbiter CPU us/op")
    lines = []
    met = True
    for name, policy, on_redis, on_arbiter in rows:
        redis_none, arbiter_none = none[name]
        kept = on_arbiter.per_second / arbiter_none.per_second
        verdict = ""
        if policy == "everysec":
            ok = kept >= EVERYSEC_TARGET
            met = met and ok
            verdict = " ok" if ok else " BELOW TARGET"
        lines.append((name, policy, f"{on_redis.per_second:,.0f}",
                      f"{on_arbiter.per_second:,.0f}",
                      f"{on_arbiter.per_second / on_redis.per_second:.2f}",
                      f"{on_redis.per_second / redis_none.per_second:.2f}",
                      f"{kept:.2f}{verdict}", f"{on_arbiter.cpu_us:.1f}"))
    widths = [max(len(line[i]) for line in (header, *lines)) for i in range(len(header))]
    print("\n## AOF write throughput (ratios: arbiter / redis-server; with AOF / without)")
    for line in (header, tuple("-" * w for w in widths), *lines):
        cells = [cell.rjust(width) for cell, width in zip(line, widths, strict=True)]
        print("  ".join([line[0].ljust(widths[0]), line[1].ljust(widths[1]), *cells[2:]]))
    print(f"\neverysec keeps >= {EVERYSEC_TARGET:.0%} of the arbiter's no-persistence "
          f"throughput on every workload: {'yes' if met else 'NO'}")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.aof", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small counts: a smoke run for tests (figures not comparable)")
    args = parser.parse_args(argv)
    return guarded(lambda: print_report(run(QUICK if args.quick else FULL)))


if __name__ == "__main__":
    sys.exit(main())
