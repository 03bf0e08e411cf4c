"""Commands across numbered databases: MOVE, COPY (generic) and SWAPDB (server).

SELECT is a connection command and FLUSHDB/FLUSHALL server commands; the databases
themselves are `resp_arbiter.databases`. Each command that changes a database other
than the client's also counts a change in the client's own (Redis' `server.dirty++`), so
that the write hook in `Server.execute` sees it.
"""

from __future__ import annotations

from .. import errors
from ..client import Client
from ..databases import Database
from ..limits import INT_MAX, INT_MIN
from ..registry import Family, KeySpec
from ._args import int_arg

GENERIC = Family("generic", categories="keyspace")
SERVER = Family("server", categories="keyspace dangerous")


def db_index(arg: bytes, error: str | None = None) -> int:
    """A database index as Redis' getIntFromObjectOrReply reads it: `error` (or Redis'
    own texts) for a non-integer or one outside a C int."""
    index = int_arg(arg, error or errors.NOT_INTEGER)
    if not INT_MIN <= index <= INT_MAX:
        raise errors.CommandError(error or errors.SELECT_OUT_OF_RANGE)
    return index


def _target(c: Client, arg: bytes) -> Database:
    db = c.server.databases.other(c.db, db_index(arg))
    if db is None:
        raise errors.CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    return db


@GENERIC.command("move", 3, "write fast", syntax="key db:integer",
                 key_specs=(KeySpec(("RW", "access", "update"), 1),), since="1.0.0",
                 summary="Move a key to another database")
def move(c: Client, argv: list[bytes]) -> None:
    target = _target(c, argv[2])
    source = c.db
    if target is source:
        raise errors.CommandError(errors.SAME_OBJECT)
    key = argv[1]
    if source.get(key) is None or target.get(key) is not None:
        c.reply.integer(0)
        return
    c.server.databases.move(source, target, key)
    c.reply.integer(1)


@GENERIC.command("copy", -3, "write denyoom",
                 syntax="key keydestination [DB:destination-db:integer] [REPLACE]",
                 key_specs=(KeySpec(("RO", "access"), 1), KeySpec(("OW", "update"), 2)),
                 since="6.2.0", complexity="O(N) worst case for collections, where N is "
                 "the number of nested items. O(1) for string values.",
                 summary="Copy a key")
def copy(c: Client, argv: list[bytes]) -> None:
    source = target = c.db
    replace = False
    i = 3
    while i < len(argv):
        option = argv[i].lower()
        if option == b"replace":
            replace = True
        elif option == b"db" and i + 1 < len(argv):
            target = _target(c, argv[i + 1])
            i += 1
        else:
            raise errors.CommandError(errors.SYNTAX)
        i += 1
    key, new_key = argv[1], argv[2]
    if target is source and key == new_key:
        raise errors.CommandError(errors.SAME_OBJECT)
    table = source.get(key)
    c.server.lookups[table is None] += 1  # Redis' lookupKeyRead counts COPY's source
    if table is None:
        c.reply.integer(0)
        return
    if target.get(new_key) is not None:
        if not replace:
            c.reply.integer(0)
            return
        target.delete(new_key)
    target.adopt(new_key, target.copy_value(table, source.deadline_of(key)))
    source.dirty += target is not source
    c.reply.integer(1)


@SERVER.command("swapdb", 3, "write fast", syntax="index1:integer index2:integer",
                since="4.0.0", complexity="O(N) where N is the count of clients watching "
                "or blocking on keys from both databases.",
                summary="Swaps two Redis databases")
def swapdb(c: Client, argv: list[bytes]) -> None:
    first = db_index(argv[1], errors.INVALID_FIRST_DB)
    second = db_index(argv[2], errors.INVALID_SECOND_DB)
    databases = c.server.databases
    a, b = databases.get(first), databases.get(second)
    if a is None or b is None:
        raise errors.CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    databases.swap(a, b)
    c.db.dirty += 1
    c.reply.ok()
