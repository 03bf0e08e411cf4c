"""Benchmark the arbiter against redis-server and gunicorn's own stash; print ratios.

Run from the repository root:

    python -m bench.run            # full run, a few minutes at most
    python -m bench.run --quick    # smoke run, well under 20 seconds
    python -m bench.run --profile arbiter.prof   # cProfile the arbiter under redis-benchmark

(`python bench/run.py ...` works as well.) The run starts its own redis-server, arbiter
and, when gunicorn 25+ is installed, a gunicorn master with a dirty arbiter, all on Unix
sockets in one temporary directory, and stops them by PID however it ends. A missing
redis-server or redis-benchmark fails the run: a comparison with one side missing is void.
Ratios are arbiter / other, in operations per second: above 1 means the arbiter is faster.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import pstats
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import client_loops, gunicorn_startup, memory, redis_benchmark
from bench.client_loops import Limits, Rate
from bench.servers import (
    GunicornStash,
    ServerProcess,
    SetupError,
    require_binary,
    start_arbiter,
    start_redis,
)


@dataclass(frozen=True)
class Settings:
    """Sizes of one run. Every measurement is repeated `rounds` times, alternating the
    servers, and the best round counts: other load on the machine only ever slows a
    round down, so the best one is the least disturbed."""

    benchmark_requests: int
    loop_limits: Limits
    rounds: int
    memory_elements: int
    piped_requests: int
    startup_rounds: int


QUICK = Settings(benchmark_requests=2000, loop_limits=Limits(ops=2000, seconds=0.4),
                 rounds=1, memory_elements=5000, piped_requests=2000, startup_rounds=1)
FULL = Settings(benchmark_requests=100_000, loop_limits=Limits(ops=100_000, seconds=1.5),
                rounds=3, memory_elements=1_000_000, piped_requests=100_000,
                startup_rounds=7)


@dataclass
class Row:
    """One line of the summary: operations per second on each server (None: not run)."""

    benchmark: str
    redis: float | None
    arbiter: float | None
    gunicorn: float | None = None


@dataclass
class Cost:
    """One line of the costs summary (lower is better): bytes or seconds on each server."""

    benchmark: str
    redis: float
    arbiter: float


@dataclass
class Report:
    rows: list[Row]
    notes: list[str]
    costs: list[Cost] = field(default_factory=list)


# -- sections ---------------------------------------------------------------------------

Measure = Callable[[], dict]


def best_of(rounds: int, targets: dict[str, Measure]) -> dict[str, dict]:
    """Run each target's measurement `rounds` times, alternating targets; keep, for each
    target and each measurement name, the round with the most operations per second."""
    best: dict[str, dict] = {label: {} for label in targets}
    for _ in range(rounds):
        for label, measure in targets.items():
            for name, result in measure().items():
                kept = best[label].get(name)
                if kept is None or result.per_second > kept.per_second:
                    best[label][name] = result
    return best


def bench_redis_benchmark(redis: ServerProcess, arbiter: ServerProcess, settings: Settings,
                          report: Report) -> None:
    requests = settings.benchmark_requests
    print(f"\n## redis-benchmark, {requests} requests, {redis_benchmark.CLIENTS} clients, "
          f"best of {settings.rounds} (requests/s, p50 latency)")

    def measure(server: ServerProcess) -> Measure:
        redis_benchmark.seed_fields(server.socket_path)
        return lambda: {workload.name: redis_benchmark.run(server.socket_path, workload,
                                                           requests)
                        for workload in redis_benchmark.WORKLOADS}

    best = best_of(settings.rounds, {"redis": measure(redis), "arbiter": measure(arbiter)})
    for workload in redis_benchmark.WORKLOADS:
        on_redis, on_arbiter = best["redis"][workload.name], best["arbiter"][workload.name]
        print(f"{workload.name:<46} redis-server {on_redis.per_second:>11,.0f} "
              f"({on_redis.p50_ms:.3f} ms)  arbiter {on_arbiter.per_second:>11,.0f}"
              f" ({on_arbiter.p50_ms:.3f} ms)")
        report.rows.append(Row(f"redis-benchmark {workload.name}", on_redis.per_second,
                               on_arbiter.per_second))


def bench_memory(directory: Path, settings: Settings, report: Report) -> None:
    count = settings.memory_elements
    print(f"\n## memory: RSS growth per element, {count:,} elements, fresh servers for "
          "each workload (bytes)")
    for name, on_redis, on_arbiter, _ in memory.memory_rows(directory, count):
        print(f"{name:<32} redis-server {on_redis:>8.1f}   arbiter {on_arbiter:>8.1f}")
        report.costs.append(Cost(f"memory: {name} (bytes each)", on_redis, on_arbiter))


def bench_pipe(directory: Path, redis: ServerProcess, arbiter: ServerProcess,
               settings: Settings, report: Report) -> None:
    count = settings.piped_requests
    print(f"\n## redis-cli --pipe, {count:,} HSETs of distinct fields, best of "
          f"{settings.rounds} (seconds)")
    data = directory / "pipe.resp"
    memory.write_pipe_file(data, count)
    best = {"redis": float("inf"), "arbiter": float("inf")}
    for _ in range(settings.rounds):
        for label, server in (("redis", redis), ("arbiter", arbiter)):
            best[label] = min(best[label], memory.pipe_seconds(server, data))
    print(f"{'redis-cli --pipe':<32} redis-server {best['redis']:>8.3f}   "
          f"arbiter {best['arbiter']:>8.3f}")
    report.costs.append(Cost(f"redis-cli --pipe, {count // 1000}k HSETs (seconds)",
                             best["redis"], best["arbiter"]))


STARTUP = "gunicorn start to 1st response (ms), 2 workers: without / with arbiter"


def bench_startup(settings: Settings, report: Report) -> None:
    rounds = settings.startup_rounds
    print(f"\n## gunicorn, 2 sync workers, process start to first HTTP response, best of "
          f"{rounds} (ms)")
    times = gunicorn_startup.measure(rounds)
    print(gunicorn_startup.describe(times))
    report.costs.append(Cost(STARTUP, times.without_arbiter, times.with_arbiter))


def bench_redis_py(redis: ServerProcess, arbiter: ServerProcess, settings: Settings,
                   report: Report) -> None:
    limits = settings.loop_limits
    print(f"\n## redis-py {_redis_py_version()}, one sync connection, RESP3, best of "
          f"{settings.rounds} (up to {limits.ops} ops or {limits.seconds:g} s per loop)")
    best = best_of(settings.rounds, {
        label: (lambda server=server: client_loops.redis_py_loops(server.socket_path, limits))
        for label, server in (("redis", redis), ("arbiter", arbiter))})
    for name, redis_rate in best["redis"].items():
        arbiter_rate = best["arbiter"][name]
        print(f"{name:<32} redis-server {_rate(redis_rate)}   arbiter {_rate(arbiter_rate)}")
        report.rows.append(Row(f"redis-py {name}", redis_rate.per_second,
                               arbiter_rate.per_second))


def _stash_measure(factory: Callable[[], tuple[Callable, Callable, Callable]],
                   limits: Limits) -> Measure:
    """A measurement of put/get through the (put, get, close) calls `factory` makes."""
    def measure() -> dict[str, Rate]:
        put, get, close = factory()
        try:
            return client_loops.stash_loops(put, get, limits)
        finally:
            close()
    return measure


def _gunicorn_stash_calls(socket_path: str) -> tuple[Callable, Callable, Callable]:
    from gunicorn.dirty.stash import StashClient

    client = StashClient(socket_path)
    return client.put, client.get, client.close


REDIS_PY = "redis-py HSET/HGET on {}"
GUNICORN = "gunicorn.dirty.stash on gunicorn's dirty arbiter"
EXT = "gunicorn_ext.stash on {}"


def bench_stash(redis: ServerProcess, arbiter: ServerProcess, gunicorn: GunicornStash | None,
                settings: Settings, report: Report) -> None:
    limits = settings.loop_limits
    print(f"\n## stash put/get of a 32-character str, one worker-like client, best of "
          f"{settings.rounds}")
    servers = (("redis-server", redis), ("arbiter", arbiter))
    targets: dict[str, Measure] = {}
    for label, server in servers:
        targets[REDIS_PY.format(label)] = _stash_measure(
            lambda path=server.socket_path: client_loops.redis_py_stash_calls(path), limits)
    if gunicorn is not None:
        targets[GUNICORN] = _stash_measure(
            lambda: _gunicorn_stash_calls(gunicorn.socket_path), limits)
    ext = _gunicorn_ext_stash()
    if isinstance(ext, str):
        report.notes.append(ext)
    else:
        for label, server in servers:
            targets[EXT.format(label)] = _stash_measure(
                lambda path=server.socket_path: ext(path), limits)
    best = best_of(settings.rounds, targets)
    for source, rates in best.items():
        print(f"{source:<50} put {_rate(rates['put'])}   get {_rate(rates['get'])}")
    gunicorn_rates = best.get(GUNICORN)
    for op in ("put", "get"):
        on_gunicorn = gunicorn_rates[op].per_second if gunicorn_rates else None
        command = "HSET" if op == "put" else "HGET"
        report.rows.append(Row(f"stash {op}: redis-py {command} vs gunicorn stash.{op}",
                               best[REDIS_PY.format("redis-server")][op].per_second,
                               best[REDIS_PY.format("arbiter")][op].per_second, on_gunicorn))
        if EXT.format("arbiter") in best:
            report.rows.append(Row(f"stash {op}: gunicorn_ext.stash.{op} vs gunicorn "
                                   f"stash.{op}",
                                   best[EXT.format("redis-server")][op].per_second,
                                   best[EXT.format("arbiter")][op].per_second, on_gunicorn))


def _gunicorn_ext_stash() -> Callable[[str], tuple[Callable, Callable, Callable]] | str:
    """A factory of (put, get, close) through `gunicorn_ext.stash` for a socket path, or
    the reason it cannot be measured: the documented module functions, pointed at the
    server with `configure(url=...)` as a worker would be through GUNICORN_STASH_URL."""
    if importlib.util.find_spec("gunicorn_ext") is None:
        return "gunicorn_ext is not importable: its rows were not measured"
    from gunicorn_ext import stash

    def calls(socket_path: str) -> tuple[Callable, Callable, Callable]:
        stash.configure(url=f"unix://{socket_path}")
        return stash.put, stash.get, lambda: stash.configure(url=None)

    return calls


def gunicorn_stash_unavailable() -> str | None:
    """Why gunicorn's own stash cannot run here, or None when it can."""
    if importlib.util.find_spec("gunicorn") is None:
        return "gunicorn is not installed"
    import gunicorn

    if importlib.util.find_spec("gunicorn.dirty") is None:
        return (f"gunicorn {gunicorn.__version__} has no dirty arbiter "
                "(its stash needs gunicorn 25.1+)")
    if importlib.util.find_spec("gunicorn.dirty.stash") is None:
        return f"gunicorn {gunicorn.__version__} has no stash (it needs gunicorn 25.1+)"
    return None


# -- output -----------------------------------------------------------------------------


def _rate(rate: Rate) -> str:
    return f"{rate.per_second:>10,.0f} ops/s {rate.micros:>7.1f} us/op"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _figure(value: float) -> str:
    return f"{value:,.1f}" if value >= 10 else f"{value:.3f}"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}"


def print_summary(report: Report) -> None:
    header = ("benchmark (ops/s)", "redis-server", "arbiter", "arbiter/redis",
              "gunicorn stash", "arbiter/gunicorn")
    lines = [(row.benchmark, _number(row.redis), _number(row.arbiter),
              _ratio(row.arbiter, row.redis), _number(row.gunicorn),
              _ratio(row.arbiter, row.gunicorn)) for row in report.rows]
    widths = [max(len(line[i]) for line in (header, *lines)) for i in range(len(header))]
    print("\n## Summary (ratios: arbiter / other; above 1 means the arbiter is faster)")
    for line in (header, tuple("-" * w for w in widths), *lines):
        cells = [cell.rjust(width) for cell, width in zip(line, widths, strict=True)]
        print("  ".join([line[0].ljust(widths[0]), *cells[1:]]))
    if report.costs:
        header = ("cost (lower is better)", "redis-server", "arbiter", "arbiter/redis")
        lines = [(cost.benchmark, _figure(cost.redis), _figure(cost.arbiter),
                  _ratio(cost.arbiter, cost.redis)) for cost in report.costs]
        widths = [max(len(line[i]) for line in (header, *lines)) for i in range(4)]
        print()
        for line in (header, tuple("-" * w for w in widths), *lines):
            cells = [cell.rjust(width) for cell, width in zip(line, widths, strict=True)]
            print("  ".join([line[0].ljust(widths[0]), *cells[1:]]))
    for note in report.notes:
        print(f"note: {note}")


# -- profiling --------------------------------------------------------------------------


def profile(directory: Path, output: Path, requests: int) -> None:
    """redis-benchmark HSET and HGET against an arbiter running under cProfile."""
    arbiter = start_arbiter(directory, prefix=("-m", "cProfile", "-o", str(output)))
    try:
        redis_benchmark.seed_fields(arbiter.socket_path)
        for workload in redis_benchmark.WORKLOADS:
            result = redis_benchmark.run(arbiter.socket_path, workload, requests)
            print(f"{workload.name:<46} {result.per_second:>11,.0f} requests/s "
                  "(under cProfile)")
    finally:
        arbiter.stop()
    stats = pstats.Stats(str(output))
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(25)


# -- main -------------------------------------------------------------------------------


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so that every server started is stopped."""
    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def guarded(work: Callable[[], object]) -> int:
    """Run `work` and give the exit status: 0 when it completes, 1 when a server or tool
    it needs is missing or did not start, 130 on Ctrl-C (its servers are stopped)."""
    try:
        with _terminate_as_exit():
            work()
    except SetupError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    return 0


def _redis_py_version() -> str:
    import redis

    return redis.__version__


SECTIONS = ("redis-benchmark", "redis-py", "stash", "pipe", "memory", "startup")


def run(settings: Settings, only: frozenset[str] = frozenset(SECTIONS)) -> Report:
    for binary in ("redis-server", "redis-benchmark"):
        require_binary(binary)
    report = Report([], [])
    unavailable = gunicorn_stash_unavailable()
    with tempfile.TemporaryDirectory(prefix="rab-") as name, contextlib.ExitStack() as stack:
        directory = Path(name)
        redis = start_redis(directory)
        stack.callback(redis.stop)
        arbiter = start_arbiter(directory)
        stack.callback(arbiter.stop)
        gunicorn = None
        if unavailable is None:
            gunicorn = GunicornStash(directory)
            stack.callback(gunicorn.stop)
        else:
            report.notes.append(f"gunicorn stash not measured: {unavailable}")
        print(f"redis-server pid {redis.pid}, arbiter pid {arbiter.pid}"
              + (f", gunicorn master pid {gunicorn.pid} (dirty arbiter pid "
                 f"{gunicorn.dirty_pid})" if gunicorn else ""))
        if "redis-benchmark" in only:
            bench_redis_benchmark(redis, arbiter, settings, report)
        if "redis-py" in only:
            bench_redis_py(redis, arbiter, settings, report)
        if "stash" in only:
            bench_stash(redis, arbiter, gunicorn, settings, report)
        if "pipe" in only:
            bench_pipe(directory, redis, arbiter, settings, report)
        if "memory" in only:
            bench_memory(directory, settings, report)
    if "startup" not in only:
        pass
    elif importlib.util.find_spec("gunicorn") is not None:
        bench_startup(settings, report)
    else:
        report.notes.append("gunicorn start-up not measured: gunicorn is not installed")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small counts: a smoke run for tests and CI")
    parser.add_argument("--profile", metavar="FILE", type=Path,
                        help="only profile the arbiter under redis-benchmark; write the "
                             "cProfile data to FILE and print the top functions")
    parser.add_argument("--only", metavar="SECTIONS", default=",".join(SECTIONS),
                        help="comma-separated sections to run, of: " + ", ".join(SECTIONS))
    args = parser.parse_args(argv)
    only = frozenset(args.only.split(","))
    if not only <= set(SECTIONS):
        parser.error(f"unknown section in --only: {', '.join(sorted(only - set(SECTIONS)))}")
    settings = QUICK if args.quick else FULL

    def work() -> None:
        if args.profile is not None:
            with tempfile.TemporaryDirectory(prefix="rab-") as name:
                profile(Path(name), args.profile.resolve(), settings.benchmark_requests)
        else:
            print_summary(run(settings, only))

    return guarded(work)


if __name__ == "__main__":
    sys.exit(main())
