"""Keyspace commands: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RENAME, RENAMENX, RANDOMKEY."""

from __future__ import annotations

from .. import errors
from ..client import Client
from ..registry import KeySpec, command
from ._args import compile_glob, parse_cursor, parse_scan_options

KEYSPACE = "keyspace"
ALL_KEYS = (KeySpec(("RM", "delete"), 1, lastkey=-1),)
MULTI_SHARD = "request_policy:multi_shard response_policy:agg_sum"


def _delete(c: Client, argv: list[bytes]) -> None:
    delete = c.server.keyspace.delete
    c.reply.integer(sum(1 for key in argv[1:] if delete(key)))


command("del", -2, "write", syntax="key+", categories=KEYSPACE, keys=(1, -1, 1), key_specs=ALL_KEYS,
        tips=MULTI_SHARD, group="generic", since="1.0.0",
        complexity="O(N) where N is the number of keys that will be removed.",
        summary="Deletes one or more keys.")(_delete)
command("unlink", -2, "write fast", syntax="key+", categories=KEYSPACE, keys=(1, -1, 1),
        key_specs=ALL_KEYS, tips=MULTI_SHARD, group="generic", since="4.0.0",
        complexity="O(1) for each key removed regardless of its size.",
        summary="Asynchronously deletes one or more keys.")(_delete)


@command("exists", -2, "readonly fast",
         syntax="key+", categories=KEYSPACE, keys=(1, -1, 1),
         key_specs=(KeySpec(("RO",), 1, lastkey=-1),), tips=MULTI_SHARD, group="generic",
         since="1.0.0", complexity="O(N) where N is the number of keys to check.",
         summary="Determines whether one or more keys exist.")
def exists(c: Client, argv: list[bytes]) -> None:
    exists = c.server.keyspace.exists
    c.reply.integer(sum(1 for key in argv[1:] if exists(key)))


@command("type", 2, "readonly fast",
         syntax="key", categories=KEYSPACE, keys=(1, 1, 1),
         key_specs=(KeySpec(("RO",), 1),), group="generic", since="1.0.0",
         summary="Determines the type of value stored at a key.")
def type_(c: Client, argv: list[bytes]) -> None:
    c.reply.status(b"hash" if c.server.keyspace.exists(argv[1]) else b"none")


@command("keys", 2, "readonly",
         syntax="pattern:pattern", categories=KEYSPACE + " dangerous",
         tips="request_policy:all_shards nondeterministic_output_order", group="generic",
         since="1.0.0", complexity="O(N) with N being the number of keys in the database, "
         "under the assumption that the key names in the database and the given pattern "
         "have limited length.",
         summary="Returns all key names that match a pattern.")
def keys(c: Client, argv: list[bytes]) -> None:
    match = compile_glob(argv[1])
    c.reply.bulks([key for key in c.server.keyspace if match(key)])


@command("scan", -2, "readonly",
         syntax="cursor:integer [MATCH:pattern:pattern] [COUNT:count:integer] "
         "[TYPE:type]", categories=KEYSPACE,
         tips="nondeterministic_output request_policy:special", group="generic",
         since="2.8.0", complexity="O(1) for every call. O(N) for a complete iteration, "
         "including enough command calls for the cursor to return back to 0. N is the "
         "number of elements inside the collection.",
         summary="Iterates over the key names in the database.")
def scan(c: Client, argv: list[bytes]) -> None:
    cursor = parse_cursor(c, argv[1])
    if cursor is None:
        return
    options = parse_scan_options(c, argv, 2, allow_type=True, allow_novalues=False)
    if options is None:
        return
    pattern, count, type_name, _ = options
    next_cursor, names = c.server.keyspace.scan_keys(cursor, count)
    if pattern is not None:
        match = compile_glob(pattern)
        names = [name for name in names if match(name)]
    if type_name is not None and type_name.lower() != b"hash":
        names = []
    c.reply.array_len(2)
    c.reply.bulk(b"%d" % next_cursor)
    c.reply.bulks(names)


@command("rename", 3, "write",
         syntax="key newkey", categories=KEYSPACE, keys=(1, 2, 1),
         key_specs=(KeySpec(("RW", "access", "delete"), 1), KeySpec(("OW", "update"), 2)),
         group="generic", since="1.0.0", summary="Renames a key and overwrites the "
         "destination.")
def rename(c: Client, argv: list[bytes]) -> None:
    keyspace = c.server.keyspace
    if not keyspace.exists(argv[1]):
        c.reply.error(errors.NO_SUCH_KEY)
        return
    if argv[1] != argv[2]:
        keyspace.rename(argv[1], argv[2])
    c.reply.ok()


@command("renamenx", 3, "write fast",
         syntax="key newkey", categories=KEYSPACE, keys=(1, 2, 1),
         key_specs=(KeySpec(("RW", "access", "delete"), 1), KeySpec(("OW", "insert"), 2)),
         group="generic", since="1.0.0",
         summary="Renames a key only when the target key name doesn't exist.")
def renamenx(c: Client, argv: list[bytes]) -> None:
    keyspace = c.server.keyspace
    if not keyspace.exists(argv[1]):
        c.reply.error(errors.NO_SUCH_KEY)
        return
    if argv[1] == argv[2] or keyspace.exists(argv[2]):
        c.reply.integer(0)
        return
    keyspace.rename(argv[1], argv[2])
    c.reply.integer(1)


@command("randomkey", 1, "readonly", categories=KEYSPACE,
         tips="request_policy:all_shards nondeterministic_output", group="generic",
         since="1.0.0", summary="Returns a random key name from the database.")
def randomkey(c: Client, argv: list[bytes]) -> None:
    c.reply.bulk_or_null(c.server.keyspace.random_key())
