"""Listening sockets and the file-descriptor budget, as redis-server manages them.

The arbiter accepts connections itself rather than through `loop.create_server`: the
event loop's own accept path (libuv's under uvloop) closes pending connections without a
word when the process runs out of descriptors, and it registers a transport before the
server can refuse a client over `maxclients`. Here a client over the limit gets Redis'
`-ERR max number of clients reached` on the raw socket, which is closed at once (it never
holds a descriptor past that moment), and an `accept()` that fails for lack of
descriptors pauses accepting for a moment (the connections wait in the kernel's backlog)
and is logged at most once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import resource
import socket
import time
from collections.abc import Callable

from .logs import NOTICE, log

# Descriptors kept for everything but clients (listeners, the log, the event loop's own),
# Redis' CONFIG_MIN_RESERVED_FDS.
RESERVED_FDS = 32
BACKLOG = 511
# Connections taken per readiness event, so a flood cannot hold the loop (Redis takes 1000).
MAX_ACCEPTS_PER_CALL = 1000
# How long accepting pauses after the process ran out of descriptors.
ACCEPT_RETRY_DELAY = 0.1
ACCEPT_ERROR_LOG_INTERVAL = 1.0
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def fit_open_files(maxclients: int) -> int:
    """Raise the soft RLIMIT_NOFILE to `maxclients` + RESERVED_FDS as Redis'
    adjustOpenFilesLimit does; return the number of clients that fit (at most
    `maxclients`; below 1 means the limit is too low to start)."""
    wanted = maxclients + RESERVED_FDS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return maxclients
    reason = ""
    best = soft
    if hard == resource.RLIM_INFINITY or hard >= wanted:
        candidates = [(wanted, hard)]
    else:
        # Raising the hard limit needs privilege; without it the hard limit is the best.
        candidates = [(wanted, wanted), (hard, hard)]
    for limits in candidates:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
        except (OSError, ValueError) as exc:
            reason = reason or (exc.strerror if isinstance(exc, OSError) else str(exc))
            continue
        best = limits[0]
        break
    if best >= wanted:
        log.log(NOTICE, "Increased maximum number of open files to %d (it was originally "
                "set to %d).", best, soft)
        return maxclients
    fitting = best - RESERVED_FDS
    if fitting < 1:
        return fitting
    log.warning("You requested maxclients of %d requiring at least %d max file "
                "descriptors.", maxclients, wanted)
    log.warning("Server can't set maximum open files to %d because of OS error: %s.",
                wanted, reason or "the hard limit is lower")
    log.warning("Current maximum open files is %d. maxclients has been reduced to %d to "
                "compensate for low ulimit. If you need higher maxclients increase "
                "'ulimit -n'.", best, fitting)
    return fitting


def open_files_limit() -> int:
    """The current soft RLIMIT_NOFILE (for the fatal message when nothing fits)."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def bind_tcp(address: str, port: int) -> list[socket.socket]:
    """Listening sockets for `address` (a host name may give one per address family)."""
    sockets: list[socket.socket] = []
    seen: set[tuple] = set()
    try:
        for family, _, _, _, sockaddr in socket.getaddrinfo(
                address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
            if (family, sockaddr) in seen:
                continue
            seen.add((family, sockaddr))
            sockets.append(socket.create_server(sockaddr, family=family, backlog=BACKLOG))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class Listener:
    """Accepts connections on one listening socket and hands each to `on_accept`."""

    def __init__(self, sock: socket.socket, on_accept: Callable[[socket.socket], None]) -> None:
        self.sock = sock
        self.on_accept = on_accept
        self._loop = asyncio.get_running_loop()
        self._retry: asyncio.TimerHandle | None = None
        self._last_error_log = -ACCEPT_ERROR_LOG_INTERVAL
        sock.listen(BACKLOG)
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(MAX_ACCEPTS_PER_CALL):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                self._accept_failed(exc)
                return
            conn.setblocking(False)
            self.on_accept(conn)

    def _accept_failed(self, exc: OSError) -> None:
        """Log (at most once a second) and, when descriptors ran out, stop watching the
        socket for a moment: it stays readable, so watching it would spin the loop."""
        now = time.monotonic()
        if now - self._last_error_log >= ACCEPT_ERROR_LOG_INTERVAL:
            self._last_error_log = now
            log.warning("Accepting client connection: accept: %s", exc.strerror or exc)
        if exc.errno in _OUT_OF_RESOURCES:
            self._loop.remove_reader(self.sock.fileno())
            self._retry = self._loop.call_later(ACCEPT_RETRY_DELAY, self._resume)

    def _resume(self) -> None:
        self._retry = None
        self._loop.add_reader(self.sock.fileno(), self._accept)
        self._accept()

    def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self.sock.fileno())
        self.sock.close()
