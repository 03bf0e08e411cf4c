"""Key expiry: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME,
PERSIST, with Redis' NX/XX/GT/LT rules (expireGenericCommand, ttlGenericCommand)."""

from __future__ import annotations

from ..client import Client
from ..registry import Family, KeySpec
from ._args import condition_allows, conditions, deadline_arg

KEYSPACE = "keyspace"
FAMILY = Family("generic", categories=KEYSPACE)
command = FAMILY.command
WRITE_SPEC = (KeySpec(("RW", "update"), 1),)
READ_SPEC = (KeySpec(("RO", "access"), 1),)


def _expire_generic(c: Client, argv: list[bytes], name: str, unit_ms: int,
                    absolute: bool) -> None:
    flags = conditions(argv[3:])
    keyspace = c.db
    deadline = deadline_arg(argv[2], name, unit_ms, None if absolute else keyspace.now())
    table = keyspace.get(argv[1])
    if table is None or not condition_allows(flags, keyspace.deadline_of(argv[1]), deadline):
        c.reply.integer(0)
        return
    keyspace.set_expiry(argv[1], table, deadline)
    c.reply.integer(1)


def time_syntax(unit_ms: int, absolute: bool) -> str:
    """The time argument of an expire command, for its declared syntax."""
    if absolute:
        return "unix-time-seconds:unix-time" if unit_ms == 1000 else \
            "unix-time-milliseconds:unix-time"
    return "seconds:integer" if unit_ms == 1000 else "milliseconds:integer"


def _declare_expire(name: str, unit_ms: int, absolute: bool, since: str,
                    summary: str) -> None:
    def handler(c: Client, argv: list[bytes]) -> None:
        _expire_generic(c, argv, name, unit_ms, absolute)

    handler.__name__ = name
    command(name, -3, "write fast",
            key_specs=WRITE_SPEC, since=since, summary=summary,
            syntax=f"key {time_syntax(unit_ms, absolute)} [NX|XX|GT|LT]")(handler)


_declare_expire("expire", 1000, False, "1.0.0",
                "Sets the expiration time of a key in seconds.")
_declare_expire("pexpire", 1, False, "2.6.0",
                "Sets the expiration time of a key in milliseconds.")
_declare_expire("expireat", 1000, True, "1.2.0",
                "Sets the expiration time of a key to a Unix timestamp.")
_declare_expire("pexpireat", 1, True, "2.6.0",
                "Sets the expiration time of a key to a Unix milliseconds timestamp.")


def _ttl_generic(c: Client, key: bytes, in_ms: bool, absolute: bool) -> None:
    keyspace = c.db
    table = keyspace.get(key)
    deadline = keyspace.deadline_of(key)
    if table is None:
        c.reply.integer(-2)
    elif not deadline:
        c.reply.integer(-1)
    else:
        value = deadline if absolute else max(deadline - keyspace.now(), 0)
        c.reply.integer(value if in_ms else (value + 500) // 1000)


def _declare_ttl(name: str, in_ms: bool, absolute: bool, since: str, summary: str) -> None:
    def handler(c: Client, argv: list[bytes]) -> None:
        _ttl_generic(c, argv[1], in_ms, absolute)

    handler.__name__ = name
    command(name, 2, "readonly fast",
            key_specs=READ_SPEC, tips="" if absolute else "nondeterministic_output",
            since=since, summary=summary, syntax="key")(handler)


_declare_ttl("ttl", False, False, "1.0.0", "Returns the expiration time in seconds of a key.")
_declare_ttl("pttl", True, False, "2.6.0",
             "Returns the expiration time in milliseconds of a key.")
_declare_ttl("expiretime", False, True, "7.0.0",
             "Returns the expiration time of a key as a Unix timestamp.")
_declare_ttl("pexpiretime", True, True, "7.0.0",
             "Returns the expiration time of a key as a Unix milliseconds timestamp.")


@command("persist", 2, "write fast",
         syntax="key",
         key_specs=WRITE_SPEC, since="2.2.0",
         summary="Removes the expiration time of a key.")
def persist(c: Client, argv: list[bytes]) -> None:
    keyspace = c.db
    table = keyspace.get(argv[1])
    c.reply.integer(1 if table is not None and keyspace.persist(argv[1], table) else 0)
