"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, with Redis' queueing rules.

Queueing itself happens in `Server.call` (a client in MULTI gets QUEUED for every command
but these five, QUIT and RESET); a command refused at queue time (unknown, wrong arity,
NOAUTH) flags the transaction so that EXEC answers EXECABORT. WATCH relies on
`Keyspace.touch`, which every write and every expiry passes through.
"""

from __future__ import annotations

from .. import errors
from ..client import Client
from ..registry import Family, KeySpec

TX = "transaction"
FAMILY = Family(TX, categories=TX)
command = FAMILY.command
TX_FLAGS = "noscript loading stale fast allow_busy"


@command("multi", 1, TX_FLAGS, since="1.2.0",
         summary="Starts a transaction.")
def multi(c: Client, argv: list[bytes]) -> None:
    if c.multi is not None:
        raise errors.CommandError(errors.MULTI_NESTED)
    c.multi = []
    c.reply.ok()


@command("exec", 1, "noscript loading stale skip_slowlog",
         since="1.2.0", complexity="Depends on commands in the transaction",
         summary="Executes all commands in a transaction.")
def exec_(c: Client, argv: list[bytes]) -> None:
    queued = c.multi
    if queued is None:
        raise errors.CommandError(errors.EXEC_WITHOUT_MULTI)
    c.multi = None
    if c.multi_error:
        c.multi_error = False
        c.unwatch_all()
        raise errors.CommandError(errors.EXECABORT)
    databases = c.server.databases
    for db, key in c.watched:
        # A watched key that expired since WATCH touches itself here.
        databases.other(c.db, db.id).get(key)
    aborted = c.dirty_cas
    c.unwatch_all()
    if aborted:
        c.reply.null_array()
        return
    c.reply.array_len(len(queued))
    execute = c.server.execute
    databases.freeze(c.db.now())  # the whole transaction sees one time, as in Redis
    try:
        for spec, request in queued:
            execute(spec, c, request)
    finally:
        databases.thaw()
    if c.tracking is not None:  # CLIENT TRACKING ON may be one of the queued commands
        c.server.tracking.settle(c)


@command("discard", 1, TX_FLAGS, since="2.0.0",
         complexity="O(N), when N is the number of queued commands",
         summary="Discards a transaction.")
def discard(c: Client, argv: list[bytes]) -> None:
    if c.multi is None:
        raise errors.CommandError(errors.DISCARD_WITHOUT_MULTI)
    c.multi = None
    c.multi_error = False
    c.unwatch_all()
    c.reply.ok()


@command("watch", -2, TX_FLAGS, syntax="key+",
         key_specs=(KeySpec(("RO",), 1, lastkey=-1),), since="2.2.0",
         complexity="O(1) for every key.",
         summary="Monitors changes to keys to determine the execution of a transaction.")
def watch(c: Client, argv: list[bytes]) -> None:
    if c.multi is not None:
        raise errors.CommandError(errors.WATCH_IN_MULTI)
    keyspace = c.db
    for key in argv[1:]:
        if (keyspace, key) not in c.watched:
            keyspace.get(key)  # settle a key already due, so that only later changes count
            c.watched.add((keyspace, key))
            keyspace.watch(key, c)
    c.reply.ok()


@command("unwatch", 1, TX_FLAGS, since="2.2.0",
         summary="Forgets about watched keys of a transaction.")
def unwatch(c: Client, argv: list[bytes]) -> None:
    c.unwatch_all()
    c.reply.ok()
