"""The processes that own the arbiter: it exits once the last of them is gone.

A gunicorn master starts the arbiter with `--parent-pid`: its first owner. During a
USR2 upgrade the new master adopts the running arbiter (STASH.ADOPT) instead of starting
another, so for a while two masters own it; it must outlive the old one and go with the
last, even when that one is killed with SIGKILL and runs no cleanup.

Each owner is watched through a pidfd (Linux 5.3+), which becomes readable the moment
that process ends and, unlike a pid, can never come to name another process. Elsewhere
the cron checks each pid with signal 0 (and the parent with `getppid()`). The parent is
also watched by the parent-death signal, which covers the start-up race; it is turned
off once another owner is adopted, since the parent may then go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable

from .logs import NOTICE, log

PR_SET_PDEATHSIG = 1


def _set_parent_death_signal(signum: int) -> bool:
    """prctl(PR_SET_PDEATHSIG): Linux only; False where it is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to send SIGTERM when the parent exits (before the event loop runs)."""
    if parent_pid and _set_parent_death_signal(signal.SIGTERM) \
            and os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def _open_pidfd(pid: int) -> int | None:
    """A pidfd for `pid`; None where pidfds are unsupported. ProcessLookupError if gone."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError as error:
        if isinstance(error, ProcessLookupError):
            raise
        return None


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Owners:
    """The owning processes, each watched until it ends."""

    def __init__(self, on_last_gone: Callable[[], None]) -> None:
        self._on_last_gone = on_last_gone
        self._watched: dict[int, int | None] = {}  # pid -> pidfd (None: polled)
        self._parent = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, parent_pid: int) -> None:
        """Watch the parent, if the arbiter was given one; stop at once if it is gone."""
        self._loop = asyncio.get_running_loop()
        if not parent_pid:
            return
        self._parent = parent_pid
        with contextlib.suppress(ProcessLookupError):
            self._watch(parent_pid)
        # A pid that is no longer our parent may already name another process.
        if os.getppid() != parent_pid:
            self._forget(parent_pid)
            log.warning("parent process %d is gone, shutting down", parent_pid)
            self._on_last_gone()

    def adopt(self, pid: int) -> int:
        """Add an owner; the number of owners. ProcessLookupError if it does not exist."""
        if pid <= 0:
            raise ProcessLookupError(pid)
        if pid not in self._watched:
            self._watch(pid)
            if len(self._watched) > 1:
                # The parent may now go first: its death must not end the arbiter.
                _set_parent_death_signal(0)
            log.log(NOTICE, "process %d now owns the arbiter (owners: %s)", pid, self.describe())
        return len(self._watched)

    def release(self, pid: int) -> int:
        """Remove an owner that leaves on purpose; the number of owners left. The arbiter
        keeps running even with none: the releasing master stops it if it wants to."""
        if pid in self._watched:
            self._forget(pid)
            log.log(NOTICE, "process %d released the arbiter (owners: %s)", pid,
                     self.describe() or "none")
        return len(self._watched)

    def pids(self) -> list[int]:
        return sorted(self._watched)

    def describe(self) -> str:
        return ",".join(str(pid) for pid in self.pids())

    def check(self) -> None:
        """From the cron: owners without a pidfd, by pid (and the parent by getppid)."""
        for pid, fd in list(self._watched.items()):
            if fd is None and not (os.getppid() == pid if pid == self._parent
                                   else _exists(pid)):
                self._gone(pid)

    def close(self) -> None:
        for pid in list(self._watched):
            self._forget(pid)

    def _watch(self, pid: int) -> None:
        fd = _open_pidfd(pid)
        if fd is None and not _exists(pid):
            raise ProcessLookupError(pid)
        self._watched[pid] = fd
        if fd is not None:
            assert self._loop is not None
            self._loop.add_reader(fd, self._gone, pid)

    def _forget(self, pid: int) -> None:
        fd = self._watched.pop(pid, None)
        if fd is not None:
            assert self._loop is not None
            self._loop.remove_reader(fd)
            with contextlib.suppress(OSError):
                os.close(fd)

    def _gone(self, pid: int) -> None:
        if pid not in self._watched:
            return
        self._forget(pid)
        if self._watched:
            log.warning("owning process %d is gone; still owned by %s", pid, self.describe())
        else:
            log.warning("owning process %d is gone, the last one: shutting down", pid)
            self._on_last_gone()
