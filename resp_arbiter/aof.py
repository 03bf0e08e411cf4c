"""The append-only file at run time: logging writes, syncing them, rewriting, errors.

Writes attach at the server's single write path (`Server.on_write`) and at the keyspace's
reclamation callback (expiry outside a command). Each command's records are appended to
an in-memory buffer while it runs. Replies are not written to a client while the buffer
holds anything: the client is queued and, once per event-loop iteration (after every
read of that iteration), the buffer is written to the current increment file, then
fsynced under `appendfsync always`, and only then are the queued clients' replies
written (Redis' beforeSleep). So under `always` no reply reaches a client before its
write is on disk, and one fsync covers every client served in that iteration. Under
`everysec` the write happens at once and an fsync thread syncs at most once a second;
under `no` the kernel decides.

A rewrite (BGREWRITEAOF, BGSAVE, SAVE, automatic, or switching AOF on) opens a new
increment file and records it in the manifest, forks a child that writes the data as it
was at the fork into a new base file, and, when the child succeeds, switches the
manifest to the new base and the new increment in one rename. At no moment does the
directory name a set of files that would not load to the acknowledged data.

A failing write or fsync is logged and makes the server refuse write commands with
Redis' `MISCONF Errors writing to the AOF file: ...` until a retry (in the cron)
succeeds; reads keep working. Nothing already logged is dropped: failed bytes stay in
memory, and bytes whose fsync failed are written again before they count as synced.
Under `always`, the replies of the writes caught in a failure wait (their clients are
paused) until the disk works again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno as errno_codes
import os
import signal
import time
from collections import deque
from functools import partial
from typing import TYPE_CHECKING

from . import aof_records, errors
from .aof_base import fork_writer, write_base_file
from .aof_fsync import Fsyncer, fdatasync
from .aof_manifest import BASE, HISTORY, INCR, AofDirectory, AofFile, Manifest, ManifestError
from .aof_records import BULK_HEADERS, REWRITES
from .logs import NOTICE, log

if TYPE_CHECKING:
    from .client import Client
    from .registry import Command
    from .server import Server


OFF, ON, WAIT_REWRITE = "off", "on", "wait_rewrite"
ERROR_LOG_INTERVAL = 30.0  # seconds between two logs of the same failing write
RETRY_INTERVAL = 1.0  # seconds between retries of a failed write or fsync
MAX_REWRITE_BACKOFF = 3600.0


class AofStartError(Exception):
    """The files cannot be loaded or opened; the arbiter must not start."""


class AppendOnlyFile:
    """The persistence state of one server (Redis' `server.aof_*`)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.databases = server.databases
        self.state = OFF
        self.loading = False
        self.policy = server.config["appendfsync"]  # kept in step by config_changed
        self.buffer = bytearray()
        self.unit: list[aof_records.Record] = []  # the records of the EXEC running now
        # The database the records appended so far leave a loader in (-1: unknown, so the
        # next record is preceded by SELECT, as at the start of every file).
        self.logged_db = -1
        self.directory: AofDirectory | None = None
        self.manifest: Manifest | None = None
        self.fd = -1
        self.incr_name = ""  # the file being appended to
        self.incr_size = 0  # bytes in it
        self.current_size = 0  # aof_current_size: base and increments
        self.base_size = 0  # aof_base_size: the size right after the last rewrite
        # Durability: bytes of the current file known synced, and the chunks written
        # since (kept to write them again if their fsync fails).
        self.synced_size = 0
        self.unsynced: deque[tuple[int, bytes]] = deque()
        self.fsyncer = Fsyncer()
        self.generation = 0  # tags fsync results with the file they were for
        self.last_fsync = 0.0
        self.delayed_fsync = 0
        self.write_errno = 0
        self.fsync_errno = 0
        self._last_error_log = 0.0
        self._last_retry = 0.0
        # Clients whose replies wait for this iteration's write; writers among them.
        self.waiting: dict[Client, None] = {}
        self.writers: set[Client] = set()
        self.held: dict[Client, None] = {}
        self._release_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # Rewrites.
        self.child_pid = 0
        self.child_for_save = False
        self.child_started = 0.0
        self.child_dirty = 0
        self.rewrite_scheduled = False
        self.rewrites = 0
        self.consecutive_failures = 0
        self.last_rewrite_ok = True
        self.last_rewrite_seconds = -1
        self.next_rewrite_at = 0.0
        self.lastsave = int(time.time())
        self.dirty_at_save = 0
        for db in server.databases:
            db.on_reclaim = partial(self.reclaimed, db=db.id)

    # -- settings -----------------------------------------------------------------------

    @property
    def config(self):
        return self.server.config

    def _directory(self) -> AofDirectory:
        if self.directory is None:
            base = os.path.abspath(self.config["dir"])
            self.directory = AofDirectory(os.path.join(base, self.config["appenddirname"]),
                                          self.config["appendfilename"])
        return self.directory

    # -- start and stop -----------------------------------------------------------------

    def start(self) -> None:
        """At server start: load the files (appendonly yes) and open them for appending.
        Raises AofStartError when they cannot be loaded (and then holds no lock)."""
        try:
            self._start()
        except AofStartError:
            if self.directory is not None:
                self.directory.unlock()
            raise

    def _start(self) -> None:
        self.policy = self.config["appendfsync"]
        with contextlib.suppress(RuntimeError):  # (in-process tests run without a loop)
            self._loop = asyncio.get_running_loop()
        directory = self._directory()
        appendonly = self.config["appendonly"] == "yes"
        try:
            # Temporary files are stale only if no other arbiter works in the directory.
            if (appendonly or directory.exists()) and directory.lock():
                for name in directory.stale_temp_files():
                    directory.remove(name)
            elif appendonly:
                raise AofStartError(errors.AOF_DIRECTORY_LOCKED % directory.path)
        except OSError as exc:
            if appendonly:
                raise AofStartError(f"Can't open the append-only directory "
                                    f"{directory.path}: {exc.strerror or exc}") from exc
            log.warning("Can't remove stale temporary AOF files: %s", exc)
        if not appendonly:
            return
        try:
            manifest = directory.read_manifest()
        except ManifestError as exc:
            raise AofStartError(f"*** FATAL AOF MANIFEST FILE ERROR *** {exc}") from exc
        base_size = 0
        if manifest is not None:
            from .aof_loader import AofLoadError, Loader  # (only a server that loads)

            self._forget_history(manifest)
            self.loading = True
            try:
                base_size = Loader(self.server, directory,
                                   self.config["aof-load-truncated"] == "yes").load(manifest)
            except AofLoadError as exc:
                raise AofStartError(str(exc)) from exc
            finally:
                self.loading = False
        try:
            self._open_on_start(manifest)
        except OSError as exc:
            raise AofStartError(f"Can't open or create the append-only files in "
                                f"{directory.path}: {exc.strerror or exc}") from exc
        self.dirty_at_save = self.databases.dirty
        base = self.manifest.base if self.manifest else None
        self.base_size = base_size or (directory.size(base.name) if base else 0)
        self.state = ON

    def _open_on_start(self, manifest: Manifest | None) -> None:
        directory = self._directory()
        directory.create()
        if manifest is None or not manifest.live_files():
            manifest = manifest or Manifest()
            base = AofFile(directory.base_name(manifest.base_seq + 1), manifest.base_seq + 1,
                           BASE)
            write_base_file(self._tables(), directory.file(base.name),
                            self._incremental_fsync())
            manifest.base = base
            log.log(NOTICE, "Creating AOF base file %s on server start", base.name)
        if manifest.incrs:
            name = manifest.incrs[-1].name
            self.fd = os.open(directory.file(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                              0o644)
            self.incr_name = name
            log.log(NOTICE, "Opening AOF incr file %s on server start", name)
        else:
            incr = AofFile(directory.incr_name(manifest.incr_seq + 1), manifest.incr_seq + 1,
                           INCR)
            self.fd = _open_new(directory.file(incr.name))
            self.incr_name = incr.name
            manifest.incrs.append(incr)
            directory.write_manifest(manifest)
            log.log(NOTICE, "Creating AOF incr file %s on server start", incr.name)
        self.manifest = manifest
        self.incr_size = self.synced_size = os.fstat(self.fd).st_size
        self.current_size = sum(directory.size(f.name) for f in manifest.live_files())

    def _forget_history(self, manifest: Manifest) -> None:
        """Delete the files a finished rewrite replaced (Redis' history files)."""
        if not manifest.history:
            return
        directory = self._directory()
        for entry in manifest.history:
            if directory.remove(entry.name):
                log.log(NOTICE, "Removing the history file %s", entry.name)
        manifest.history.clear()
        try:
            directory.write_manifest(manifest)
        except OSError as exc:
            log.warning("Can't rewrite the AOF manifest without its history files: %s",
                        exc.strerror)

    def stop(self) -> None:
        """Clean shutdown: no rewrite left running, every logged write on disk."""
        self._kill_child()
        if self.state == WAIT_REWRITE:
            log.warning("Writing the initial AOF in the foreground before exiting")
            self.save()
        if self.state != OFF:
            self._finish_unit()
            self._write_buffer()
            if self.fd >= 0 and not self.write_errno:
                log.log(NOTICE, "Calling fsync() on the AOF file.")
                self._sync_now()
        durable = self.state == OFF or not (self.buffer or self.write_errno
                                            or self.fsync_errno)
        if not durable:
            missing = len(self.buffer) + (sum(len(chunk) for _, chunk in self.unsynced)
                                          if self.fsync_errno else 0)
            log.warning("The AOF could not be completed at shutdown (%s): %d bytes of "
                        "logged writes are not on disk%s",
                        os.strerror(self.write_errno or self.fsync_errno or errno_codes.EIO),
                        missing, "; their replies were never sent"
                        if self.policy == "always" else "")
        for client in (*self.waiting, *self.held):
            if durable or (client not in self.held and client not in self.writers):
                client.send()
            else:
                client.out.clear()
        self.waiting.clear()
        self.held.clear()
        self.fsyncer.stop()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.state = OFF
        if self.directory is not None:
            self.directory.unlock()

    # -- logging writes -----------------------------------------------------------------

    def feed(self, client: Client, spec: Command, argv: list[bytes]) -> None:
        """The server's write hook: log what the command just did. (On every write's
        path, so the common case, a command logged as it ran, is encoded inline.)"""
        if self.state == OFF or self.loading:
            return
        if self.policy == "always":
            self.writers.add(client)
        name = spec.full_name
        db = client.db
        if name not in REWRITES and not db.frozen and len(argv) > 1:
            if db.id != self.logged_db:
                self._select(db.id)
            out = self.buffer
            out += b"*%d\r\n" % len(argv)
            for arg in argv:
                length = len(arg)
                out += BULK_HEADERS[length] if length < 1024 else b"$%d\r\n" % length
                out += arg
                out += b"\r\n"
            return
        if len(argv) == 1 and argv[0].lower() == b"exec":
            self._finish_unit()
            return
        rewrite = REWRITES.get(name)
        records = [argv] if rewrite is None else rewrite(db, argv)
        if records and db.id != self.logged_db:
            self._select(db.id)
        if db.frozen:  # inside EXEC: logged whole when EXEC ends
            self.unit += records
        elif records:
            aof_records.encode_unit(records, self.buffer)

    def reclaimed(self, key: bytes, fields: list[bytes] | None, db: int) -> None:
        """The keyspace's callback: a key or fields expired outside any command's will."""
        if self.state == OFF or self.loading:
            return
        if db != self.logged_db:
            self._select(db)
        record = aof_records.reclaimed(key, fields)
        if self.databases.frozen:
            self.unit.append(record)
        else:
            aof_records.encode(record, self.buffer)

    def _select(self, db: int) -> None:
        """Log SELECT before a record for database `db` (Redis' aof_selected_db); at the
        start of a transaction, before its MULTI, as Redis logs it."""
        record = [b"SELECT", b"%d" % db]
        if self.databases.frozen and self.unit:
            self.unit.append(record)
        else:
            aof_records.encode(record, self.buffer)
        self.logged_db = db

    def _tables(self) -> list[tuple[int, dict, dict]]:
        """(index, values, deadlines) of every database, for a base file."""
        return [(db.id, db.tables, db.deadlines) for db in self.databases]

    def _finish_unit(self) -> None:
        if self.unit:
            aof_records.encode_unit(self.unit, self.buffer)
            self.unit = []

    # -- replies wait for the log -------------------------------------------------------

    def defer(self, client: Client) -> None:
        """Write `client`'s replies after this iteration's log write (and fsync)."""
        self.waiting[client] = None
        if not self._release_scheduled:
            self._release_scheduled = True
            loop = self._loop or asyncio.get_running_loop()
            loop.call_soon(self._release)

    def _release(self) -> None:
        self._release_scheduled = False
        if self.unit:
            self._finish_unit()
        durable = self._flush()
        waiting, self.waiting = self.waiting, {}
        held = self.held
        for client in waiting:
            if client in held:
                continue
            if durable or client not in self.writers:
                client.send()
            else:
                self._hold(client)
        self.writers.clear()

    def _hold(self, client: Client) -> None:
        self.held[client] = None
        if client.transport is not None:
            client.transport.pause_reading()

    def _release_held(self) -> None:
        held, self.held = self.held, {}
        for client in held:
            if client.transport is not None:
                client.transport.resume_reading()
            client.send()

    # -- writing and syncing ------------------------------------------------------------

    def _flush(self) -> bool:
        """Write the buffer, and fsync it under `always`. Returns whether the writes
        logged so far may be acknowledged."""
        if self.state == OFF or self.fd < 0:
            return True  # (switching on: the base about to be forked covers the buffer)
        if self.write_errno or self.fsync_errno:
            return self.policy != "always"  # the cron retries
        if not self._write_buffer():
            return self.policy != "always"
        policy = self.policy
        if policy == "always":
            if self.synced_size == self.incr_size or self._fsync_skipped():
                return True
            return self._sync_now()
        if policy == "everysec":
            if self.fsyncer.pending:
                self._collect_fsyncs()
            self._maybe_background_fsync()
        else:
            self.unsynced.clear()
        return True

    def _write_buffer(self) -> bool:
        """Append the buffer to the current file; False (error state) when it fails."""
        buffer = self.buffer
        if not buffer or self.fd < 0:
            return not buffer
        try:
            written = os.write(self.fd, buffer)
        except OSError as exc:
            self._write_failed(exc.errno or errno_codes.EIO, 0)
            return False
        if written < len(buffer):
            self._write_failed(errno_codes.ENOSPC, written)
            return False
        if self.write_errno:
            log.warning("AOF write error looks solved, the arbiter can write again.")
            self.write_errno = 0
            self._update_refusal()
        self.buffer = bytearray()
        self.incr_size += written
        self.current_size += written
        if self.policy != "no":
            self.unsynced.append((self.incr_size, buffer))
        return True

    def _write_failed(self, code: int, written: int) -> None:
        if written:
            try:
                os.ftruncate(self.fd, self.incr_size)  # take the partial command back
            except OSError as exc:
                log.warning("Could not remove short write from the append-only file. The "
                            "arbiter may refuse to load the AOF the next time it starts. "
                            "ftruncate: %s", exc.strerror)
                chunk = bytes(self.buffer[:written])
                del self.buffer[:written]
                self.incr_size += written
                self.current_size += written
                if self.policy != "no":
                    self.unsynced.append((self.incr_size, chunk))
        now = time.monotonic()
        if now - self._last_error_log > ERROR_LOG_INTERVAL or not self.write_errno:
            self._last_error_log = now
            if written:
                log.warning("Short write while writing to the AOF file: (nwritten=%d, "
                            "expected=%d)", written, written + len(self.buffer))
            else:
                log.warning("Error writing to the AOF file: %s", os.strerror(code))
        self.write_errno = code
        self._last_retry = now
        self._update_refusal()

    def _fsync_skipped(self) -> bool:
        return self.child_pid != 0 and self.config["no-appendfsync-on-rewrite"] == "yes"

    def _sync_now(self) -> bool:
        """fsync the current file in this thread; on failure the unsynced bytes are kept
        to be written again."""
        try:
            fdatasync(self.fd)
        except OSError as exc:
            self._fsync_failed(exc.errno or errno_codes.EIO)
            return False
        self.synced_size = self.incr_size
        self.unsynced.clear()
        self.last_fsync = time.monotonic()
        return True

    def _maybe_background_fsync(self) -> None:
        if self.synced_size == self.incr_size or self._fsync_skipped():
            return
        now = time.monotonic()
        if now - self.last_fsync < 1.0:
            return
        if self.fsyncer.busy:
            self.delayed_fsync += 1
            return
        self.fsyncer.fsync(self.fd, self.incr_size, self.generation)
        self.last_fsync = now

    def _collect_fsyncs(self) -> None:
        for result in self.fsyncer.collect():
            if result.upto == -1 and result.errno:
                log.warning("Error syncing the previous AOF increment file before closing "
                            "it: %s (its last second of writes may not be on disk)",
                            os.strerror(result.errno))
            if result.tag != self.generation or result.upto < 0:
                continue
            if result.errno:
                self._fsync_failed(result.errno)
                continue
            self.synced_size = max(self.synced_size, result.upto)
            log.debug("AOF fsync done: %s is on disk up to offset %d", self.incr_name,
                      result.upto)
            unsynced = self.unsynced
            while unsynced and unsynced[0][0] <= result.upto:
                unsynced.popleft()

    def _fsync_failed(self, code: int) -> None:
        if not self.fsync_errno:
            log.warning("Error syncing the AOF file to disk: %s; writes are refused until "
                        "the data is written again and synced", os.strerror(code))
        self.fsync_errno = code
        self._last_retry = time.monotonic()
        self._update_refusal()

    def _repair(self) -> bool:
        """After a failed fsync the kernel may have dropped the dirty pages: cut the file
        back to where the bytes still held in memory start, write them again, fsync."""
        if self.fsyncer.busy:
            return False
        held_from = self.incr_size - sum(len(chunk) for _, chunk in self.unsynced)
        try:
            os.ftruncate(self.fd, held_from)
            for _, chunk in self.unsynced:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self.fd, view):]
            fdatasync(self.fd)
        except OSError as exc:
            self.fsync_errno = exc.errno or errno_codes.EIO
            self._update_refusal()
            return False
        log.warning("AOF fsync error looks solved, the arbiter can write again.")
        self.fsync_errno = 0
        self.synced_size = self.incr_size
        self.unsynced.clear()
        self.last_fsync = time.monotonic()
        self._update_refusal()
        return True

    def _update_refusal(self) -> None:
        code = self.write_errno or self.fsync_errno
        self.server.deny_writes = errors.MISCONF_AOF.format(os.strerror(code)) if code else None

    # -- the cron -----------------------------------------------------------------------

    def cron(self) -> None:
        """Every tick: reap a finished rewrite, retry after errors, write what expiry
        logged, run the everysec fsync and automatic rewrites."""
        if self.child_pid:
            self._reap_child()
        now = time.monotonic()
        if self.state != OFF:
            self._retry_and_sync(now)
        self._maybe_rewrite(now)

    def _retry_and_sync(self, now: float) -> None:
        if (self.write_errno or self.fsync_errno) and now - self._last_retry >= RETRY_INTERVAL:
            self._last_retry = now
            if self.fsync_errno:
                self._repair()
            if self.write_errno:
                self._write_buffer()
            if not (self.write_errno or self.fsync_errno) and self.held and (
                    self.policy != "always" or self._sync_now()):
                self._release_held()
        elif self.buffer and not self.waiting:
            self._flush()
        elif self.held and self._flush():
            self._release_held()
        if self.policy == "everysec" and not self.fsync_errno:
            self._collect_fsyncs()
            self._maybe_background_fsync()

    def _maybe_rewrite(self, now: float) -> None:
        if self.child_pid or now < self.next_rewrite_at:
            return
        if self.rewrite_scheduled:
            self.start_rewrite()
            return
        percentage = self.config["auto-aof-rewrite-percentage"]
        if self.state != ON or not percentage or \
                self.current_size <= self.config["auto-aof-rewrite-min-size"]:
            return
        base = self.base_size or 1
        growth = self.current_size * 100 // base - 100
        if growth >= percentage:
            log.log(NOTICE, "Starting automatic rewriting of AOF on %d%% growth", growth)
            self.start_rewrite()

    # -- rewrites -----------------------------------------------------------------------

    @property
    def rewriting(self) -> bool:
        return self.child_pid != 0

    def start_rewrite(self, for_save: bool = False) -> str | None:
        """Start a background rewrite; returns None, or why it could not start."""
        if self.child_pid:
            return "in progress"
        self.rewrite_scheduled = False
        directory = self._directory()
        try:
            directory.create()
            manifest = self._current_manifest()
        except (OSError, ManifestError) as exc:
            return self._rewrite_not_started(f"{exc}")
        if self.state == WAIT_REWRITE:
            self.unit = []
            self.buffer.clear()  # the base forked below holds all of it
        if self.state != OFF:
            self._finish_unit()
            if not self._write_buffer():
                return self._rewrite_not_started("the AOF buffer cannot be written")
            try:
                self._open_new_incr(manifest)
            except OSError as exc:
                return self._rewrite_not_started(f"Can't open the append-only file: "
                                                 f"{exc.strerror}")
        try:
            pid = fork_writer(self._tables(),
                              lambda child: directory.file(directory.temp_rewrite_name(child)),
                              self._incremental_fsync())
        except OSError as exc:
            return self._rewrite_not_started(f"Can't fork: {exc.strerror}")
        self.child_pid = pid
        self.child_for_save = for_save
        self.child_started = time.monotonic()
        self.child_dirty = self.databases.dirty
        log.log(NOTICE, "Background append only file rewriting started by pid %d", pid)
        return None

    def _rewrite_not_started(self, reason: str) -> str:
        log.warning("Background append only file rewriting could not start: %s", reason)
        self.last_rewrite_ok = False
        self._rewrite_failed()
        return reason

    def _current_manifest(self) -> Manifest:
        if self.manifest is None:
            self.manifest = self._directory().read_manifest() or Manifest()
        return self.manifest

    def _open_new_incr(self, manifest: Manifest) -> None:
        """Switch appends to a new file: a new increment in the manifest (AOF on), or a
        temporary one no manifest names yet (AOF being switched on)."""
        directory = self._directory()
        if self.state == WAIT_REWRITE:
            name = directory.temp_incr_name()
            fd = _open_new(directory.file(name))
        else:
            seq = manifest.incr_seq + 1
            name = directory.incr_name(seq)
            fd = _open_new(directory.file(name))
            updated = manifest.copy()
            updated.incrs.append(AofFile(name, seq, INCR))
            try:
                directory.write_manifest(updated)
            except OSError:
                os.close(fd)
                directory.remove(name)
                raise
            self.manifest = updated
        self._switch_fd(fd)
        self.incr_name = name
        log.log(NOTICE, "Creating AOF incr file %s on background rewrite", name)

    def _switch_fd(self, fd: int) -> None:
        old = self.fd
        if old >= 0:
            if self.synced_size == self.incr_size:
                os.close(old)
            else:
                self.fsyncer.close(old, True, self.generation)
        self.fd = fd
        self.logged_db = -1  # a new file starts in db 0 when loaded
        self.generation += 1
        self.incr_size = self.synced_size = 0
        self.unsynced.clear()

    def _reap_child(self) -> None:
        try:
            pid, status = os.waitpid(self.child_pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.child_pid, 1 << 8
        if pid == 0:
            return
        code = os.waitstatus_to_exitcode(status)
        temp = self._directory().temp_rewrite_name(self.child_pid)
        seconds = time.monotonic() - self.child_started
        self.child_pid = 0
        self.last_rewrite_seconds = int(seconds)
        if code == 0:
            log.log(NOTICE, "Background AOF rewrite terminated with success")
            if self._rewrite_done(temp):
                return
        elif code < 0:
            log.warning("Background AOF rewrite terminated by signal %d", -code)
        else:
            log.warning("Background AOF rewrite terminated with error")
        self._directory().remove(temp)
        self.last_rewrite_ok = False
        self._rewrite_failed()

    def _rewrite_failed(self) -> None:
        self.consecutive_failures += 1
        delay = min(2.0 ** self.consecutive_failures, MAX_REWRITE_BACKOFF)
        self.next_rewrite_at = time.monotonic() + delay
        if self.state == WAIT_REWRITE:
            self.rewrite_scheduled = True  # AOF stays half-on until a base exists

    def _rewrite_done(self, temp: str, background: bool = True) -> bool:
        """Move the new base in and switch the manifest to it; False on failure."""
        directory = self._directory()
        old = self._current_manifest()
        new = Manifest()
        new.base = AofFile(directory.base_name(old.base_seq + 1), old.base_seq + 1, BASE)
        new.history = list(old.history)
        if old.base is not None:
            new.history.append(AofFile(old.base.name, old.base.seq, HISTORY))
        kept = old.incrs[-1:] if self.state == ON else []
        new.history += [AofFile(f.name, f.seq, HISTORY) for f in old.incrs if f not in kept]
        new.incrs = list(kept)
        try:
            os.rename(directory.file(temp), directory.file(new.base.name))
            if self.state == WAIT_REWRITE:
                incr = AofFile(directory.incr_name(old.incr_seq + 1), old.incr_seq + 1, INCR)
                os.rename(directory.file(directory.temp_incr_name()),
                          directory.file(incr.name))
                new.incrs = [incr]
                self.incr_name = incr.name
            directory.write_manifest(new)
        except OSError as exc:
            log.warning("Error switching the AOF to the new base file %s: %s",
                        new.base.name, exc.strerror)
            directory.remove(new.base.name)
            return False
        log.log(NOTICE, "Successfully renamed the temporary AOF base file %s into %s", temp,
                new.base.name)
        self.manifest = new
        self._forget_history(new)
        if self.state == WAIT_REWRITE:
            self.state = ON
            log.log(NOTICE, "AOF rewrite done: the append only file is on")
        self.base_size = self.current_size = (directory.size(new.base.name)
                                              + (self.incr_size if self.state == ON else 0))
        self.rewrites += 1
        self.consecutive_failures = 0
        self.next_rewrite_at = 0.0
        self.last_rewrite_ok = True
        self.lastsave = int(time.time())
        self.dirty_at_save = self.child_dirty
        log.log(NOTICE, "Background AOF rewrite finished successfully" if background
                else "DB saved on disk")
        return True

    def _kill_child(self) -> None:
        if not self.child_pid:
            return
        log.log(NOTICE, "Killing running AOF rewrite child: %d", self.child_pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child_pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.child_pid, 0)
        directory = self._directory()
        directory.remove(directory.temp_rewrite_name(self.child_pid))
        self.child_pid = 0

    def _incremental_fsync(self) -> bool:
        return self.config["aof-rewrite-incremental-fsync"] == "yes"

    def save(self) -> str | None:
        """SAVE: a new base written in the foreground (clients wait, as in Redis);
        returns None, or the reason it failed."""
        directory = self._directory()
        try:
            directory.create()
            manifest = self._current_manifest()
            if self.state != OFF:
                self._finish_unit()
                if not self._write_buffer():
                    return "the AOF buffer cannot be written"
                self._open_new_incr(manifest)
            temp = directory.temp_rewrite_name(os.getpid())
            write_base_file(self._tables(), directory.file(temp),
                            self._incremental_fsync())
        except (OSError, ManifestError) as exc:
            log.warning("SAVE failed: %s", exc)
            return str(exc)
        self.child_dirty = self.databases.dirty
        self.last_rewrite_seconds = 0
        if not self._rewrite_done(temp, background=False):
            directory.remove(temp)
            return "the new base file could not be switched in"
        return None

    # -- switching on and off -----------------------------------------------------------

    def config_changed(self, changes: dict[str, object]) -> str | None:
        """CONFIG SET appendonly: start or stop logging; returns an error text or None."""
        self.policy = self.config["appendfsync"]
        wanted = changes.get("appendonly")
        if wanted == "yes" and self.state == OFF:
            return self._switch_on()
        if wanted == "no" and self.state != OFF:
            self._switch_off()
        return None

    def _switch_on(self) -> str | None:
        """As Redis' startAppendOnly: log from now on into a temporary increment, and
        write a base of the current data in the background; AOF is on once it exists."""
        self._loop = self._loop or asyncio.get_running_loop()
        try:
            locked = self._directory().lock()
        except OSError as exc:
            log.warning("Can't open the append-only directory %s: %s",
                        self._directory().path, exc.strerror or exc)
            return errors.AOF_CANT_TURN_ON
        if not locked:
            log.warning(errors.AOF_DIRECTORY_LOCKED, self._directory().path)
            return errors.AOF_CANT_TURN_ON
        self._kill_child()
        self.state = WAIT_REWRITE
        if self.databases.frozen:  # inside EXEC: a fork now would split the transaction
            log.warning("AOF was enabled during a transaction. An AOF background was "
                        "scheduled to start when possible.")
            self.rewrite_scheduled = True
            return None
        reason = self.start_rewrite()
        if reason is not None:
            self.state = OFF
            self.rewrite_scheduled = False
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
            self.buffer.clear()
            log.warning("The arbiter needs to enable the AOF but can't trigger a "
                        "background AOF rewrite operation: %s", reason)
            return errors.AOF_CANT_TURN_ON
        self.current_size = 0
        return None

    def _switch_off(self) -> None:
        """As Redis' stopAppendOnly: flush and sync what is logged, close, stop logging."""
        self._finish_unit()
        self._write_buffer()
        if self.fd >= 0 and not self.write_errno:
            self._sync_now()
        self._kill_child()
        if self.state == WAIT_REWRITE:
            self._directory().remove(self._directory().temp_incr_name())
        if self.fd >= 0:
            self.fsyncer.close(self.fd, False, self.generation)
        self.fd = -1
        self.state = OFF
        self.buffer.clear()
        self.logged_db = -1
        self.unsynced.clear()
        self._directory().unlock()
        self.write_errno = self.fsync_errno = 0
        self.rewrite_scheduled = False
        self._update_refusal()
        self._release_held()

    # -- INFO ---------------------------------------------------------------------------

    def info(self) -> list[tuple[str, object]]:
        """INFO persistence. The arbiter writes no RDB: its snapshots are AOF base files,
        so the rdb_* fields describe those (SAVE/BGSAVE write them too)."""
        now = time.monotonic()
        rewriting = 1 if self.child_pid else 0
        status = "ok" if self.last_rewrite_ok else "err"
        fields: list[tuple[str, object]] = [
            ("loading", 0), ("async_loading", 0),
            ("rdb_changes_since_last_save", self.databases.dirty - self.dirty_at_save),
            ("rdb_bgsave_in_progress", rewriting), ("rdb_last_save_time", self.lastsave),
            ("rdb_last_bgsave_status", status),
            ("aof_enabled", 0 if self.state == OFF else 1),
            ("aof_rewrite_in_progress", rewriting),
            ("aof_rewrite_scheduled", 1 if self.rewrite_scheduled else 0),
            ("aof_last_rewrite_time_sec", self.last_rewrite_seconds),
            ("aof_current_rewrite_time_sec",
             int(now - self.child_started) if rewriting else -1),
            ("aof_last_bgrewrite_status", status), ("aof_rewrites", self.rewrites),
            ("aof_rewrites_consecutive_failures", self.consecutive_failures),
            ("aof_last_write_status", "err" if self.write_errno or self.fsync_errno
             else "ok"),
        ]
        if self.state != OFF:
            fields += [
                ("aof_current_size", self.current_size), ("aof_base_size", self.base_size),
                ("aof_pending_rewrite", 1 if self.rewrite_scheduled else 0),
                ("aof_buffer_length", len(self.buffer)),
                ("aof_pending_bio_fsync", self.fsyncer.pending),
                ("aof_delayed_fsync", self.delayed_fsync),
            ]
        return fields


def _open_new(path: str) -> int:
    """A new (or emptied) file to append to; an orphan of a crash is reused empty."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o644)
    return fd
