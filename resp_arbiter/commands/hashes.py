"""Hash commands: the stash tables as Redis hashes (HSET ... HSCAN)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import errors
from ..client import Client
from ..keyspace import Table
from ..limits import LONG_MAX, LONG_MIN
from ..registry import Family, single_key
from ._args import compile_glob, cursor_arg, int_arg, parse_int, scan_options

if TYPE_CHECKING:
    from fractions import Fraction

HASH = "hash"
FAMILY = Family(HASH, categories=HASH)
command = FAMILY.command


def _table(c: Client, key: bytes) -> Table | None:
    return c.db.get_hash(key)


def _set_fields(name: str, c: Client, argv: list[bytes]) -> int:
    """The body of HSET and HMSET: the pairs set, the number of new fields returned."""
    if len(argv) % 2:
        raise errors.CommandError(errors.WRONG_ARITY.format(name))
    return c.db.set_fields(argv[1], argv[2:])


@command("hset", -4, "write denyoom fast", syntax="key (field value)+",
         key_specs=single_key("RW", "update"), since="2.0.0",
         complexity="O(1) for each field/value pair added",
         summary="Creates or modifies the value of a field in a hash.")
def hset(c: Client, argv: list[bytes]) -> None:
    if len(argv) % 2:
        raise errors.CommandError(errors.WRONG_ARITY.format("hset"))
    c.reply.integer(c.db.set_fields(argv[1], argv[2:]))


@command("hmset", -4, "write denyoom fast", syntax="key (field value)+",
         key_specs=single_key("RW", "update"), since="2.0.0",
         complexity="O(N) where N is the number of fields being set.",
         summary="Sets the values of multiple fields.")
def hmset(c: Client, argv: list[bytes]) -> None:
    _set_fields("hmset", c, argv)
    c.reply.ok()


@command("hsetnx", 4, "write denyoom fast",
         syntax="key field value",
         key_specs=single_key("RW", "insert"), since="2.0.0",
         summary="Sets the value of a field in a hash only when the field doesn't exist.")
def hsetnx(c: Client, argv: list[bytes]) -> None:
    table = _table(c, argv[1])
    if table is not None and table.has(argv[2]):
        c.reply.integer(0)
        return
    c.db.set_field(argv[1], argv[2], argv[3])
    c.reply.integer(1)


@command("hget", 3, "readonly fast",
         syntax="key field",
         key_specs=single_key("RO", "access"), since="2.0.0",
         summary="Returns the value of a field in a hash.")
def hget(c: Client, argv: list[bytes]) -> None:
    table = c.db.get_hash(argv[1])
    c.reply.bulk_or_null(None if table is None else table.value(argv[2]))


@command("hmget", -3, "readonly fast",
         syntax="key field+",
         key_specs=single_key("RO", "access"), since="2.0.0",
         complexity="O(N) where N is the number of fields being requested.",
         summary="Returns the values of all fields in a hash.")
def hmget(c: Client, argv: list[bytes]) -> None:
    table = _table(c, argv[1])
    names = argv[2:]
    c.reply.bulks(table.values_of(names) if table is not None else [None] * len(names))


@command("hgetall", 2, "readonly",
         syntax="key",
         key_specs=single_key("RO", "access"), tips="nondeterministic_output_order",
         since="2.0.0", complexity="O(N) where N is the size of the hash.",
         summary="Returns all fields and values in a hash.")
def hgetall(c: Client, argv: list[bytes]) -> None:
    table = _table(c, argv[1])
    c.reply.pairs(table.items() if table is not None else ())


@command("hkeys", 2, "readonly",
         syntax="key",
         key_specs=single_key("RO", "access"), tips="nondeterministic_output_order",
         since="2.0.0", complexity="O(N) where N is the size of the hash.",
         summary="Returns all fields in a hash.")
def hkeys(c: Client, argv: list[bytes]) -> None:
    table = _table(c, argv[1])
    c.reply.bulks(table.names() if table is not None else ())


@command("hvals", 2, "readonly",
         syntax="key",
         key_specs=single_key("RO", "access"), tips="nondeterministic_output_order",
         since="2.0.0", complexity="O(N) where N is the size of the hash.",
         summary="Returns all values in a hash.")
def hvals(c: Client, argv: list[bytes]) -> None:
    table = _table(c, argv[1])
    c.reply.bulks(table.values() if table is not None else ())


@command("hlen", 2, "readonly fast",
         syntax="key",
         key_specs=single_key("RO"), since="2.0.0",
         summary="Returns the number of fields in a hash.")
def hlen(c: Client, argv: list[bytes]) -> None:
    table = _table(c, argv[1])
    c.reply.integer(len(table) if table is not None else 0)


@command("hexists", 3, "readonly fast",
         syntax="key field",
         key_specs=single_key("RO"), since="2.0.0",
         summary="Determines whether a field exists in a hash.")
def hexists(c: Client, argv: list[bytes]) -> None:
    table = _table(c, argv[1])
    c.reply.integer(1 if table is not None and table.has(argv[2]) else 0)


@command("hstrlen", 3, "readonly fast",
         syntax="key field",
         key_specs=single_key("RO"), since="3.2.0",
         summary="Returns the length of the value of a field.")
def hstrlen(c: Client, argv: list[bytes]) -> None:
    table = _table(c, argv[1])
    value = table.value(argv[2]) if table is not None else None
    c.reply.integer(len(value) if value is not None else 0)


@command("hdel", -3, "write fast",
         syntax="key field+",
         key_specs=single_key("RW", "delete"), since="2.0.0",
         complexity="O(N) where N is the number of fields to be removed.",
         summary="Deletes one or more fields and their values from a hash. Deletes the "
                 "hash if no fields remain.")
def hdel(c: Client, argv: list[bytes]) -> None:
    table = _table(c, argv[1])
    if table is None:
        c.reply.integer(0)
        return
    c.reply.integer(c.db.delete_fields(argv[1], table, argv[2:]))


@command("hincrby", 4, "write denyoom fast",
         syntax="key field increment:integer",
         key_specs=single_key("RW", "access", "update"), since="2.0.0",
         summary="Increments the integer value of a field in a hash by a number. Uses 0 "
                 "as initial value if the field doesn't exist.")
def hincrby(c: Client, argv: list[bytes]) -> None:
    increment = int_arg(argv[3])
    table = _table(c, argv[1])
    current = table.value(argv[2]) if table is not None else None
    value = 0 if current is None else parse_int(current)
    if value is None:
        raise errors.CommandError(errors.HASH_NOT_INTEGER)
    result = value + increment
    if not LONG_MIN <= result <= LONG_MAX:
        raise errors.CommandError(errors.INCR_OVERFLOW)
    c.db.set_field(argv[1], argv[2], b"%d" % result, keep_ttl=True)
    c.reply.integer(result)


@command("hincrbyfloat", 4, "write denyoom fast",
         syntax="key field increment:double",
         key_specs=single_key("RW", "access", "update"), since="2.6.0",
         summary="Increments the floating point value of a field by a number. Uses 0 as "
                 "initial value if the field doesn't exist.")
def hincrbyfloat(c: Client, argv: list[bytes]) -> None:
    increment = _parse_long_double(argv[3])
    if increment is None:
        raise errors.CommandError(errors.NOT_FLOAT)
    if isinstance(increment, float):
        raise errors.CommandError(errors.VALUE_NAN_OR_INFINITY)
    table = _table(c, argv[1])
    current = table.value(argv[2]) if table is not None else None
    value = _parse_long_double(b"0" if current is None else current)
    if value is None:
        raise errors.CommandError(errors.HASH_NOT_FLOAT)
    if isinstance(value, float):
        raise errors.CommandError(errors.INCR_NAN)
    result = _round_long_double(value + increment)
    if result is None:
        raise errors.CommandError(errors.INCR_NAN)
    formatted = _format_long_double(result)
    c.db.set_field(argv[1], argv[2], formatted, keep_ttl=True)
    c.reply.bulk(formatted)


# Redis does HINCRBYFLOAT in x87 long double (64-bit mantissa) and prints it with
# "%.17Lf", trailing zeros trimmed. Exact rational arithmetic rounded to that mantissa
# reproduces its replies digit for digit, where Python floats would not. (fractions and
# decimal are imported by the functions that use them: they cost every start a few
# milliseconds, and only HINCRBYFLOAT and INCRBYFLOAT need them.)
_LD_MANTISSA = 64
_LD_MAX_EXPONENT = 16383
_LD_MIN_SCALE = -16445  # the smallest subnormal long double is 2**-16445


_LD_DECIMAL = re.compile(rb"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?\Z")
_LD_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?\Z")
_LD_INFINITY = re.compile(rb"([+-]?)(?:inf|infinity)\Z", re.IGNORECASE)
_C_SPACE = b" \t\n\v\f\r"
_LD_MAX_CHARS = 5 * 1024
# Bounds on log2 of a value beyond which strtold certainly overflows or underflows to 0
# (ERANGE, refused by string2ld); in between, exact rounding decides.
_LD_LOG2_HIGH = _LD_MAX_EXPONENT + 2
_LD_LOG2_LOW = -16445 - 2
_LOG2_10 = 3.321928094887362


def _parse_long_double(arg: bytes) -> Fraction | float | None:
    """A number as Redis' string2ld reads it with strtold: under MAX_LONG_DOUBLE_CHARS
    bytes, all of them used, no leading space, decimal or hexadecimal (0x1.8p3), refused
    when it overflows or underflows to zero; infinities are returned as floats, NaN is
    refused."""
    from decimal import Decimal, InvalidOperation
    from fractions import Fraction

    if len(arg) >= _LD_MAX_CHARS:
        return None
    if not arg or arg[0] in _C_SPACE:
        return None
    infinity = _LD_INFINITY.match(arg)
    if infinity:
        return float("-inf") if infinity.group(1) == b"-" else float("inf")
    decimal = _LD_DECIMAL.match(arg)
    hexadecimal = None if decimal else _LD_HEX.match(arg)
    match = decimal or hexadecimal
    if match is None:
        return None
    sign, whole, fraction, exponent = match.groups()
    fraction = fraction or b""
    if not whole and not fraction:
        return None
    if not (whole + fraction).strip(b"0"):
        return Fraction(0)
    # Absurd exponents are refused before any exact arithmetic (and int() is never
    # given a long decimal string: Python limits those conversions).
    if decimal:
        try:
            number = Decimal(arg.decode())
        except InvalidOperation:
            return None
        log2 = number.adjusted() * _LOG2_10
        exact_value = Fraction(number)
    else:
        mantissa = int(whole + fraction, 16)
        power = (exponent or b"0").lstrip(b"+-").lstrip(b"0") or b"0"
        if len(power) > 9:
            return None
        scale = int(power) * (-1 if (exponent or b"").startswith(b"-") else 1) - 4 * len(fraction)
        log2 = mantissa.bit_length() + scale
        exact_value = None
    if log2 > _LD_LOG2_HIGH + 64 or log2 < _LD_LOG2_LOW - 64:
        return None
    if exact_value is None:
        exact_value = mantissa * Fraction(2) ** scale
        if sign == b"-":
            exact_value = -exact_value
    value = _round_long_double(exact_value)
    return None if value is None or value == 0 else value


def _round_long_double(value: Fraction) -> Fraction | None:
    """`value` rounded to the nearest long double; None when it overflows to infinity."""
    from fractions import Fraction

    if value == 0:
        return value
    magnitude = abs(value)
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    if exponent > _LD_MAX_EXPONENT:
        return None
    scale = Fraction(2) ** max(exponent - _LD_MANTISSA + 1, _LD_MIN_SCALE)
    rounded = round(magnitude / scale) * scale
    if rounded >= Fraction(2) ** (_LD_MAX_EXPONENT + 1):
        return None
    return rounded if value > 0 else -rounded


def _format_long_double(value: Fraction) -> bytes:
    """"%.17Lf" with trailing zeros trimmed, as Redis' ld2string(LD_STR_HUMAN)."""
    from decimal import ROUND_HALF_EVEN, Decimal, localcontext

    with localcontext() as context:
        context.prec = 20000  # a long double's exact decimal expansion always fits
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        text = format(exact.quantize(Decimal("1e-17"), rounding=ROUND_HALF_EVEN), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return b"0" if text == "-0" else text.encode()


@command("hrandfield", -2, "readonly",
         syntax="key [(count:integer [WITHVALUES])]",
         key_specs=single_key("RO", "access"), tips="nondeterministic_output",
         since="6.2.0", complexity="O(N) where N is the number of fields returned",
         summary="Returns one or more random fields from a hash.")
def hrandfield(c: Client, argv: list[bytes]) -> None:
    table = _table(c, argv[1])
    if len(argv) == 2:
        c.reply.bulk_or_null(c.db.random_field(table) if table else None)
        return
    count = int_arg(argv[2])
    if count < -LONG_MAX:
        raise errors.CommandError(
            errors.VALUE_OUT_OF_RANGE_BETWEEN.format(-LONG_MAX, LONG_MAX))
    if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withvalues"):
        raise errors.CommandError(errors.SYNTAX)
    with_values = len(argv) == 4
    if with_values and abs(count) > LONG_MAX // 2:  # Redis: the reply length would overflow
        raise errors.CommandError(errors.VALUE_OUT_OF_RANGE)
    if not table or count == 0:
        c.reply.array_len(0)
        return
    if count < 0:
        _reply_repeated(c, table, -count, with_values)
        return
    names = table.names()
    if count < len(names):
        names = random.sample(names, count)
    _reply_fields(c, names, table if with_values else None)


# A negative count asks for that many picks, repeats allowed: a 20-byte request could ask
# for a reply of any size. Redis builds it whatever its size; the arbiter builds at most
# this much in one step (about a tenth of a second) and refuses more.
HRANDFIELD_MAX_REPEATED = 1_000_000
HRANDFIELD_MAX_BYTES = 512 * 1024 * 1024


def _reply_repeated(c: Client, table: Table, count: int, with_values: bool) -> None:
    """HRANDFIELD with a negative count: `count` independent uniform picks."""
    if count > HRANDFIELD_MAX_REPEATED:
        raise errors.CommandError(errors.HRANDFIELD_REPLY_LIMIT.format(
            HRANDFIELD_MAX_REPEATED, HRANDFIELD_MAX_BYTES))
    encode = _field_encoder(c, table if with_values else None)
    if count >= len(table):
        # Encode each field once and pick among the encodings.
        picks = random.choices([encode(name) for name in table.names()], k=count)
    else:
        random_field = c.db.random_field
        picks = [encode(random_field(table)) for _ in range(count)]
    if sum(map(len, picks)) > HRANDFIELD_MAX_BYTES:
        raise errors.CommandError(errors.HRANDFIELD_REPLY_LIMIT.format(
            HRANDFIELD_MAX_REPEATED, HRANDFIELD_MAX_BYTES))
    c.reply.array_len(count * 2 if with_values and not c.reply.resp3 else count)
    c.reply.out += b"".join(picks)


def _field_encoder(c: Client, table: Table | None) -> Callable[[bytes], bytes]:
    """Encodes one element of HRANDFIELD's reply: a name, or (given the table) a name
    and its value (flat in RESP2, a pair in RESP3)."""
    if table is None:
        return lambda name: b"$%d\r\n%s\r\n" % (len(name), name)
    head = b"*2\r\n" if c.reply.resp3 else b""
    lookup = table.value

    def encode(name: bytes) -> bytes:
        value = lookup(name)
        return b"%s$%d\r\n%s\r\n$%d\r\n%s\r\n" % (head, len(name), name, len(value), value)

    return encode


def _reply_fields(c: Client, names: list[bytes], table: Table | None) -> None:
    """HRANDFIELD's reply: names, or (given the table) name/value pairs (flat in RESP2,
    nested in RESP3)."""
    r = c.reply
    if table is None:
        r.bulks(names)
        return
    pairs = zip(names, table.values_of(names), strict=True)
    if r.resp3:
        r.array_len(len(names))
        for pair in pairs:
            r.bulks(pair)
    else:
        r.bulks([item for pair in pairs for item in pair])


@command("hscan", -3, "readonly",
         syntax="key cursor:integer [MATCH:pattern:pattern] [COUNT:count:integer] "
         "[NOVALUES]",
         key_specs=single_key("RO", "access"), tips="nondeterministic_output",
         since="2.8.0", complexity="O(1) for every call. O(N) for a complete iteration, "
         "including enough command calls for the cursor to return back to 0. N is the "
         "number of elements inside the collection.",
         summary="Iterates over fields and values of a hash.")
def hscan(c: Client, argv: list[bytes]) -> None:
    cursor = cursor_arg(argv[2])
    table = _table(c, argv[1])
    if table is None:
        c.reply.array_len(2)
        c.reply.bulk(b"0")
        c.reply.array_len(0)
        return
    pattern, count, _, novalues = scan_options(argv, 3, allow_type=False, allow_novalues=True)
    next_cursor, names = c.db.scan_fields(table, cursor, count)
    if pattern is not None:
        match = compile_glob(pattern)
        names = [name for name in names if match(name)]
    r = c.reply
    r.array_len(2)
    r.bulk(b"%d" % next_cursor)
    if novalues:
        r.bulks(names)
    else:
        pairs = zip(names, table.values_of(names), strict=True)
        r.bulks([item for pair in pairs for item in pair])
