"""What the arbiter counts about the commands it runs: INFO commandstats, errorstats and
latencystats, the slow log, and the MONITOR feed's text.

`Server.execute` feeds these once per command: two clock reads and one list increment
(a histogram slot) on the common path; nothing there loops over arguments or allocates.
The slow log and the MONITOR feed are only reached past one comparison.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque

from .protocol import sdscatrepr

# -- latency histograms ---------------------------------------------------------------

# Redis keeps an HDR histogram per command of its durations, measured in whole
# microseconds (1 ns .. 1 s, two significant digits). Here durations under 1024 us (all
# but the slowest commands) are counted per whole microsecond, one list slot each, which
# costs one list increment per command; longer ones go to buckets with two significant
# digits (1.0 ms, 1.1 ms, ... 9.9 ms, 10 ms, 11 ms, ...), clamped to 1 s like Redis'.
# A percentile is the smallest recorded value (slot or bucket bound) at or under which
# that share of the durations lies.
EXACT_US = 1024
LATENCY_MAX_US = 1_000_000
_LONG_BOUNDS_US: tuple[int, ...] = tuple(sorted(
    {m * 10**e for e in range(2, 5) for m in range(10, 100)} | {LATENCY_MAX_US}))
LATENCY_PERCENTILES = (50.0, 99.0, 99.9)


class CommandStats:
    """One command's row of INFO commandstats and latencystats.

    The histogram is the only thing `Server.execute` touches per call: the number of
    calls and their total time (Redis' sum of whole microseconds) are read from it."""

    __slots__ = ("histogram", "long", "long_usec", "rejected", "failed")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.histogram = [0] * EXACT_US  # durations by whole microsecond
        self.long: dict[int, int] = {}  # durations of 1024 us or more, by bucket bound
        self.long_usec = 0  # their exact total
        self.rejected = 0
        self.failed = 0

    def record_long(self, micros: int) -> None:
        """A duration past the exact slots (`Server.execute` counts the others)."""
        index = bisect_left(_LONG_BOUNDS_US, micros)
        bound = _LONG_BOUNDS_US[min(index, len(_LONG_BOUNDS_US) - 1)]
        self.long[bound] = self.long.get(bound, 0) + 1
        self.long_usec += micros

    @property
    def calls(self) -> int:
        return sum(self.histogram) + sum(self.long.values())

    @property
    def usec(self) -> int:
        return sum(micros * count for micros, count in enumerate(self.histogram) if count) \
            + self.long_usec

    def percentiles(self) -> list[tuple[float, float]]:
        """(percentile, microseconds) for INFO latencystats; Redis' rule for the rank
        (the percentile's share of the count, rounded, at least 1)."""
        total = self.calls
        values = []
        for percentile in LATENCY_PERCENTILES:
            wanted = max(1, int(percentile / 100.0 * total + 0.5))
            values.append((percentile, self._value_at_rank(wanted) or 0.001))
        return values

    def _value_at_rank(self, wanted: int) -> float:
        running = 0
        for micros, count in enumerate(self.histogram):
            running += count
            if running >= wanted:
                return float(micros)
        for bound in sorted(self.long):
            running += self.long[bound]
            if running >= wanted:
                return float(bound)
        return float(LATENCY_MAX_US)


# -- error replies --------------------------------------------------------------------

class ErrorStats:
    """total_error_replies and INFO errorstats: every error reply any client gets.

    The reply writers call `count` for each error they write, so an error is counted
    wherever it comes from (dispatch, a command, `errors.CommandError`, the parser).
    `current` is the running command's row: its first error makes it a failed call
    (once per call, as Redis); errors written outside a command clear it first."""

    __slots__ = ("total", "by_code", "current")

    def __init__(self) -> None:
        self.total = 0
        self.by_code: dict[str, int] = {}
        self.current: CommandStats | None = None

    def count(self, message: str) -> None:
        self.total += 1
        current = self.current
        if current is not None:
            current.failed += 1
            self.current = None
        # Redis takes the code up to the first space within the reply's first 32 bytes
        # ("-" included), and counts "ERR" when there is none.
        space = message.find(" ", 0, 31)
        code = message[:space] if space >= 0 else "ERR"
        by_code = self.by_code
        by_code[code] = by_code.get(code, 0) + 1

    def reset(self) -> None:
        self.total = 0
        self.by_code.clear()
        self.current = None


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

def monitor_line(unix_ns: int, db: int, source: str, argv: list[bytes]) -> bytes:
    """One MONITOR line: `+<sec>.<usec> [<db> <source>] "arg" ...` and CRLF."""
    micros = unix_ns // 1000
    return b"+%d.%06d [%d %s] %s\r\n" % (
        micros // 1_000_000, micros % 1_000_000, db, source.encode("utf-8", "surrogateescape"),
        b" ".join([sdscatrepr(arg) for arg in argv]))
