"""Persistence commands: BGREWRITEAOF, SAVE, BGSAVE, LASTSAVE.

The arbiter persists by append-only file only; it writes no RDB. Its snapshot of the data
is an AOF base file, so SAVE and BGSAVE write one: SAVE in the foreground (clients wait,
as with Redis' SAVE), BGSAVE in a forked child exactly as BGREWRITEAOF does. Either way
the new base is switched in through the manifest, so with `appendonly yes` a snapshot is
also a compaction. With `appendonly no` they (and BGREWRITEAOF) leave a base file and a
manifest in the AOF directory, which a later start with `appendonly yes` loads. LASTSAVE
is the time the last base file was switched in (the start time before that).
"""

from __future__ import annotations

from .. import errors
from ..client import Client
from ..registry import Family

SERVER = "server"
FAMILY = Family(SERVER)
command = FAMILY.command
FLAGS = "admin noscript no_async_loading"


def _in_exec(c: Client) -> bool:
    """Forking inside EXEC would split the transaction between base and increment."""
    return c.db.frozen


@command("bgrewriteaof", 1, FLAGS, since="1.0.0",
         summary="Asynchronously rewrites the append-only file to disk.")
def bgrewriteaof(c: Client, argv: list[bytes]) -> None:
    aof = c.server.aof
    if aof.rewriting:
        raise errors.CommandError(errors.AOF_REWRITE_IN_PROGRESS)
    if _in_exec(c):
        aof.rewrite_scheduled = True
        c.reply.status(b"Background append only file rewriting scheduled")
        return
    if aof.start_rewrite() is not None:
        raise errors.CommandError(errors.AOF_REWRITE_FAILED)
    c.reply.status(b"Background append only file rewriting started")


@command("bgsave", -1, FLAGS, syntax="[SCHEDULE]", since="1.0.0",
         summary="Asynchronously saves the database(s) to disk.")
def bgsave(c: Client, argv: list[bytes]) -> None:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() != b"schedule"):
        raise errors.CommandError(errors.SYNTAX)
    aof = c.server.aof
    if aof.rewriting and aof.child_for_save:
        raise errors.CommandError(errors.BGSAVE_IN_PROGRESS)
    if aof.rewriting or _in_exec(c):
        if len(argv) == 2 or _in_exec(c):
            aof.rewrite_scheduled = True
            c.reply.status(b"Background saving scheduled")
            return
        raise errors.CommandError(errors.BGSAVE_CHILD_ACTIVE)
    if aof.start_rewrite(for_save=True) is not None:
        raise errors.CommandError(errors.SAVE_FAILED)
    c.reply.status(b"Background saving started")


@command("save", 1, FLAGS + " no_multi", since="1.0.0",
         complexity="O(N) where N is the total number of keys in all databases",
         summary="Synchronously saves the database(s) to disk.")
def save(c: Client, argv: list[bytes]) -> None:
    aof = c.server.aof
    if aof.rewriting:
        raise errors.CommandError(errors.BGSAVE_IN_PROGRESS)
    if aof.save() is not None:
        raise errors.CommandError(errors.SAVE_FAILED)
    c.reply.ok()


@command("lastsave", 1, "loading stale fast", categories="admin dangerous",
         since="1.0.0", tips="nondeterministic_output",
         summary="Returns the Unix timestamp of the last successful save to disk.")
def lastsave(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(c.server.aof.lastsave)
