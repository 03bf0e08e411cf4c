"""Loading the append-only files at start: parse each file's RESP commands and replay them.

The files are replayed in the manifest's order (base, then increments) through the
command handlers, as Redis replays them through a fake client: no reply is sent, an
error a command answers is counted and ignored (it failed the same way when it ran).
The clock is held at the epoch while loading, so nothing expires half-way: a key whose
deadline passed while the arbiter was down is loaded with that deadline and reclaimed
(and logged as deleted) once the arbiter runs, exactly as if it had stayed up.

A file that ends inside a command (a write torn by a crash) loads the commands before
it; only the last file may be torn, and only with `aof-load-truncated yes`: the tail is
cut off the file and logged. Anything else that is not a command (a corrupt byte in the
middle, an unknown command) refuses the start with the file and offset.
"""

from __future__ import annotations

import mmap
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import errors
from .aof_manifest import AofDirectory, Manifest
from .client import Client
from .limits import INT_MAX
from .logs import NOTICE, log
from .registry import Command, lookup

if TYPE_CHECKING:
    from .server import Server

# The id of the client that replays the files: commands obey it as Redis' commands obey
# its AOF client (mustObeyClient), e.g. a string may exceed proto-max-bulk-len.
LOADER_CLIENT_ID = -1

# The largest argument count and bulk length the loader believes; anything larger is
# corruption (Redis' own limits on a request are far below these).
MAX_ARGS = INT_MAX
CHECK_AOF_HINT = ("make a backup of your AOF file, then use ./redis-check-aof --fix "
                  "<filename.manifest>")


class AofLoadError(Exception):
    """The files cannot be loaded; the arbiter must not start on partial data."""


class _Torn(Exception):
    """The data ends inside a command."""


class _Corrupt(Exception):
    """Bytes that are not a RESP command, at `offset`."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


def parse_command(buf, pos: int, end: int) -> tuple[list[bytes] | None, int]:
    """The command starting at `pos` and the offset after it; None for an annotation
    line (`#...`). Raises _Torn when `end` comes first, _Corrupt for anything else."""
    first = buf[pos]
    if first == 35:  # '#': Redis' annotations (timestamps), skipped
        eol = buf.find(b"\n", pos, end)
        if eol < 0:
            raise _Torn()
        return None, eol + 1
    if first != 42:  # '*'
        raise _Corrupt(pos, f"expected '*', got {bytes([first])!r}")
    count, pos = _header(buf, pos, end)
    if count < 1:
        raise _Corrupt(pos, "a command with no arguments")
    argv = []
    for _ in range(count):
        if pos >= end:
            raise _Torn()
        if buf[pos] != 36:  # '$'
            raise _Corrupt(pos, f"expected '$', got {bytes([buf[pos]])!r}")
        length, pos = _header(buf, pos, end)
        stop = pos + length
        if stop + 2 > end:
            raise _Torn()
        if buf[stop:stop + 2] != b"\r\n":
            raise _Corrupt(stop, "a bulk string not followed by CRLF")
        argv.append(buf[pos:stop])
        pos = stop + 2
    return argv, pos


def _header(buf, pos: int, end: int) -> tuple[int, int]:
    """`*N\\r\\n` or `$N\\r\\n` at `pos`: N and the offset after the line."""
    eol = buf.find(b"\r\n", pos + 1, min(end, pos + 24))
    if eol < 0:
        digits = buf[pos + 1:min(end, pos + 24)]
        if (end - pos < 24 and digits.rstrip(b"\r").isdigit()) or end - pos <= 1:
            raise _Torn()
        raise _Corrupt(pos, "a malformed length line")
    digits = buf[pos + 1:eol]
    if not digits.isdigit() or int(digits) > MAX_ARGS * (1 if buf[pos] == 42 else 2**32):
        raise _Corrupt(pos, "a malformed length line")
    return int(digits), eol + 2


@dataclass
class FileResult:
    commands: int = 0
    failed: int = 0
    truncated_at: int = -1  # the offset the file was cut at, or -1
    dropped: int = 0  # bytes dropped from a torn tail


class Loader:
    """Replays the files named by a manifest into `server`'s keyspace."""

    def __init__(self, server: Server, directory: AofDirectory, load_truncated: bool) -> None:
        self.server = server
        self.directory = directory
        self.load_truncated = load_truncated
        self.client = Client(server)
        self.client.id = LOADER_CLIENT_ID
        self.commands = 0
        self.failed = 0

    def load(self, manifest: Manifest) -> int:
        """Load every live file; returns the size of the base file. Raises AofLoadError."""
        files = manifest.live_files()
        for entry in files:
            if not os.path.exists(self.directory.file(entry.name)):
                raise AofLoadError(f"The AOF file {entry.name} named by the manifest "
                                   "doesn't exist")
        databases = self.server.databases
        databases.freeze(1)  # no deadline passes while loading
        try:
            for number, entry in enumerate(files, 1):
                started = time.monotonic()
                self.client.db = databases[0]  # each file starts in db 0, as in Redis
                result = self._load_file(entry.name, last=number == len(files))
                kind = "base" if entry is manifest.base else "incr"
                log.log(NOTICE, "DB loaded from %s file %s: %.3f seconds", kind, entry.name,
                        time.monotonic() - started)
                self.commands += result.commands
                self.failed += result.failed
        finally:
            databases.thaw()
        if self.failed:
            log.warning("%d commands in the AOF answered an error while loading (as they "
                        "did when they first ran); they changed nothing", self.failed)
        return self.directory.size(manifest.base.name) if manifest.base else 0

    def _load_file(self, name: str, last: bool) -> FileResult:
        path = self.directory.file(name)
        result = FileResult()
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise AofLoadError(f"Fatal error: can't open the append log file {name} for "
                               f"reading: {exc.strerror}") from exc
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                return result
            with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as buf:
                valid = self._replay(buf, size, name, result)
        finally:
            os.close(fd)
        if valid < size:
            self._cut_tail(name, path, valid, size, last, result)
        return result

    def _replay(self, buf, size: int, name: str, result: FileResult) -> int:
        """Run the file's commands; returns the offset where the loadable part ends."""
        pos = valid = 0
        queued: list[tuple[Command, list[bytes]]] | None = None
        before_multi = 0
        while pos < size:
            try:
                argv, end = parse_command(buf, pos, size)
            except _Torn:
                break
            except _Corrupt as exc:
                if _zeros(buf, pos, size):
                    break  # a tail the filesystem zero-filled after a crash: torn
                raise AofLoadError(
                    f"Bad file format reading the append only file {name} at offset "
                    f"{exc.offset} ({exc.reason}): {CHECK_AOF_HINT}") from None
            pos = end
            if argv is None:
                continue
            spec = self._command(argv, name, pos)
            if spec.name == "multi":
                if queued is not None:
                    raise AofLoadError(f"Bad file format reading the append only file "
                                       f"{name} at offset {pos}: MULTI inside MULTI")
                queued = []
                before_multi = valid
                continue
            if spec.name == "exec":
                if queued is None:
                    raise AofLoadError(f"Bad file format reading the append only file "
                                       f"{name} at offset {pos}: EXEC without MULTI")
                for queued_spec, queued_argv in queued:
                    self._run(queued_spec, queued_argv, result)
                queued = None
            elif queued is not None:
                queued.append((spec, argv))
                continue
            else:
                self._run(spec, argv, result)
            valid = pos
        if queued is not None:
            log.warning("Revert incomplete MULTI/EXEC transaction in AOF file %s", name)
            return before_multi
        return valid

    def _command(self, argv: list[bytes], name: str, offset: int) -> Command:
        spec = lookup(argv[0])
        if spec is not None and spec.subcommands and len(argv) > 1:
            spec = spec.subcommands.get(argv[1].lower())
        if spec is None or spec.handler is None:
            text = argv[0].decode("utf-8", "replace")
            raise AofLoadError(f"Unknown command '{text}' reading the append only file "
                               f"{name} at offset {offset}")
        if not spec.accepts(len(argv)):
            raise AofLoadError(f"Wrong number of arguments for '{spec.full_name}' reading "
                               f"the append only file {name} at offset {offset}")
        return spec

    def _run(self, spec: Command, argv: list[bytes], result: FileResult) -> None:
        client = self.client
        out = client.out
        try:
            spec.handler(client, argv)
        except errors.CommandError:
            result.failed += 1
        except Exception as exc:
            raise AofLoadError(f"Internal error replaying '{spec.full_name}' from the "
                               f"append only file: {exc!r}") from exc
        else:
            if out[:1] == b"-":
                result.failed += 1
        if spec.name == "select" and client.db.id != _index(argv[1]):
            # What follows would land in another database.
            raise AofLoadError(
                f"The append only file selects a database this server does not have "
                f"(SELECT {argv[1].decode('utf-8', 'replace')}); start it with a larger "
                f"'databases' setting")
        out.clear()
        result.commands += 1

    def _cut_tail(self, name: str, path: str, valid: int, size: int, last: bool,
                  result: FileResult) -> None:
        dropped = size - valid
        if not last:
            raise AofLoadError(f"Fatal error: the truncated file is not the last file "
                               f"({name} ends inside a command at offset {valid})")
        if not self.load_truncated:
            raise AofLoadError(
                f"Unexpected end of file reading the append only file {name} (offset "
                f"{valid}, {dropped} bytes after it). You can: 1) Make a backup of your "
                "AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) "
                "Alternatively you can set the 'aof-load-truncated' configuration option "
                "to yes and restart the server.")
        log.warning("!!! Warning: short read while loading the AOF file %s!!!", name)
        log.warning("!!! Truncating the AOF %s at offset %d (dropping the %d bytes of "
                    "an incomplete command) !!!", name, valid, dropped)
        try:
            os.truncate(path, valid)
        except OSError as exc:
            raise AofLoadError(f"Error truncating the AOF file {name}: "
                               f"{exc.strerror}") from exc
        log.warning("AOF %s loaded anyway because aof-load-truncated is enabled", name)
        result.truncated_at = valid
        result.dropped = dropped


def _index(arg: bytes) -> int | None:
    """SELECT's argument as a number (None if it is not one)."""
    try:
        return int(arg)
    except ValueError:
        return None


def _zeros(buf, pos: int, end: int) -> bool:
    """Whether everything from `pos` on is NUL bytes."""
    step = 1 << 20
    while pos < end:
        chunk = buf[pos:min(end, pos + step)]
        if chunk.count(0) != len(chunk):
            return False
        pos += step
    return True
