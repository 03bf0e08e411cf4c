"""Argument parsing shared by the command families, with Redis' exact acceptance rules."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import errors
from ..glob import compile_pattern
from ..protocol import _strict_int

if TYPE_CHECKING:
    from ..client import Client

# Unambiguous (each digit can be read one way only), so matching is linear on any input.
_FLOAT = re.compile(rb"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z"
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


def compile_glob(pattern: bytes, nocase: bool = False) -> Callable[[bytes], bool]:
    """A matcher for Redis' glob syntax (see `resp_arbiter.glob`), built once per command
    and called per name. A lone `*` matches every name, the empty one too, as KEYS, SCAN
    and HSCAN skip matching for it."""
    if pattern == b"*":
        return _match_all
    return compile_pattern(pattern, nocase)


def _match_all(name: bytes) -> bool:
    return True


_CURSOR = re.compile(rb"([+-]?)([0-9]*)\Z")
UINT64 = 2**64


def parse_cursor(c: Client, arg: bytes) -> int | None:
    """A SCAN cursor as Redis reads it with strtoul: the argument as a C string (up to a
    NUL byte), no leading space, an optional sign, decimal digits and nothing after; ''
    is 0, a negative cursor wraps, a magnitude past 64 bits is refused. Replies on error.

    Leading zeros are dropped before `int`, so a cursor of any length costs linear time
    (and never meets Python's limit on long decimal strings)."""
    match = _CURSOR.match(arg.partition(b"\0")[0])
    if match is not None:
        sign, digits = match.groups()
        significant = digits.lstrip(b"0")
        if (digits or not sign) and len(significant) <= 20:
            value = int(significant or b"0")
            if value < UINT64:
                return (-value if sign == b"-" else value) % UINT64
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
