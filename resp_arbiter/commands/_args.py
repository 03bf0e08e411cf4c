"""Argument parsing shared by the command families, with Redis' exact acceptance rules."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import errors
from ..protocol import _strict_int

if TYPE_CHECKING:
    from ..client import Client

_FLOAT = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z"
                    rb"|[+-]?(?:inf|infinity)\Z", re.IGNORECASE)


def parse_int(arg: bytes) -> int | None:
    """A signed 64-bit integer as redis-server's string2ll reads it, else None."""
    if len(arg) > 20:
        return None
    return _strict_int(arg)


def parse_float(arg: bytes) -> float | None:
    """A double as redis-server's strtold-based parsers accept it; NaN is refused."""
    if not _FLOAT.match(arg):
        return None
    value = float(arg)
    return None if math.isnan(value) else value


def text(arg: bytes) -> str:
    """An argument as text for an error message, bytes kept as they are."""
    return arg.decode("utf-8", "surrogateescape")


def compile_glob(pattern: bytes) -> Callable[[bytes], bool]:
    """A matcher for Redis' glob syntax (stringmatchlen): *, ?, [...] with ^ negation and
    ranges, backslash escapes. Translated to one regular expression so that KEYS, SCAN
    and HSCAN match each name at C speed."""
    if pattern == b"*":
        return _match_all
    return re.compile(_glob_to_regex(pattern), re.DOTALL).fullmatch  # type: ignore[return-value]


def _match_all(name: bytes) -> bool:
    return True


def _glob_to_regex(p: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(p)
    while i < n:
        c = p[i]
        if c == 42:
            out += b".*"
        elif c == 63:
            out += b"."
        elif c == 91:
            i += 1
            negate = i < n and p[i] == 94
            if negate:
                i += 1
            members = bytearray()
            while i < n and p[i] != 93:
                if p[i] == 92 and i + 1 < n:
                    i += 1
                    members += re.escape(p[i:i + 1])
                elif i + 2 < n and p[i + 1] == 45:  # a range may end in "]", as in Redis
                    low, high = sorted((p[i], p[i + 2]))
                    members += re.escape(bytes([low])) + b"-" + re.escape(bytes([high]))
                    i += 2
                else:
                    members += re.escape(p[i:i + 1])
                i += 1
            if not members:
                out += b"[^\\x00-\\xff]" if not negate else b"."
            else:
                out += b"[" + (b"^" if negate else b"") + bytes(members) + b"]"
        else:
            if c == 92 and i + 1 < n:
                i += 1
            out += re.escape(p[i:i + 1])
        i += 1
    return bytes(out)


_CURSOR = re.compile(rb"[+-]?[0-9]*\Z")
UINT64 = 2**64


def parse_cursor(c: Client, arg: bytes) -> int | None:
    """A SCAN cursor as strtoull reads it (so '' is 0 and -1 wraps); replies on error."""
    if _CURSOR.match(arg) and arg not in (b"+", b"-"):
        value = int(arg) if arg else 0
        if -UINT64 < value < UINT64:
            return value % UINT64
    c.reply.error(errors.INVALID_CURSOR)
    return None


def parse_scan_options(c: Client, argv: list[bytes], start: int, *, allow_type: bool,
                       allow_novalues: bool
                       ) -> tuple[bytes | None, int, bytes | None, bool] | None:
    """MATCH/COUNT/TYPE/NOVALUES as Redis' scanGenericCommand parses them.

    Returns (pattern or None for '*', count, type name, novalues), or None after
    replying with the error."""
    pattern: bytes | None = None
    type_name: bytes | None = None
    count = 10
    novalues = False
    i = start
    while i < len(argv):
        option = argv[i].lower()
        more = len(argv) - i
        if option == b"count" and more >= 2:
            value = parse_int(argv[i + 1])
            if value is None:
                c.reply.error(errors.NOT_INTEGER)
                return None
            if value < 1:
                c.reply.error(errors.SYNTAX)
                return None
            count = value
        elif option == b"match" and more >= 2:
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
        elif option == b"type" and allow_type and more >= 2:
            type_name = argv[i + 1]
        elif option == b"novalues" and allow_novalues:
            novalues = True
            i -= 1
        else:
            c.reply.error(errors.SYNTAX)
            return None
        i += 2
    return pattern, count, type_name, novalues
