"""Memory per element, the arbiter against redis-server, and `redis-cli --pipe`.

    python -m bench.memory                  # 1,000,000 elements per workload
    python -m bench.memory --count 10000    # a quick look

Each workload gets a fresh redis-server and a fresh arbiter (resident memory does not
shrink reliably once used), loads the same data through each one's Unix socket,
pipelined in batches with every reply read, and reports the growth of VmRSS per
element. The workloads:

- `hash`: one hash of `count` fields (`HSET big field:N value:N`);
- `small hashes`: `count` keys of one small field each (`HSET key:N f value:N`);
- `strings`: `count` small strings (`SET key:N value:N`).

`pipe_seconds` times `redis-cli --pipe` feeding a file of HSETs, as a bulk load does.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # `python bench/memory.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import (
    ServerProcess,
    SetupError,
    encode_request,
    process_memory,
    require_binary,
    start_arbiter,
    start_redis,
)

BATCH = 10_000


@dataclass(frozen=True)
class Workload:
    name: str
    request: Callable[[int], bytes]


WORKLOADS = (
    Workload("fields in one hash", lambda n: encode_request(
        b"HSET", b"big", b"field:%d" % n, b"value:%d" % n)),
    Workload("keys of one small field", lambda n: encode_request(
        b"HSET", b"key:%d" % n, b"f", b"value:%d" % n)),
    Workload("small strings", lambda n: encode_request(
        b"SET", b"key:%d" % n, b"value:%d" % n)),
)


def load(path: str, workload: Workload, count: int) -> None:
    """Send `count` requests of `workload`, BATCH per write, reading every reply."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        for start in range(0, count, BATCH):
            end = min(start + BATCH, count)
            sock.sendall(b"".join(workload.request(n) for n in range(start, end)))
            replies = 0
            while replies < end - start:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                if b"-" in chunk:
                    raise RuntimeError(f"error reply: {chunk[:200]!r}")
                replies += chunk.count(b"\r\n")


def bytes_per_element(server: ServerProcess, workload: Workload, count: int) -> float:
    """VmRSS growth per element while `server` loads `count` elements."""
    before = process_memory(server.pid)["VmRSS"]
    load(server.socket_path, workload, count)
    return (process_memory(server.pid)["VmRSS"] - before) / count


def used_memory(path: str) -> int:
    """INFO's `used_memory` (the arbiter's is its running estimate of its data)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        sock.sendall(encode_request(b"INFO", b"memory"))
        data = b""
        while b"used_memory:" not in data or not data.endswith(b"\r\n"):
            data += sock.recv(65536)
    line = next(line for line in data.split(b"\r\n") if line.startswith(b"used_memory:"))
    return int(line.split(b":")[1])


def memory_rows(directory: Path, count: int) -> list[tuple[str, float, float, float]]:
    """(workload, redis-server bytes/element, arbiter bytes/element, the arbiter's
    `used_memory` as a share of its RSS), fresh servers each."""
    rows = []
    for number, workload in enumerate(WORKLOADS):
        with contextlib.ExitStack() as stack:
            redis = start_redis(directory, name=f"mem-redis-{number}")
            stack.callback(redis.stop)
            arbiter = start_arbiter(directory, name=f"mem-arbiter-{number}")
            stack.callback(arbiter.stop)
            on_redis = bytes_per_element(redis, workload, count)
            on_arbiter = bytes_per_element(arbiter, workload, count)
            estimate = used_memory(arbiter.socket_path) / process_memory(arbiter.pid)["VmRSS"]
            rows.append((workload.name, on_redis, on_arbiter, estimate))
    return rows


def pipe_seconds(server: ServerProcess, data_path: Path) -> float:
    """Seconds `redis-cli --pipe` takes to send the file and read every reply."""
    with open(data_path, "rb") as data:
        start = time.perf_counter()
        done = subprocess.run([require_binary("redis-cli"), "-s", server.socket_path,
                               "--pipe"], stdin=data, capture_output=True, text=True,
                              timeout=300, check=False)
        elapsed = time.perf_counter() - start
    if done.returncode != 0 or "errors: 0" not in done.stdout:
        raise SetupError(f"redis-cli --pipe failed: {done.stdout.strip()} "
                         f"{done.stderr.strip()}")
    return elapsed


def write_pipe_file(path: Path, count: int) -> None:
    """`count` HSETs of distinct fields of one hash, as redis-cli --pipe reads them."""
    with open(path, "wb") as out:
        for start in range(0, count, BATCH):
            out.write(b"".join(encode_request(b"HSET", b"piped", b"field:%d" % n,
                                              b"value:%d" % n)
                               for n in range(start, min(start + BATCH, count))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    require_binary("redis-server")
    with tempfile.TemporaryDirectory(prefix="rab-") as name:
        print(f"{'workload':<30}{'redis-server B':>16}{'arbiter B':>12}{'ratio':>8}"
              f"{'used_memory/RSS':>17}")
        for label, on_redis, on_arbiter, estimate in memory_rows(Path(name), args.count):
            print(f"{label:<30}{on_redis:>16.1f}{on_arbiter:>12.1f}"
                  f"{on_arbiter / on_redis:>8.2f}{estimate:>17.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
