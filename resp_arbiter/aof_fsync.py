"""The background fsync thread of `appendfsync everysec` (Redis' bio thread).

The event loop never waits for the disk under `everysec`: it hands `fdatasync(fd)` to
this thread at most once a second and reads the outcome later. Closing a file the thread
may still be syncing is also queued here, behind that fsync, so a descriptor is never
closed under a running fsync. The thread only ever touches the descriptors it is given.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections import deque
from dataclasses import dataclass

fdatasync = getattr(os, "fdatasync", os.fsync)


@dataclass(frozen=True)
class FsyncResult:
    """An fsync done: the caller's tag for the file, the size it made durable (-1 for
    the sync before a close), and errno (0: success)."""

    tag: int
    upto: int
    errno: int


class Fsyncer:
    """One daemon thread running fsync and close jobs in order."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.results: deque[FsyncResult] = deque()
        self.pending = 0  # fsync jobs submitted and not yet collected (event loop side)

    @property
    def busy(self) -> bool:
        return self.pending > 0

    def fsync(self, fd: int, upto: int, tag: int) -> None:
        """fdatasync `fd` in the background; `upto` is the size it will cover. `tag`
        names the file in the result (descriptor numbers are reused)."""
        self._start()
        self.pending += 1
        self._jobs.put((fd, upto, tag))

    def close(self, fd: int, sync: bool, tag: int) -> None:
        """Close `fd` after the jobs before it, with an fsync first when `sync` (whose
        result is reported with upto -1)."""
        self._start()
        self.pending += sync
        self._jobs.put((fd, -1 if sync else -2, tag))

    def collect(self) -> list[FsyncResult]:
        """The fsyncs finished since the last call (called from the event loop)."""
        done = []
        while self.results:
            done.append(self.results.popleft())
        self.pending -= len(done)
        return done

    def stop(self) -> None:
        """Finish the queued jobs and end the thread."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="aof-fsync", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fd, upto, tag = job
            if upto != -2:
                errno = 0
                try:
                    fdatasync(fd)
                except OSError as exc:
                    errno = exc.errno or 5
                self.results.append(FsyncResult(tag, upto, errno))
            if upto < 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
