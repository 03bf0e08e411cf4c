"""Memory of many small string keys: the arbiter against redis-server.

    python -m bench.string_memory                 # 1,000,000 keys
    python -m bench.string_memory --keys 10000    # a quick look

Each server gets `SET key:N value:N` for N below the count, pipelined over its Unix
socket in batches; the run reports each server's resident memory (VmRSS) before and
after, the growth per key, and what INFO's `used_memory` says (the arbiter's is its
estimate). Both servers are started here and stopped by PID however the run ends.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # `python bench/string_memory.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import (
    ServerProcess,
    encode_request,
    process_memory,
    require_binary,
    start_arbiter,
    start_redis,
)

BATCH = 10_000


def _load(path: str, keys: int) -> None:
    """SET key:N value:N for N < keys, BATCH requests per write, every reply read."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        for start in range(0, keys, BATCH):
            end = min(start + BATCH, keys)
            sock.sendall(b"".join(encode_request(b"SET", b"key:%d" % n, b"value:%d" % n)
                                  for n in range(start, end)))
            expected = (end - start) * len(b"+OK\r\n")
            received = 0
            while received < expected:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                if b"-" in chunk:
                    raise RuntimeError(f"error reply: {chunk[:200]!r}")
                received += len(chunk)


def _used_memory(path: str) -> int:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        sock.sendall(encode_request(b"INFO", b"memory"))
        data = b""
        while b"used_memory:" not in data or not data.endswith(b"\r\n"):
            data += sock.recv(65536)
    line = next(line for line in data.split(b"\r\n") if line.startswith(b"used_memory:"))
    return int(line.split(b":")[1])


def measure(server: ServerProcess, keys: int) -> dict[str, int]:
    before = process_memory(server.pid)["VmRSS"]
    _load(server.socket_path, keys)
    after = process_memory(server.pid)["VmRSS"]
    return {"before": before, "after": after, "used_memory": _used_memory(server.socket_path)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.string_memory",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    require_binary("redis-server")
    with tempfile.TemporaryDirectory(prefix="rab-") as name, contextlib.ExitStack() as stack:
        directory = Path(name)
        redis = start_redis(directory)
        stack.callback(redis.stop)
        arbiter = start_arbiter(directory)
        stack.callback(arbiter.stop)
        print(f"{args.keys:,} keys: SET key:N value:N")
        print(f"{'server':<14}{'RSS before':>14}{'RSS after':>14}{'per key':>10}"
              f"{'used_memory':>14}")
        for label, server in (("redis-server", redis), ("arbiter", arbiter)):
            figures = measure(server, args.keys)
            per_key = (figures["after"] - figures["before"]) / args.keys
            print(f"{label:<14}{figures['before']:>14,}{figures['after']:>14,}"
                  f"{per_key:>10.1f}{figures['used_memory']:>14,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
