"""Hash field expiry (Redis 7.4/8.0): HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT, HTTL,
HPTTL, HEXPIRETIME, HPEXPIRETIME, HPERSIST, and 8.0's HGETDEL, HGETEX, HSETEX.

Each field gets its own integer code in the reply, as Redis documents them: -2 no such
field (or key), -1 no TTL, 0 a NX/XX/GT/LT condition not met, 1 done, 2 deleted because
the time given has already passed.
"""

from __future__ import annotations

from .. import errors
from ..client import Client
from ..keyspace import Table
from ..limits import INT_MAX
from ..registry import Family, single_key
from ._args import CONDITIONS, condition_allows, deadline_arg, parse_int, text
from .expire import time_syntax

HASH = "hash"
FAMILY = Family(HASH, categories=HASH)
command = FAMILY.command
# Redis' HFE_MAX_ABS_TIME_MSEC (EB_EXPIRE_TIME_MAX >> 2): the latest field deadline, in ms.
MAX_DEADLINE_MS = ((1 << 48) - 1) >> 2

NO_FIELD, NO_TTL, NOT_MET, DONE, DELETED = -2, -1, 0, 1, 2


def fields_arg(argv: list[bytes], at: int,
               count_error: str = errors.HFE_NUMFIELDS_POSITIVE) -> list[bytes]:
    """`FIELDS numfields field ...` starting at argv[at], ending the command.

    HEXPIRE and HTTL word the numfields error differently in Redis (`count_error`)."""
    if at >= len(argv) or argv[at].lower() != b"fields":
        raise errors.CommandError(errors.HFE_FIELDS_MISSING)
    count = parse_int(argv[at + 1]) if at + 1 < len(argv) else None
    if count is None or count < 1:
        raise errors.CommandError(count_error)
    if count != len(argv) - at - 2:
        raise errors.CommandError(errors.HFE_NUMFIELDS_MISMATCH)
    return argv[at + 2:]


def field_deadline_arg(c: Client, command: str, arg: bytes, unit_ms: int,
                       absolute: bool) -> int:
    """The absolute deadline (Unix ms) of a field expire argument: never negative, never
    past Redis' latest field deadline."""
    return deadline_arg(arg, command, unit_ms, None if absolute else c.db.now(),
                        latest=MAX_DEADLINE_MS, negative_error=errors.HFE_NEGATIVE_TIME)


def _codes(c: Client, codes: list[int]) -> None:
    r = c.reply
    r.array_len(len(codes))
    for code in codes:
        r.integer(code)


def _hexpire_generic(c: Client, argv: list[bytes], name: str, unit_ms: int,
                     absolute: bool) -> None:
    deadline = field_deadline_arg(c, name, argv[2], unit_ms, absolute)
    flags = CONDITIONS.get(argv[3].lower(), 0)
    fields = fields_arg(argv, 4 if flags else 3)
    keyspace = c.db
    key = argv[1]
    table = keyspace.get_table(key)
    if table is None:
        _codes(c, [NO_FIELD] * len(fields))
        return
    codes = []
    for field in fields:
        if not keyspace.holds(key) or not table.has(field):
            codes.append(NO_FIELD)
        elif not condition_allows(flags, table.deadline(field) or 0, deadline):
            codes.append(NOT_MET)
        else:
            past = deadline <= keyspace.now()
            keyspace.set_field_expiry(key, table, field, deadline)
            codes.append(DELETED if past else DONE)
    _codes(c, codes)


def _declare_hexpire(name: str, unit_ms: int, absolute: bool, summary: str) -> None:
    def handler(c: Client, argv: list[bytes]) -> None:
        _hexpire_generic(c, argv, name, unit_ms, absolute)

    handler.__name__ = name
    time = time_syntax(unit_ms, absolute)
    command(name, -6, "write fast",
            key_specs=single_key("RW", "update"), since="7.4.0",
            complexity="O(N) where N is the number of specified fields", summary=summary,
            syntax=f"key {time} [NX|XX|GT|LT] (FIELDS:numfields:integer field+)")(handler)


_declare_hexpire("hexpire", 1000, False, "Set expiry for hash field using relative time "
                 "to expire (seconds)")
_declare_hexpire("hpexpire", 1, False, "Set expiry for hash field using relative time to "
                 "expire (milliseconds)")
_declare_hexpire("hexpireat", 1000, True, "Set expiry for hash field using an absolute "
                 "Unix timestamp (seconds)")
_declare_hexpire("hpexpireat", 1, True, "Set expiry for hash field using an absolute Unix "
                 "timestamp (milliseconds)")


def _fields_of_live_table(c: Client, argv: list[bytes]
                          ) -> tuple[list[bytes], Table] | None:
    """HTTL/HPERSIST's `key FIELDS n field...`: the fields and the table, or None after
    replying -2 for every field of a missing key."""
    fields = fields_arg(argv, 2, errors.HFE_NUMFIELDS_INTEGER)
    table = c.db.get_hash(argv[1])
    if table is None:
        _codes(c, [NO_FIELD] * len(fields))
        return None
    return fields, table


def _field_ttls(c: Client, argv: list[bytes], in_ms: bool, absolute: bool) -> None:
    found = _fields_of_live_table(c, argv)
    if found is None:
        return
    fields, table = found
    now = c.db.now()
    codes = []
    for field in fields:
        if not table.has(field):
            codes.append(NO_FIELD)
            continue
        deadline = table.deadline(field)
        if deadline is None:
            codes.append(NO_TTL)
            continue
        value = deadline if absolute else deadline - now
        codes.append(value if in_ms else (value + 999) // 1000)  # seconds round up
    _codes(c, codes)


def _declare_httl(name: str, in_ms: bool, absolute: bool, summary: str) -> None:
    def handler(c: Client, argv: list[bytes]) -> None:
        _field_ttls(c, argv, in_ms, absolute)

    handler.__name__ = name
    command(name, -5, "readonly fast",
            key_specs=single_key("RO", "access"), since="7.4.0",
            complexity="O(N) where N is the number of specified fields", summary=summary,
            syntax="key (FIELDS:numfields:integer field+)")(handler)


_declare_httl("httl", False, False, "Returns the TTL in seconds of a hash field.")
_declare_httl("hpttl", True, False, "Returns the TTL in milliseconds of a hash field.")
_declare_httl("hexpiretime", False, True, "Returns the expiration time of a hash field as "
              "a Unix timestamp, in seconds.")
_declare_httl("hpexpiretime", True, True, "Returns the expiration time of a hash field as "
              "a Unix timestamp, in msec.")


@command("hpersist", -5, "write fast",
         syntax="key (FIELDS:numfields:integer field+)",
         key_specs=single_key("RW", "update"), since="7.4.0",
         complexity="O(N) where N is the number of specified fields",
         summary="Removes the expiration time for each specified field")
def hpersist(c: Client, argv: list[bytes]) -> None:
    found = _fields_of_live_table(c, argv)
    if found is None:
        return
    fields, table = found
    keyspace = c.db
    codes = []
    for field in fields:
        if not table.has(field):
            codes.append(NO_FIELD)
        else:
            codes.append(DONE if keyspace.persist_field(argv[1], table, field) else NO_TTL)
    _codes(c, codes)


def _values(c: Client, table: Table | None, fields: list[bytes]) -> None:
    c.reply.bulks(table.values_of(fields) if table is not None else [None] * len(fields))


@command("hgetdel", -5, "write fast",
         syntax="key (FIELDS:numfields:integer field+)",
         key_specs=single_key("RW", "access", "delete"), since="8.0.0",
         complexity="O(N) where N is the number of specified fields",
         summary="Returns the value of a field and deletes it from the hash.")
def hgetdel(c: Client, argv: list[bytes]) -> None:
    fields = fields_arg(argv, 2, errors.HFE_NUMFIELDS_INTEGER)
    keyspace = c.db
    key = argv[1]
    table = keyspace.get_hash(key)
    values: list[bytes | None] = []
    for field in fields:  # one at a time: a repeated field is gone the second time
        value = table.value(field) if table is not None else None
        if value is not None:
            keyspace.delete_fields(key, table, [field])
            table = keyspace.stored(key)  # a small hash is stored anew by each write
        values.append(value)
    c.reply.bulks(values)


_EXPIRY_SYNTAX = ("EX:seconds:integer|PX:milliseconds:integer|EXAT:unix-time-seconds:unix-time"
                  "|PXAT:unix-time-milliseconds:unix-time")
_EXPIRE_OPTIONS = {b"ex": (1000, False), b"px": (1, False), b"exat": (1000, True),
                   b"pxat": (1, True)}


@command("hgetex", -5, "write fast",
         syntax=f"key [{_EXPIRY_SYNTAX}|PERSIST] (FIELDS:numfields:integer field+)",
         key_specs=single_key("RW", "access", "update"), since="8.0.0",
         complexity="O(N) where N is the number of specified fields",
         summary="Get the value of one or more fields of a given hash key, and optionally "
                 "set their expiration.")
def hgetex(c: Client, argv: list[bytes]) -> None:
    at = 2
    deadline: int | None = None
    persist = False
    option = argv[2].lower()
    if option in _EXPIRE_OPTIONS:
        unit_ms, absolute = _EXPIRE_OPTIONS[option]
        deadline = field_deadline_arg(c, "hgetex", argv[3], unit_ms, absolute)
        at = 4
    elif option == b"persist":
        persist = True
        at = 3
    fields = fields_arg(argv, at, errors.HFE_NUMFIELDS_INTEGER)
    keyspace = c.db
    key = argv[1]
    table = keyspace.get_hash(key) if deadline is None else keyspace.get_table(key)
    _values(c, table, fields)
    if table is None:
        return
    for field in fields:
        if not keyspace.holds(key) or not table.has(field):
            continue
        if persist:
            keyspace.persist_field(key, table, field)
        elif deadline is not None:
            keyspace.set_field_expiry(key, table, field, deadline)


@command("hsetex", -6, "write denyoom fast",
         syntax=f"key [FNX|FXX] [{_EXPIRY_SYNTAX}|KEEPTTL] "
                "(FIELDS:numfields:integer (field value)+)",
         key_specs=single_key("RW", "update"), since="8.0.0",
         complexity="O(N) where N is the number of fields being set.",
         summary="Set the value of one or more fields of a given hash key, and optionally "
                 "set their expiration.")
def hsetex(c: Client, argv: list[bytes]) -> None:
    condition, deadline, keep_ttl, pairs = _hsetex_options(c, argv)
    keyspace = c.db
    key = argv[1]
    table = keyspace.get_hash(key)
    names = pairs[0::2]
    if condition == b"fxx" and (table is None or not all(map(table.has, names))):
        c.reply.integer(0)
        return
    if condition == b"fnx" and table is not None and any(map(table.has, names)):
        c.reply.integer(0)
        return
    keyspace.set_fields(key, pairs, keep_ttl=keep_ttl)
    if deadline is not None:
        table = keyspace.get_table(key)
        for name in dict.fromkeys(names):
            if table.has(name):
                keyspace.set_field_expiry(key, table, name, deadline)
    c.reply.integer(1)


def _hsetex_options(c: Client, argv: list[bytes]
                    ) -> tuple[bytes | None, int | None, bool, list[bytes]]:
    """HSETEX's options in any order up to FIELDS, with Redis' errors, left to right.

    Returns (FNX/FXX or None, deadline or None, KEEPTTL, field/value pairs)."""
    condition: bytes | None = None
    deadline: int | None = None
    keep_ttl = expiry_seen = False
    i = 2
    while i < len(argv):
        option = argv[i].lower()
        if option == b"fields":
            if i >= len(argv) - 3:
                break
            count = parse_int(argv[i + 1])
            if count is None or not 1 <= count <= INT_MAX:
                raise errors.CommandError(errors.HSETEX_BAD_NUMFIELDS)
            pairs = argv[i + 2:]
            if len(pairs) != 2 * count:
                break
            return condition, deadline, keep_ttl, pairs
        if option in _EXPIRE_OPTIONS or option == b"keepttl":
            if expiry_seen:
                raise errors.CommandError(errors.HSETEX_ONE_EXPIRY)
            expiry_seen = True
            if option == b"keepttl":
                keep_ttl = True
            else:
                if i + 1 >= len(argv):
                    raise errors.CommandError(errors.HSETEX_MISSING_TIME)
                unit_ms, absolute = _EXPIRE_OPTIONS[option]
                deadline = field_deadline_arg(c, "hsetex", argv[i + 1], unit_ms, absolute)
                i += 1
        elif option in (b"fnx", b"fxx"):
            if condition is not None:
                raise errors.CommandError(errors.HSETEX_ONE_CONDITION)
            condition = option
        else:
            raise errors.CommandError(errors.HSETEX_UNKNOWN_ARGUMENT.format(text(argv[i])))
        i += 1
    raise errors.CommandError(errors.WRONG_ARITY.format("hsetex"))
