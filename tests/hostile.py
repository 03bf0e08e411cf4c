"""Clients that misbehave, and what they cost a server process.

Raw Unix sockets that pipeline without reading, trickle, or leave mid-request (requests
from `servers.encode_request`, memory from `servers.process_memory`), and the PING
latency another client sees meanwhile, measured from a child process so that the load
generator in the test process does not delay it (they would share the GIL).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

MIB = 1024 * 1024

_PING_LOOP = r"""
import socket, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(60)
sock.connect(sys.argv[1])
worst = 0.0
print("ready", flush=True)
first = True
while True:
    start = time.perf_counter()
    sock.sendall(b"PING\r\n")
    reply = b""
    while not reply.endswith(b"\r\n"):
        chunk = sock.recv(64)
        if not chunk:
            raise SystemExit("server closed the PING connection")
        reply += chunk
    elapsed = time.perf_counter() - start
    if elapsed > worst or first:
        worst = max(worst, elapsed)
        first = False
        print(f"{worst:.6f}", flush=True)
    time.sleep(0.005)
"""


def connect(path: str, timeout: float = 30.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(path)
    return sock


def send_until_closed(path: str, payload: bytes, timeout: float) -> bool:
    """Send `payload` over and over, never reading; True once the server has closed the
    connection, False if it is still open after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with connect(path, timeout=1.0) as sock:
        while time.monotonic() < deadline:
            try:
                sock.sendall(payload)
            except TimeoutError:
                continue  # the server is not reading: keep waiting for it to decide
            except (BrokenPipeError, ConnectionResetError):
                return True
    return False


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closes `sock` within `timeout` seconds (replies are drained)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(1 << 20):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


def read_exactly(sock: socket.socket, pattern: bytes, count: int = 1) -> bool:
    """Whether the next bytes on `sock` are `pattern` repeated `count` times (compared
    as they arrive, so a gigabyte of replies costs no gigabyte here)."""
    total = len(pattern) * count
    received = 0
    buffer = b""
    while received < total:
        chunk = sock.recv(min(1 << 20, total - received))
        if not chunk:
            return False
        buffer += chunk
        received += len(chunk)
        whole = len(buffer) // len(pattern) * len(pattern)
        if buffer[:whole] != pattern * (whole // len(pattern)):
            return False
        buffer = buffer[whole:]
    return buffer == b""


class PingWatch:
    """PINGs the server every few milliseconds from a child process while the `with`
    block runs; `worst` is then the slowest round trip seen, in seconds."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.worst = 0.0
        self._child: subprocess.Popen | None = None

    def __enter__(self) -> PingWatch:
        self._child = subprocess.Popen([sys.executable, "-c", _PING_LOOP, self.path],
                                       stdout=subprocess.PIPE,
                                       text=True)
        assert self._child.stdout.readline().strip() == "ready"
        assert self._child.stdout.readline()  # one round trip done: the loop runs
        return self

    def __exit__(self, *exc: object) -> None:
        child = self._child
        assert child is not None
        child.kill()
        output, _ = child.communicate(timeout=10)
        lines = output.split()
        if lines:
            self.worst = float(lines[-1])
