"""Argument parsing shared by the command families, with Redis' exact acceptance rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from .. import errors
from ..glob import compile_pattern
from ..limits import LONG_MAX, ULONG_LIMIT
from ..protocol import _strict_int


def parse_int(arg: bytes) -> int | None:
    """A signed 64-bit integer as redis-server's string2ll reads it, else None."""
    if len(arg) > 20:
        return None
    return _strict_int(arg)


def int_arg(arg: bytes, error: str = errors.NOT_INTEGER) -> int:
    """An integer argument; anything else is refused with `error`."""
    value = parse_int(arg)
    if value is None:
        raise errors.CommandError(error)
    return value


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


def cursor_arg(arg: bytes) -> int:
    """A SCAN cursor as Redis reads it with strtoul: the argument as a C string (up to a
    NUL byte), no leading space, an optional sign, decimal digits and nothing after; ''
    is 0, a negative cursor wraps, a magnitude past 64 bits is refused.

    Leading zeros are dropped before `int`, so a cursor of any length costs linear time
    (and never meets Python's limit on long decimal strings)."""
    match = _CURSOR.match(arg.partition(b"\0")[0])
    if match is not None:
        sign, digits = match.groups()
        significant = digits.lstrip(b"0")
        if (digits or not sign) and len(significant) <= 20:
            value = int(significant or b"0")
            if value < ULONG_LIMIT:
                return (-value if sign == b"-" else value) % ULONG_LIMIT
    raise errors.CommandError(errors.INVALID_CURSOR)


class ScanOptions(NamedTuple):
    pattern: bytes | None  # None: match everything
    count: int
    type_name: bytes | None
    novalues: bool


def scan_options(argv: list[bytes], start: int, *, allow_type: bool,
                 allow_novalues: bool) -> ScanOptions:
    """MATCH/COUNT/TYPE/NOVALUES as Redis' scanGenericCommand parses them."""
    pattern: bytes | None = None
    type_name: bytes | None = None
    count = 10
    novalues = False
    i = start
    while i < len(argv):
        option = argv[i].lower()
        more = len(argv) - i
        if option == b"count" and more >= 2:
            count = int_arg(argv[i + 1])
            if count < 1:
                raise errors.CommandError(errors.SYNTAX)
        elif option == b"match" and more >= 2:
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
        elif option == b"type" and allow_type and more >= 2:
            type_name = argv[i + 1]
        elif option == b"novalues" and allow_novalues:
            novalues = True
            i -= 1
        else:
            raise errors.CommandError(errors.SYNTAX)
        i += 2
    return ScanOptions(pattern, count, type_name, novalues)


# -- expiry ------------------------------------------------------------------------------

NX, XX, GT, LT = 1, 2, 4, 8
CONDITIONS = {b"nx": NX, b"xx": XX, b"gt": GT, b"lt": LT}


def conditions(options: list[bytes]) -> int:
    """NX/XX/GT/LT as a bit set, with Redis' errors for an unknown or conflicting one."""
    flags = 0
    for option in options:
        flag = CONDITIONS.get(option.lower())
        if flag is None:
            raise errors.CommandError(errors.EXPIRE_UNSUPPORTED_OPTION.format(text(option)))
        flags |= flag
    if flags & NX and flags & (XX | GT | LT):
        raise errors.CommandError(errors.EXPIRE_NX_CONFLICT)
    if flags & GT and flags & LT:
        raise errors.CommandError(errors.EXPIRE_GT_LT_CONFLICT)
    return flags


def condition_allows(flags: int, current: int, deadline: int) -> bool:
    """Whether NX/XX/GT/LT let `deadline` replace `current` (0 = no TTL, i.e. infinite)."""
    if flags & NX and current:
        return False
    if flags & XX and not current:
        return False
    if flags & GT and (not current or deadline <= current):
        return False
    return not (flags & LT and current and deadline >= current)


def deadline_arg(arg: bytes, command: str, unit_ms: int, now: int | None, *,
                 latest: int = LONG_MAX, negative_error: str | None = None) -> int:
    """The absolute deadline (Unix ms) an expire argument names: `unit_ms` per unit,
    added to `now` when relative (None: absolute). Past `latest` (in ms, after the
    addition) it is refused as Redis' invalid expire time; a negative value is refused
    with `negative_error` when one is given (field expiry), else allowed (a past time)."""
    when = int_arg(arg)
    if when < 0 and negative_error is not None:
        raise errors.CommandError(negative_error)
    invalid = errors.CommandError(errors.EXPIRE_INVALID_TIME.format(command))
    if unit_ms != 1:
        if when > latest // unit_ms or when < -(latest // unit_ms):
            raise invalid
        when *= unit_ms
    base = 0 if now is None else now
    if when > latest - base:
        raise invalid
    return when + base
