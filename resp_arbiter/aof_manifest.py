"""The append-only file set on disk, laid out as Redis 7 lays it out.

`dir/appenddirname/` holds a manifest (`appendonly.aof.manifest`) naming one base file
(`appendonly.aof.<seq>.base.aof`, the data at the last rewrite), the increment files
(`appendonly.aof.<seq>.incr.aof`, every change since, replayed in order) and history
files (replaced by a rewrite, deleted soon after). The manifest is only ever replaced
whole (written to a temporary file, fsynced, renamed over the old one, directory
fsynced), so at any moment the directory names a complete, loadable set of files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from dataclasses import dataclass, field

from .protocol import sdscatrepr, split_inline_args

BASE, INCR, HISTORY = "b", "i", "h"
MANIFEST_MAX_LINE = 1024
TEMP_PREFIX = "temp-"


class ManifestError(Exception):
    """The manifest cannot be read; the arbiter refuses to start rather than guess."""


@dataclass
class AofFile:
    """One line of the manifest."""

    name: str
    seq: int
    kind: str


@dataclass
class Manifest:
    """The files that make up the data: at most one base, then increments in order."""

    base: AofFile | None = None
    incrs: list[AofFile] = field(default_factory=list)
    history: list[AofFile] = field(default_factory=list)

    def copy(self) -> Manifest:
        return Manifest(self.base, list(self.incrs), list(self.history))

    @property
    def base_seq(self) -> int:
        return self.base.seq if self.base else 0

    @property
    def incr_seq(self) -> int:
        return self.incrs[-1].seq if self.incrs else 0

    def live_files(self) -> list[AofFile]:
        """The files to load, in load order."""
        return ([self.base] if self.base else []) + self.incrs

    def format(self) -> bytes:
        lines = [_format_line(f) for f in ([self.base] if self.base else [])]
        lines += [_format_line(f) for f in self.history + self.incrs]
        return "".join(lines).encode("utf-8", "surrogateescape")

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """Read a manifest with Redis' rules: `file NAME seq N type b|h|i` per line,
        `#` comments, increments in increasing sequence order, one base at most."""
        manifest = cls()
        if not data:
            raise ManifestError("Found an empty AOF manifest")
        for number, line in enumerate(data.splitlines(keepends=True), 1):
            if line.startswith(b"#"):
                continue
            if len(line) > MANIFEST_MAX_LINE or not line.endswith(b"\n"):
                raise ManifestError(f"line {number}: The AOF manifest file contains too "
                                    "long line" if len(line) > MANIFEST_MAX_LINE else
                                    f"line {number}: Invalid AOF manifest file format")
            words = split_inline_args(line.strip(b" \t\r\n"))
            if words is None or len(words) < 6 or len(words) % 2:
                raise ManifestError(f"line {number}: Invalid AOF manifest file format")
            values = {words[i].lower(): words[i + 1] for i in range(0, len(words), 2)}
            name = values.get(b"file", b"")
            seq = values.get(b"seq", b"")
            kind = values.get(b"type", b"")
            if not name or not kind or not seq.isdigit() or int(seq) == 0:
                raise ManifestError(f"line {number}: Invalid AOF manifest file format")
            if b"/" in name or b"\\" in name:
                raise ManifestError(f"line {number}: File can't be a path, just a filename")
            entry = AofFile(name.decode("utf-8", "surrogateescape"), int(seq),
                            chr(kind[0]))
            if entry.kind == BASE:
                if manifest.base is not None:
                    raise ManifestError(f"line {number}: Found duplicate base file "
                                        "information")
                manifest.base = entry
            elif entry.kind == HISTORY:
                manifest.history.append(entry)
            elif entry.kind == INCR:
                if manifest.incrs and entry.seq <= manifest.incrs[-1].seq:
                    raise ManifestError(f"line {number}: Found a non-monotonic sequence "
                                        "number")
                manifest.incrs.append(entry)
            else:
                raise ManifestError(f"line {number}: Unknown AOF file type")
        return manifest


def _format_line(entry: AofFile) -> str:
    return f"file {quote(entry.name)} seq {entry.seq} type {entry.kind}\n"


_PLAIN = re.compile(rb"[\x21-\x7e]+")


def quote(name: str) -> str:
    """A file name as a manifest token: bare, or double-quoted with C escapes (as Redis'
    sdscatrepr writes it when the name has spaces, quotes or unprintable bytes)."""
    raw = name.encode("utf-8", "surrogateescape")
    if _PLAIN.fullmatch(raw) and not any(c in raw for c in b"\"\'\\"):
        return name
    return sdscatrepr(raw).decode("ascii")


class AofDirectory:
    """The directory of the file set: names, the manifest, durable renames."""

    def __init__(self, directory: str, filename: str) -> None:
        self.path = directory
        self.filename = filename
        self._lock_fd = -1

    @property
    def manifest_name(self) -> str:
        return f"{self.filename}.manifest"

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def base_name(self, seq: int) -> str:
        return f"{self.filename}.{seq}.base.aof"

    def incr_name(self, seq: int) -> str:
        return f"{self.filename}.{seq}.incr.aof"

    def temp_incr_name(self) -> str:
        """Where the increments go while AOF is being switched on (no base yet)."""
        return f"{TEMP_PREFIX}{self.filename}.incr"

    @staticmethod
    def temp_rewrite_name(pid: int) -> str:
        return f"{TEMP_PREFIX}rewriteaof-bg-{pid}.aof"

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def create(self) -> None:
        os.makedirs(self.path, exist_ok=True)

    def lock(self) -> bool:
        """Hold an exclusive lock on the directory for the rest of this process's life
        (nothing is written in it for that); False if another process holds it.

        Two servers appending to one file set would interleave their records and each
        rewrite would drop the other's: the second arbiter must refuse to start. A crashed
        holder's lock goes with it. redis-server takes no such lock, so this guards
        arbiters against each other, not against a redis-server on the same directory."""
        if self._lock_fd >= 0:
            return True
        self.create()
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def unlock(self) -> None:
        """Once nothing more is written here (a clean stop, AOF switched off)."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def read_manifest(self) -> Manifest | None:
        """The manifest, or None when there is none (no AOF yet)."""
        try:
            with open(self.file(self.manifest_name), "rb") as handle:
                data = handle.read(64 * 1024 * 1024)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ManifestError(f"Fatal error: can't open the AOF manifest "
                                f"{self.manifest_name} for reading: {exc.strerror}") from exc
        return Manifest.parse(data)

    def write_manifest(self, manifest: Manifest) -> None:
        """Replace the manifest atomically and durably; raises OSError."""
        temp = self.file(TEMP_PREFIX + self.manifest_name)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            data = manifest.format()
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, self.file(self.manifest_name))
        self.fsync()

    def fsync(self) -> None:
        """Make renames and new files in the directory durable."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def size(self, name: str) -> int:
        try:
            return os.stat(self.file(name)).st_size
        except FileNotFoundError:
            return 0

    def remove(self, name: str) -> bool:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.file(name))
            return True
        return False

    def stale_temp_files(self) -> list[str]:
        """Temporary files a crashed arbiter (or its rewrite child) left behind."""
        if not self.exists():
            return []
        prefix_rewrite = TEMP_PREFIX + "rewriteaof-bg-"
        return sorted(name for name in os.listdir(self.path)
                      if name.startswith(prefix_rewrite) or name == self.temp_incr_name()
                      or name == TEMP_PREFIX + self.manifest_name)
