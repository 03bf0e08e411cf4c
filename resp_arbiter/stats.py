"""What the arbiter counts about the commands it runs: INFO commandstats, errorstats and
latencystats, the slow log, and the MONITOR feed's text.

`Server.execute` feeds these once per command; the per-command cost is two clock reads,
a few integer additions and one bisection, so nothing here may loop over arguments or
allocate on the common path.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import deque

# -- latency histograms ---------------------------------------------------------------

# Redis keeps an HDR histogram per command (1 ns .. 1 s, two significant digits). This is
# a fixed log-linear bucketing of the same range with the same precision: bucket bounds
# are every two-digit mantissa of every power of ten (1..9, 10, 11 .. 99, 100, 110 .. 990,
# ...), a duration is counted in the first bucket whose bound is >= it, and a percentile
# reports that bound, as HDR reports the highest value equivalent to its bucket.
LATENCY_MAX_NS = 1_000_000_000
LATENCY_BOUNDS: tuple[int, ...] = tuple(sorted(
    {m for m in range(1, 10)}
    | {m * 10**e for e in range(0, 8) for m in range(10, 100)}
    | {LATENCY_MAX_NS}))
LATENCY_PERCENTILES = (50.0, 99.0, 99.9)


def percentile_ns(histogram: list[int], total: int, percentile: float) -> int:
    """The bucket bound at `percentile` of `total` recorded durations (HDR's rule: the
    first bucket where the running count reaches percentile% of the total, rounded)."""
    wanted = max(1, int(percentile / 100.0 * total + 0.5))
    running = 0
    for index, count in enumerate(histogram):
        running += count
        if running >= wanted:
            return LATENCY_BOUNDS[min(index, len(LATENCY_BOUNDS) - 1)]
    return LATENCY_MAX_NS


class CommandStats:
    """One command's row of INFO commandstats and latencystats."""

    __slots__ = ("calls", "nanos", "rejected", "failed", "histogram")

    def __init__(self) -> None:
        self.calls = 0
        self.nanos = 0
        self.rejected = 0
        self.failed = 0
        # One slot per bound, plus one for durations past the last (clamped to 1 s).
        self.histogram = [0] * (len(LATENCY_BOUNDS) + 1)

    def record(self, nanos: int, track_latency: bool) -> None:
        self.calls += 1
        self.nanos += nanos
        if track_latency:
            self.histogram[bisect_left(LATENCY_BOUNDS, nanos)] += 1

    @property
    def usec(self) -> int:
        return self.nanos // 1000

    def percentiles(self) -> list[tuple[float, float]]:
        """(percentile, microseconds) for INFO latencystats."""
        total = sum(self.histogram)
        return [(p, percentile_ns(self.histogram, total, p) / 1000.0)
                for p in LATENCY_PERCENTILES]


# -- error replies --------------------------------------------------------------------

class ErrorStats:
    """total_error_replies and INFO errorstats: every error reply any client gets.

    The reply writers call `count` for each error they write, so an error is counted
    wherever it comes from (dispatch, a command, `errors.CommandError`, the parser)."""

    __slots__ = ("total", "by_code")

    def __init__(self) -> None:
        self.total = 0
        self.by_code: dict[str, int] = {}

    def count(self, message: str) -> None:
        self.total += 1
        # Redis takes the code up to the first space within the reply's first 32 bytes
        # ("-" included), and counts "ERR" when there is none.
        space = message.find(" ", 0, 31)
        code = message[:space] if space >= 0 else "ERR"
        by_code = self.by_code
        by_code[code] = by_code.get(code, 0) + 1

    def reset(self) -> None:
        self.total = 0
        self.by_code.clear()


_UNSAFE_INFO = str.maketrans("#:\n\r", "____")


def safe_info_name(name: str) -> str:
    """A name as INFO prints it: Redis replaces '#', ':', CR and LF by '_'."""
    return name.translate(_UNSAFE_INFO)


# -- the slow log ---------------------------------------------------------------------

SLOWLOG_MAX_ARGC = 32
SLOWLOG_MAX_STRING = 128


class SlowLog:
    """The newest entries first, at most `max_len` of them (trimmed as Redis trims)."""

    __slots__ = ("entries", "next_id")

    def __init__(self) -> None:
        self.entries: deque[tuple[int, int, int, list[bytes], bytes, bytes]] = deque()
        self.next_id = 0

    def push(self, argv: list[bytes], unix_time: int, micros: int, peer: str,
             name: bytes, max_len: int) -> None:
        """Record one command: its arguments cut as Redis cuts them (32 arguments, the
        last replaced by a count of the rest; each at most 128 bytes and a count)."""
        argc = len(argv)
        shown = argv if argc <= SLOWLOG_MAX_ARGC else argv[:SLOWLOG_MAX_ARGC - 1]
        kept = [arg if len(arg) <= SLOWLOG_MAX_STRING else
                arg[:SLOWLOG_MAX_STRING] + b"... (%d more bytes)"
                % (len(arg) - SLOWLOG_MAX_STRING) for arg in shown]
        if argc > SLOWLOG_MAX_ARGC:
            kept.append(b"... (%d more arguments)" % (argc - SLOWLOG_MAX_ARGC + 1))
        self.entries.appendleft((self.next_id, unix_time, micros, kept, peer.encode(
            "utf-8", "surrogateescape"), name))
        self.next_id += 1
        self.trim(max_len)

    def trim(self, max_len: int) -> None:
        entries = self.entries
        while len(entries) > max_len:
            entries.pop()

    def reset(self) -> None:
        self.entries.clear()


# -- MONITOR --------------------------------------------------------------------------

# sdscatrepr: printable ASCII as is, except backslash and double quote; \n \r \t \a \b
# by name; every other byte as \xHH.
_REPR_BYTE = [b"\\x%02x" % byte for byte in range(256)]
for _byte in range(0x20, 0x7F):
    _REPR_BYTE[_byte] = bytes((_byte,))
for _byte, _text in ((0x5C, b"\\\\"), (0x22, b'\\"'), (0x0A, b"\\n"), (0x0D, b"\\r"),
                     (0x09, b"\\t"), (0x07, b"\\a"), (0x08, b"\\b")):
    _REPR_BYTE[_byte] = _text
_NEEDS_ESCAPE = re.compile(rb'[^\x20-\x21\x23-\x5b\x5d-\x7e]')


def quote_arg(arg: bytes) -> bytes:
    """An argument as Redis' sdscatrepr quotes it in MONITOR lines."""
    if _NEEDS_ESCAPE.search(arg) is None:
        return b'"%s"' % arg
    return b'"%s"' % b"".join([_REPR_BYTE[byte] for byte in arg])


def monitor_line(unix_ns: int, source: str, argv: list[bytes]) -> bytes:
    """One MONITOR line: `+<sec>.<usec> [0 <source>] "arg" ...` and CRLF."""
    micros = unix_ns // 1000
    return b"+%d.%06d [0 %s] %s\r\n" % (
        micros // 1_000_000, micros % 1_000_000, source.encode("utf-8", "surrogateescape"),
        b" ".join([quote_arg(arg) for arg in argv]))
