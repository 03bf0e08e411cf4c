"""Timed client loops: what one gunicorn worker sees, one synchronous request at a time.

Every loop is bounded twice, by an operation count and by a time budget, and reports the
operations it actually completed, so a slow server makes a run shorter, never longer.
The same loop body runs against every server, so the client's own cost is the same on
each side of a ratio.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

CHECK_EVERY = 64  # loop iterations between two looks at the clock
TABLE = "bench:table"
KEYS = 1000
WIDE_FIELDS = 100
PIPELINE_DEPTH = 100
VALUE = "x" * 32


@dataclass(frozen=True)
class Rate:
    """Operations completed in `seconds`."""

    ops: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    @property
    def micros(self) -> float:
        return self.seconds / self.ops * 1e6 if self.ops else 0.0


@dataclass(frozen=True)
class Limits:
    """How long each loop may run: at most `ops` operations and about `seconds`."""

    ops: int
    seconds: float


def timed(step: Callable[[int], object], limits: Limits, ops_per_step: int = 1) -> Rate:
    """Call `step(i)` for i = 0, 1, ... until either limit is reached."""
    steps = max(1, limits.ops // ops_per_step)
    clock = time.perf_counter
    start = clock()
    deadline = start + limits.seconds
    done = 0
    while done < steps:
        for i in range(done, min(done + CHECK_EVERY, steps)):
            step(i)
        done = min(done + CHECK_EVERY, steps)
        if clock() >= deadline:
            break
    return Rate(done * ops_per_step, clock() - start)


KEY_NAMES = [f"key:{i}" for i in range(KEYS)]


def redis_py_loops(socket_path: str, limits: Limits) -> dict[str, Rate]:
    """HSET, HGET, HGETALL (100 fields) and 100-HSET pipelines over one redis-py
    connection (RESP3, redis-py's default)."""
    client = redis.Redis(unix_socket_path=socket_path, protocol=3)
    try:
        client.delete(TABLE, "bench:wide")
        names = KEY_NAMES
        rates = {}
        rates["HSET"] = timed(lambda i: client.hset(TABLE, names[i % KEYS], VALUE), limits)
        rates["HGET"] = timed(lambda i: client.hget(TABLE, names[i % KEYS]), limits)
        client.hset("bench:wide", mapping={f"field:{i}": VALUE for i in range(WIDE_FIELDS)})
        rates["HGETALL (100 fields)"] = timed(lambda i: client.hgetall("bench:wide"), limits)
        pipe = client.pipeline(transaction=False)

        def pipeline(i: int) -> None:
            for j in range(PIPELINE_DEPTH):
                pipe.hset(TABLE, names[j], VALUE)
            pipe.execute()

        rates["HSET x100 pipeline (per HSET)"] = timed(pipeline, limits, PIPELINE_DEPTH)
        client.delete(TABLE, "bench:wide")
        return rates
    finally:
        client.close()


def stash_loops(put: Callable[[str, str, object], object],
                get: Callable[[str, str], object], limits: Limits) -> dict[str, Rate]:
    """put/get of a 32-character string value through any stash-like pair of calls."""
    names = KEY_NAMES
    return {
        "put": timed(lambda i: put("bench", names[i % KEYS], VALUE), limits),
        "get": timed(lambda i: get("bench", names[i % KEYS]), limits),
    }


def redis_py_stash_calls(socket_path: str) -> tuple[Callable, Callable, Callable[[], None]]:
    """(put, get, close) made of plain redis-py HSET/HGET: what a stash put/get costs
    over RESP without any codec."""
    client = redis.Redis(unix_socket_path=socket_path, protocol=3)
    return client.hset, client.hget, client.close
