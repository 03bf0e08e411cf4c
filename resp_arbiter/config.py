"""One settings object, with redis-server's option names, parsing rules and CONFIG texts.

Each setting is declared once (`SETTINGS`); the command line, CONFIG GET and CONFIG SET
all read that declaration, so an option cannot mean one thing on the command line and
another in CONFIG SET.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .limits import INT_MAX, LONG_MAX, LONG_MIN, UINT_MAX, ULONG_LIMIT

LOG_LEVELS = ("debug", "verbose", "notice", "warning")
# In the order redis-server lists them in its CONFIG SET error.
MAXMEMORY_POLICIES = ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                      "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")


class ConfigError(ValueError):
    """A value a setting refuses; the text is the reason redis-server gives."""


# memtoull: the digits, then an optional unit; the unit names are matched in any case.
_MEMORY = re.compile(r"([0-9]*)(b|k|kb|m|mb|g|gb)?\Z", re.IGNORECASE | re.ASCII)
_UNITS = {None: 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2,
          "g": 1000**3, "gb": 1024**3}
# string2ll refuses a text this long (LONG_STR_SIZE), memtoull a digit run this long; so
# neither ever converts thousands of digits (which Python refuses past 4300 digits).
_LONG_STR_SIZE = 21
_MEMORY_DIGITS_MAX = 127


_STRING2LL = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")


def _parse_int(text: str) -> int:
    """An integer as Redis' string2ll reads it (no sign but '-', no leading zeros)."""
    if (len(text) >= _LONG_STR_SIZE or not _STRING2LL.match(text)
            or not LONG_MIN <= int(text) <= LONG_MAX):
        raise ConfigError("argument couldn't be parsed into an integer")
    return int(text)


def _parse_memory(text: str) -> int:
    """A memory value as Redis' memtoull reads it: digits and an optional unit. As in C,
    a number past 2**64-1 saturates, the product wraps modulo 2**64, and the result is
    read as a signed 64-bit value (so the bounds check refuses what overflowed)."""
    match = _MEMORY.match(text)
    if not match or len(match.group(1)) > _MEMORY_DIGITS_MAX:
        raise ConfigError("argument must be a memory value")
    unit = match.group(2)
    number = min(int(match.group(1) or "0"), ULONG_LIMIT - 1)
    value = number * _UNITS[unit.lower() if unit else None] % ULONG_LIMIT
    return value - ULONG_LIMIT if value > LONG_MAX else value


def is_memory(setting: Setting) -> bool:
    """Whether a setting takes a memory value (a configuration file writes it in units)."""
    return setting.parse is _parse_memory


def _parse_yes_no(text: str) -> str:
    value = text.lower()
    if value not in ("yes", "no"):
        raise ConfigError("argument must be 'yes' or 'no'")
    return value


def _parse_octal(text: str) -> int:
    try:
        return int(text, 8)
    except ValueError:
        raise ConfigError("argument couldn't be parsed into an integer") from None


# client-output-buffer-limit: per client class, (hard bytes, soft bytes, soft seconds).
# Redis' default for normal clients is 0 0 0 (no limit); the arbiter's bounds a client
# that stops reading its replies (see client.py for when the limits apply).
OUTPUT_LIMIT_CLASSES = ("normal", "slave", "pubsub")
DEFAULT_OUTPUT_LIMITS = {"normal": (256 * 1024**2, 64 * 1024**2, 60),
                         "slave": (256 * 1024**2, 64 * 1024**2, 60),
                         "pubsub": (32 * 1024**2, 8 * 1024**2, 60)}
_OUTPUT_LIMIT_CLASS = {"normal": "normal", "slave": "slave", "replica": "slave",
                       "pubsub": "pubsub"}
_MEMTOULL_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2,
                   "g": 1000**3, "gb": 1024**3}
_DIGITS = re.compile(r"[0-9]*")
_STRTOLL = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)\Z")


def _memtoull(text: str) -> int | None:
    """Redis' memtoull: digits and an optional unit; values wrap at 64 bits as in C."""
    digits = _DIGITS.match(text).group()
    unit = text[len(digits):]
    multiplier = _MEMTOULL_UNITS.get(unit.lower()) if unit.isascii() else None
    if multiplier is None or len(digits) >= 128:
        return None
    return min(int(digits or "0"), ULONG_LIMIT - 1) * multiplier % ULONG_LIMIT


def _soft_seconds(text: str) -> int | None:
    """strtoll into a C int, as Redis reads the soft limit's seconds."""
    if not text:
        return 0
    match = _STRTOLL.match(text)
    if match is None:
        return None
    value = max(LONG_MIN, min(int(match.group(1)), LONG_MAX))
    return (value + 2**31) % 2**32 - 2**31


def _parse_output_limits(text: str) -> dict[str, tuple[int, int, int]]:
    """Groups of `<class> <hard> <soft> <seconds>`, split on single spaces as CONFIG SET
    splits them; all are checked before any applies, and only the classes named change."""
    args = text.split(" ") if text else []
    if len(args) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    limits = {}
    for i in range(0, len(args), 4):
        name = _OUTPUT_LIMIT_CLASS.get(args[i].lower() if args[i].isascii() else "")
        if name is None:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        hard, soft, seconds = _memtoull(args[i + 1]), _memtoull(args[i + 2]), \
            _soft_seconds(args[i + 3])
        if hard is None or soft is None or seconds is None or seconds < 0:
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit "
                              "configuration.")
        limits[name] = (hard, soft, seconds)
    return limits


def _render_output_limits(limits: dict[str, tuple[int, int, int]]) -> str:
    return " ".join(f"{name} {hard} {soft} {seconds}" for name in OUTPUT_LIMIT_CLASSES
                    for hard, soft, seconds in (limits[name],))


def _parse_yes_no(text: str) -> str:
    value = text.lower()
    if value not in ("yes", "no"):
        raise ConfigError("argument must be 'yes' or 'no'")
    return value


def _yes_no(value: object) -> str:
    return str(value)


def _parse_no_preamble(text: str) -> str:
    if _parse_yes_no(text) == "yes":
        raise ConfigError("the arbiter writes no RDB: AOF base files are RESP commands")
    return "no"


def _aof_name(setting: str, kind: str) -> Callable[[str], str]:
    """Redis' check of appendfilename / appenddirname: a plain name, not a path."""
    def parse(text: str) -> str:
        if not text:
            raise ConfigError(f"{setting} can't be empty")
        if "/" in text or "\\" in text:
            raise ConfigError(f"{setting} can't be a path, just a {kind}")
        return text
    return parse


@dataclass(frozen=True)
class Setting:
    """One option: how to parse it, its bounds, how CONFIG GET prints it."""

    name: str
    default: object
    parse: Callable[[str], object] = str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    mutable: bool = True
    render: Callable[[object], str] = str
    help: str = ""
    on_command_line: bool = True
    # The value names only what it changes (a dict merged into the current one).
    partial: bool = False
    protected: bool = False  # Redis' PROTECTED_CONFIG: CONFIG SET refuses it

    def convert(self, text: str, current: object = None) -> object:
        if self.partial:
            return {**current, **self.parse(text)}
        if self.choices:
            value = text.lower()
            if value not in self.choices:
                raise ConfigError("argument(s) must be one of the following: "
                                  + ", ".join(self.choices))
            return value
        value = self.parse(text)
        if self.minimum is not None and isinstance(value, int) and not (
                self.minimum <= value <= (self.maximum or LONG_MAX)):
            raise ConfigError(f"argument must be between {self.minimum} and "
                              f"{self.maximum or LONG_MAX} inclusive")
        return value


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("unixsocket", "", mutable=False, help="Unix socket path to listen on"),
    Setting("unixsocketperm", 0o700, _parse_octal, 0, 0o777, mutable=False,
            render=lambda v: format(v, "o"), help="permissions of the socket file (octal)"),
    Setting("port", 0, _parse_int, 0, 65535, mutable=False,
            help="TCP port to listen on as well (0 = no TCP)"),
    Setting("bind", "127.0.0.1", mutable=False, help="addresses for the TCP port"),
    Setting("requirepass", "", help="password clients must AUTH with"),
    Setting("maxclients", 10000, _parse_int, 1, UINT_MAX, help="most clients at once"),
    Setting("timeout", 0, _parse_int, 0, INT_MAX,
            help="close a client idle this many seconds (0 = never)"),
    Setting("proto-max-bulk-len", 512 * 1024**2, _parse_memory, 1024**2, LONG_MAX,
            help="largest bulk string a request may carry"),
    Setting("client-query-buffer-limit", 1024**3, _parse_memory, 1024**2, LONG_MAX,
            help="largest unparsed request data held per client"),
    Setting("client-output-buffer-limit", DEFAULT_OUTPUT_LIMITS, _parse_output_limits,
            render=_render_output_limits, partial=True,
            help="limits on replies waiting for a client, as 'class hard soft seconds' "
                 "groups (class: normal, replica, pubsub)"),
    Setting("loglevel", "notice", choices=LOG_LEVELS, help="log verbosity"),
    Setting("maxmemory", 0, _parse_memory, 0, LONG_MAX,
            help="memory limit for the data (0 = none); see maxmemory-policy"),
    Setting("maxmemory-policy", "noeviction", choices=MAXMEMORY_POLICIES,
            help="what to evict at maxmemory (noeviction refuses writes instead)"),
    Setting("maxmemory-samples", 5, _parse_int, 1, INT_MAX,
            help="keys sampled per eviction (more: closer to true LRU/LFU/TTL order)"),
    Setting("lfu-log-factor", 10, _parse_int, 0, INT_MAX,
            help="hits needed to raise a key's LFU counter grow with this factor"),
    Setting("lfu-decay-time", 1, _parse_int, 0, INT_MAX,
            help="minutes for a key's LFU counter to decay by one (0 = never)"),
    Setting("logfile", "", mutable=False, help="log file ('' = standard output)"),
    Setting("databases", 16, _parse_int, 1, INT_MAX, mutable=False,
            help="number of databases (SELECT 0 to databases-1)"),
    Setting("slowlog-log-slower-than", 10000, _parse_int, -1, LONG_MAX,
            help="log commands slower than this many microseconds (-1 = never)"),
    Setting("slowlog-max-len", 128, _parse_int, 0, LONG_MAX,
            help="most entries the slow log keeps"),
    Setting("tracking-table-max-keys", 1000000, _parse_int, 0, LONG_MAX,
            help="keys CLIENT TRACKING remembers at most; past it the oldest are "
                 "invalidated (0 = no limit)"),
    Setting("latency-tracking", "yes", _parse_yes_no,
            help="show per-command latency percentiles in INFO latencystats (yes/no)"),
    # Read by redis-benchmark and other tools; the arbiter keeps no RDB (see appendonly).
    Setting("save", "", mutable=False, on_command_line=False),
    # Persistence: the append-only file (resp_arbiter/aof.py), with Redis' names.
    Setting("appendonly", "no", _parse_yes_no, render=_yes_no,
            help="log every change to an append-only file, loaded at start"),
    Setting("appendfsync", "everysec", choices=("everysec", "always", "no"),
            help="fsync the AOF after every write (always), once a second, or never"),
    Setting("dir", ".", os.path.abspath, protected=True, render=os.path.abspath,
            help="directory the AOF directory lives in"),
    Setting("appenddirname", "appendonlydir", _aof_name("appenddirname", "dirname"),
            mutable=False, help="name of the AOF directory inside dir"),
    Setting("appendfilename", "appendonly.aof", _aof_name("appendfilename", "filename"),
            mutable=False, help="base name of the AOF files"),
    Setting("auto-aof-rewrite-percentage", 100, _parse_int, 0, INT_MAX,
            help="rewrite the AOF when it grew this much (%%) since the last rewrite"),
    Setting("auto-aof-rewrite-min-size", 64 * 1024**2, _parse_memory, 0, LONG_MAX,
            help="no automatic rewrite below this AOF size"),
    Setting("aof-load-truncated", "yes", _parse_yes_no, render=_yes_no,
            help="load an AOF whose last command is torn, dropping that command"),
    Setting("aof-use-rdb-preamble", "no", _parse_no_preamble, render=_yes_no,
            help="only no: base files are RESP commands"),
    Setting("aof-rewrite-incremental-fsync", "yes", _parse_yes_no, render=_yes_no,
            help="fsync a base file every 4 MB while it is written"),
    Setting("no-appendfsync-on-rewrite", "no", _parse_yes_no, render=_yes_no,
            help="skip the AOF fsync while a rewrite runs"),
)}
# Settings whose values are secrets: hidden from the process title and from error messages.
SENSITIVE = frozenset({"requirepass"})


@dataclass
class Config:
    """Current values by setting name; `parent_pid` is the arbiter's own option."""

    values: dict[str, object] = field(
        default_factory=lambda: {s.name: s.default for s in SETTINGS.values()})
    parent_pid: int = 0
    config_file: str = ""  # absolute path of the file read at startup ("" for none)

    def __getitem__(self, name: str) -> object:
        return self.values[name]

    def set(self, name: str, text: str) -> None:
        self.values[name] = SETTINGS[name].convert(text, self.values[name])

    def render(self, name: str) -> bytes:
        return SETTINGS[name].render(self.values[name]).encode("utf-8", "surrogateescape")
