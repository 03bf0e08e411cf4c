"""Keyspace commands: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RENAME, RENAMENX, RANDOMKEY,
OBJECT."""

from __future__ import annotations

from .. import errors
from ..client import Client
from ..keyspace import SHARED_INTEGERS, Value, encoding_of, string_integer, type_name
from ..registry import Family, KeySpec
from ._args import compile_glob, cursor_arg, scan_options
from .connection import help_reply

KEYSPACE = "keyspace"
FAMILY = Family("generic", categories=KEYSPACE)
command = FAMILY.command
container = FAMILY.container
ALL_KEYS = (KeySpec(("RM", "delete"), 1, lastkey=-1),)
MULTI_SHARD = "request_policy:multi_shard response_policy:agg_sum"


def _delete(c: Client, argv: list[bytes]) -> None:
    delete = c.db.delete
    c.reply.integer(sum(1 for key in argv[1:] if delete(key)))


command("del", -2, "write", syntax="key+", key_specs=ALL_KEYS,
        tips=MULTI_SHARD, since="1.0.0",
        complexity="O(N) where N is the number of keys that will be removed.",
        summary="Deletes one or more keys.")(_delete)
command("unlink", -2, "write fast", syntax="key+",
        key_specs=ALL_KEYS, tips=MULTI_SHARD, since="4.0.0",
        complexity="O(1) for each key removed regardless of its size.",
        summary="Asynchronously deletes one or more keys.")(_delete)


@command("exists", -2, "readonly fast",
         syntax="key+",
         key_specs=(KeySpec(("RO",), 1, lastkey=-1),), tips=MULTI_SHARD,
         since="1.0.0", complexity="O(N) where N is the number of keys to check.",
         summary="Determines whether one or more keys exist.")
def exists(c: Client, argv: list[bytes]) -> None:
    exists = c.db.exists
    c.reply.integer(sum(1 for key in argv[1:] if exists(key)))


@command("type", 2, "readonly fast",
         syntax="key",
         key_specs=(KeySpec(("RO",), 1),), since="1.0.0",
         summary="Determines the type of value stored at a key.")
def type_(c: Client, argv: list[bytes]) -> None:
    value = c.db.peek(argv[1])
    c.reply.status(b"none" if value is None else type_name(value))


@command("keys", 2, "readonly",
         syntax="pattern:pattern", categories="dangerous",
         tips="request_policy:all_shards nondeterministic_output_order",
         since="1.0.0", complexity="O(N) with N being the number of keys in the database, "
         "under the assumption that the key names in the database and the given pattern "
         "have limited length.",
         summary="Returns all key names that match a pattern.")
def keys(c: Client, argv: list[bytes]) -> None:
    match = compile_glob(argv[1])
    c.reply.bulks([key for key in c.db if match(key)])


@command("scan", -2, "readonly",
         syntax="cursor:integer [MATCH:pattern:pattern] [COUNT:count:integer] "
         "[TYPE:type]",
         tips="nondeterministic_output request_policy:special",
         since="2.8.0", complexity="O(1) for every call. O(N) for a complete iteration, "
         "including enough command calls for the cursor to return back to 0. N is the "
         "number of elements inside the collection.",
         summary="Iterates over the key names in the database.")
def scan(c: Client, argv: list[bytes]) -> None:
    cursor = cursor_arg(argv[1])
    pattern, count, wanted, _ = scan_options(argv, 2, allow_type=True, allow_novalues=False)
    next_cursor, names = c.db.scan_keys(cursor, count)
    if pattern is not None:
        match = compile_glob(pattern)
        names = [name for name in names if match(name)]
    if wanted is not None:
        wanted = wanted.lower()
        stored = c.db.stored
        names = [name for name in names if type_name(stored(name)) == wanted]
    c.reply.array_len(2)
    c.reply.bulk(b"%d" % next_cursor)
    c.reply.bulks(names)


@command("rename", 3, "write",
         syntax="key newkey",
         key_specs=(KeySpec(("RW", "access", "delete"), 1), KeySpec(("OW", "update"), 2)),
         since="1.0.0", summary="Renames a key and overwrites the "
         "destination.")
def rename(c: Client, argv: list[bytes]) -> None:
    keyspace = c.db
    if not keyspace.exists(argv[1]):
        raise errors.CommandError(errors.NO_SUCH_KEY)
    if argv[1] != argv[2]:
        keyspace.rename(argv[1], argv[2])
    c.reply.ok()


@command("renamenx", 3, "write fast",
         syntax="key newkey",
         key_specs=(KeySpec(("RW", "access", "delete"), 1), KeySpec(("OW", "insert"), 2)),
         since="1.0.0",
         summary="Renames a key only when the target key name doesn't exist.")
def renamenx(c: Client, argv: list[bytes]) -> None:
    keyspace = c.db
    if not keyspace.exists(argv[1]):
        raise errors.CommandError(errors.NO_SUCH_KEY)
    if argv[1] == argv[2] or keyspace.exists(argv[2]):
        c.reply.integer(0)
        return
    keyspace.rename(argv[1], argv[2])
    c.reply.integer(1)


@command("randomkey", 1, "readonly",
         tips="request_policy:all_shards nondeterministic_output",
         since="1.0.0", summary="Returns a random key name from the database.")
def randomkey(c: Client, argv: list[bytes]) -> None:
    c.reply.bulk_or_null(c.db.random_key())


# -- OBJECT ---------------------------------------------------------------------------

container("object", since="2.2.3",
          summary="A container for object introspection commands.")
OBJECT_KEY = (KeySpec(("RO",), 2),)


def _object_table(c: Client, key: bytes) -> Value | None:
    """The table OBJECT describes, looked up without counting as an access (so that
    `redis-cli --hotkeys` does not heat every key it reads); a null reply if missing."""
    table = c.db.peek(key)
    if table is None:
        c.reply.null()
    return table


@command("encoding", 3, "readonly", syntax="key",
         key_specs=OBJECT_KEY, tips="nondeterministic_output",
         since="2.2.3", parent="object",
         summary="Returns the internal encoding of a Redis object.")
def object_encoding(c: Client, argv: list[bytes]) -> None:
    table = _object_table(c, argv[2])
    if table is not None:
        c.reply.bulk(encoding_of(table))


@command("freq", 3, "readonly", syntax="key",
         key_specs=OBJECT_KEY, tips="nondeterministic_output",
         since="4.0.0", parent="object",
         summary="Returns the logarithmic access frequency counter of a Redis object.")
def object_freq(c: Client, argv: list[bytes]) -> None:
    table = _object_table(c, argv[2])
    if table is None:
        return
    keyspace = c.db
    if not keyspace.lfu:
        raise errors.CommandError(errors.OBJECT_FREQ_NOT_LFU)
    c.reply.integer(keyspace.lfu_counter(keyspace.access_of(argv[2])))


@command("idletime", 3, "readonly", syntax="key",
         key_specs=OBJECT_KEY, tips="nondeterministic_output",
         since="2.2.3", parent="object",
         summary="Returns the time since the last access to a Redis object.")
def object_idletime(c: Client, argv: list[bytes]) -> None:
    table = _object_table(c, argv[2])
    if table is None:
        return
    keyspace = c.db
    if keyspace.lfu:
        raise errors.CommandError(errors.OBJECT_IDLETIME_LFU)
    c.reply.integer(max(0, keyspace.lru_clock - keyspace.access_of(argv[2])) // 1000)


@command("refcount", 3, "readonly", syntax="key",
         key_specs=OBJECT_KEY, tips="nondeterministic_output",
         since="2.2.3", parent="object",
         summary="Returns the reference count of a value of a key.")
def object_refcount(c: Client, argv: list[bytes]) -> None:
    value = _object_table(c, argv[2])
    if value is not None:
        c.reply.integer(OBJ_SHARED_REFCOUNT if _shared(c, value) else 1)


# Redis' OBJ_SHARED_REFCOUNT (INT_MAX): the reference count of a shared object.
OBJ_SHARED_REFCOUNT = 2**31 - 1


def _shared(c: Client, value: Value) -> bool:
    """Whether Redis would hold the value as one of its shared integers (0 to 9999,
    int encoded), which it does unless an LRU/LFU policy is in force under maxmemory."""
    if value.__class__ is not bytes:
        return False
    number = string_integer(value)
    if number is None or not 0 <= number < SHARED_INTEGERS:
        return False
    memory = c.server.memory
    return not memory.maxmemory or not memory.policy.endswith(("lru", "lfu"))


@command("help", 2, "loading stale", since="6.2.0",
         parent="object", summary="Returns helpful text about the different subcommands.")
def object_help(c: Client, argv: list[bytes]) -> None:
    help_reply(c, (
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ))
