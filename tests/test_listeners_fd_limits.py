"""File descriptors: the arbiter makes room for `maxclients` or lowers it (as Redis'
adjustOpenFilesLimit), a client past `maxclients` gets Redis' error rather than a reset,
and running out of descriptors in accept() neither spins nor drops the waiting clients.

Each test starts a real arbiter under a low RLIMIT_NOFILE and floods it over its Unix
socket with raw connections, each of which must end with `+PONG` or the max-clients error.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from servers import PairFactory, ServerProcess, poll_until, start_arbiter

MAX_CLIENTS_ERROR = b"-ERR max number of clients reached\r\n"
PR_CAPBSET_DROP = 24
CAP_SYS_RESOURCE = 24


def _low_limit(soft: int, hard: int | None = None) -> Callable[[], None]:
    """A preexec_fn: start the child with RLIMIT_NOFILE (soft, hard), the hard limit kept
    when None. With a hard limit, a root child also loses CAP_SYS_RESOURCE, so that it
    cannot raise the hard limit either (as an ordinary user cannot)."""
    def preexec() -> None:
        current_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (soft, current_hard if hard is None else hard))
        if hard is not None and os.geteuid() == 0:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    return preexec


@pytest.fixture
def fd_budget() -> None:
    """Room for the test's own flood of connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2048 if hard == resource.RLIM_INFINITY else min(hard, 2048)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@contextlib.contextmanager
def _connections(path: str, count: int) -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.connect(path)  # blocking: waits while the listen backlog is full
            sock.settimeout(10)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _ping(sock: socket.socket) -> bytes:
    """PING on a raw connection: what the server answered before closing, if it closed."""
    with contextlib.suppress(OSError):  # a refused client may be closed already
        sock.sendall(b"PING\r\n")
    reply = b""
    while not reply.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply


def _flood(path: str, count: int) -> tuple[int, int]:
    """Open `count` connections at once, then PING on each: (served, refused)."""
    with _connections(path, count) as sockets:
        replies = [_ping(sock) for sock in sockets]
    unexpected = [reply for reply in replies if reply not in (b"+PONG\r\n", MAX_CLIENTS_ERROR)]
    assert not unexpected, f"{len(unexpected)} connections got {unexpected[:3]}"
    return replies.count(b"+PONG\r\n"), replies.count(MAX_CLIENTS_ERROR)


def _only_client(client: redis.Redis) -> None:
    """Wait until `client` is the only connection (the readiness probe has gone)."""
    assert poll_until(lambda: client.info("clients")["connected_clients"] == 1)


def _soft_limit(pid: int) -> int:
    return resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]


def test_soft_limit_is_raised_for_maxclients(tmp_path: Path, fd_budget: None) -> None:
    with start_arbiter(tmp_path, "--maxclients", "1000", preexec_fn=_low_limit(64)) as arbiter, \
            redis.Redis(unix_socket_path=arbiter.socket_path) as control:
        assert _soft_limit(arbiter.pid) == 1032
        assert control.config_get("maxclients") == {"maxclients": "1000"}
        _only_client(control)
        served, refused = _flood(arbiter.socket_path, 1100)
        assert (served, refused) == (999, 101)
        assert control.ping()
        assert control.info("stats")["rejected_connections"] == 101
    assert "Increased maximum number of open files to 1032 (it was originally set to 64)." \
        in arbiter.log_path.read_text()


def test_maxclients_is_lowered_to_fit_a_hard_limit(tmp_path: Path, fd_budget: None) -> None:
    with start_arbiter(tmp_path, "--maxclients", "1000",
                       preexec_fn=_low_limit(64, 64)) as arbiter, \
            redis.Redis(unix_socket_path=arbiter.socket_path) as control:
        assert control.config_get("maxclients") == {"maxclients": "32"}
        assert control.info("clients")["maxclients"] == 32
        _only_client(control)
        assert _flood(arbiter.socket_path, 100) == (31, 69)
        assert control.ping()
        assert _flood(arbiter.socket_path, 31) == (31, 0)  # the slots came back
    log = arbiter.log_path.read_text()
    assert "WARNING You requested maxclients of 1000 requiring at least 1032 max file " \
        "descriptors." in log
    assert "maxclients has been reduced to 32 to compensate for low ulimit." in log


def test_config_set_maxclients_past_the_limit_matches_redis(server_pair: PairFactory) -> None:
    """Under the same limits, the same replies as redis-server 7, byte for byte."""
    def replies(server: ServerProcess) -> list[bytes]:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(server.socket_path)
            out = []
            for command in (b"CONFIG SET maxclients 100", b"CONFIG GET maxclients",
                            b"CONFIG SET maxclients 33", b"CONFIG SET maxclients 10",
                            b"CONFIG GET maxclients", b"CONFIG SET maxclients 32"):
                sock.sendall(command + b"\r\n")
                out.append(_read_reply(sock))
            return out

    arbiter, reference = server_pair("--maxclients", "1000", preexec_fn=_low_limit(64, 64))
    expected = replies(reference)
    assert expected[0] == (b"-ERR CONFIG SET failed (possibly related to argument "
                           b"'maxclients') - The operating system is not able to "
                           b"handle the specified number of clients, try with 32\r\n")
    assert replies(arbiter) == expected


def _read_reply(sock: socket.socket) -> bytes:
    """One RESP2 reply of the kinds CONFIG answers (status, error, flat array of bulks)."""
    data = b""
    while True:
        data += sock.recv(4096)
        if data[:1] in b"+-" and data.endswith(b"\r\n"):
            return data
        if data[:1] == b"*":
            lines = data.split(b"\r\n")
            if len(lines) >= 2 + 2 * int(lines[0][1:]):
                return data


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_accept_out_of_descriptors_waits_and_logs(tmp_path: Path, fd_budget: None) -> None:
    """accept() failing with EMFILE: the waiting clients are neither reset nor lost (they
    are served once descriptors are back), the loop does not spin, the log says it at
    most once a second, and connected clients keep being served."""
    with start_arbiter(tmp_path, "--maxclients", "1000") as arbiter, \
            redis.Redis(unix_socket_path=arbiter.socket_path) as control:
        _only_client(control)
        limits = resource.prlimit(arbiter.pid, resource.RLIMIT_NOFILE)
        in_use = len(os.listdir(f"/proc/{arbiter.pid}/fd"))
        resource.prlimit(arbiter.pid, resource.RLIMIT_NOFILE, (in_use, limits[1]))
        try:
            with _connections(arbiter.socket_path, 20) as waiting:
                log = arbiter.log_path
                assert poll_until(lambda: "Too many open files" in log.read_text())
                ticks = _cpu_ticks(arbiter.pid)
                started = time.monotonic()
                for _ in range(20):
                    assert control.ping()
                    time.sleep(0.1)
                elapsed = time.monotonic() - started
                # Spinning would burn the whole window; the retries cost next to nothing.
                assert _cpu_ticks(arbiter.pid) - ticks < 0.5 * elapsed * os.sysconf("SC_CLK_TCK")
                assert log.read_text().count("Too many open files") <= elapsed + 2
                resource.prlimit(arbiter.pid, resource.RLIMIT_NOFILE, limits)
                assert [_ping(sock) for sock in waiting] == [b"+PONG\r\n"] * 20
        finally:
            resource.prlimit(arbiter.pid, resource.RLIMIT_NOFILE, limits)
        assert "WARNING Accepting client connection: accept: Too many open files" \
            in arbiter.log_path.read_text()
