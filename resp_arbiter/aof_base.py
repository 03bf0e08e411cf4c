"""Writing a base file: the whole keyspace as commands, in this process (SAVE) or in a
forked child (BGREWRITEAOF, BGSAVE, automatic rewrites, switching AOF on).

A forked child sees the keyspace as it was at the fork, untouched by the clients the
parent keeps serving, which is the consistent snapshot a base file needs. The child only
serialises and leaves with `os._exit`: it never runs the event loop, the parent's signal
handlers, atexit handlers or the fsync thread, and it dies with its parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator

from .aof_fsync import fdatasync
from .aof_records import encode, snapshot
from .keyspace import Value

# The tables of each database, by index: what a base file holds.
# (index, values, deadlines) of each database.
DatabaseTables = list[tuple[int, dict[bytes, Value], dict[bytes, int]]]

WRITE_CHUNK = 1 << 20
# With aof-rewrite-incremental-fsync, the file is synced every 4 MB as it is written, so
# the final fsync does not stall the disk for the other writers (Redis' REDIS_AUTOSYNC_BYTES).
AUTOSYNC_BYTES = 4 << 20
PR_SET_PDEATHSIG = 1


def write_base_file(databases: DatabaseTables, path: str, incremental_fsync: bool,
                    parent: int = 0) -> int:
    """Write every non-empty database as SELECT and its commands to `path` (created or
    replaced) and fsync it; returns its size. With `parent`, stops early (OSError) once
    that process is gone."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        out = bytearray()
        written = synced = 0
        for record in _records(databases):
            encode(record, out)
            if len(out) >= WRITE_CHUNK:
                written += _write_all(fd, out)
                out.clear()
                if parent and os.getppid() != parent:
                    raise OSError("the arbiter is gone")
                if incremental_fsync and written - synced >= AUTOSYNC_BYTES:
                    fdatasync(fd)
                    synced = written
        written += _write_all(fd, out)
        os.fsync(fd)
        return written
    finally:
        os.close(fd)


def _records(databases: DatabaseTables) -> Iterator[list[bytes]]:
    for index, tables, deadlines in databases:
        if tables:
            yield [b"SELECT", b"%d" % index]
            yield from snapshot(tables, deadlines)


def _write_all(fd: int, data: bytearray) -> int:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return len(data)


def fork_writer(databases: DatabaseTables, path_for: Callable[[int], str],
                incremental_fsync: bool) -> int:
    """Fork a child that writes the base file at `path_for(its pid)` and exits 0 (1 on
    any error); returns its pid. Raises OSError when the fork fails."""
    parent = os.getpid()
    gc.collect(0)  # fewer pages touched (copied) by the child's collector
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking with threads (the everysec fsync thread): the
        # child runs no thread's code and takes none of their locks.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _become_child(parent)
        write_base_file(databases, path_for(os.getpid()), incremental_fsync, parent)
        code = 0
    except BaseException as exc:  # reported through the exit code
        with contextlib.suppress(Exception):
            os.write(2, f"AOF rewrite child {os.getpid()}: {exc}\n".encode())
    finally:
        os._exit(code)


def _become_child(parent: int) -> None:
    """Detach the child from everything of the parent's it must not run."""
    gc.disable()
    # Signals must not reach the parent's event loop through the inherited wakeup fd.
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
    # Client sockets must close when the parent closes them, not when the child exits.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
