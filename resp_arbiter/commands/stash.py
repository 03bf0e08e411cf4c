"""STASH.* commands: the stash operations Redis has no command for.

A stash table made with `stash.ensure()` exists while empty; a Redis hash does not. These
commands pin a table so that it survives losing its last field (until DEL/UNLINK)."""

from __future__ import annotations

from .. import errors
from ..client import Client
from ..limits import INT_MAX
from ..registry import Family, KeySpec
from ._args import int_arg

STASH = "stash"
FAMILY = Family(STASH, categories="hash")
command = FAMILY.command


@command("stash.ensure", 2, "write denyoom fast",
         syntax="key",
         key_specs=(KeySpec(("RW", "insert"), 1),), since="0.1.0",
         summary="Creates an empty stash table if missing; it persists while empty. "
                 "Returns 1 if created, 0 if it existed.")
def stash_ensure(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(1 if c.db.ensure(argv[1]) else 0)


@command("stash.clear", 2, "write fast",
         syntax="key",
         key_specs=(KeySpec(("RW", "delete"), 1),), since="0.1.0",
         complexity="O(N) where N is the number of fields removed",
         summary="Removes every field of a stash table but keeps the (now empty) table. "
                 "Returns the number of fields removed; a missing table is not created.")
def stash_clear(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(c.db.clear(argv[1]))


def _owner_pid(arg: bytes) -> int:
    pid = int_arg(arg)
    if not 0 < pid <= INT_MAX:  # (a pid_t)
        raise errors.CommandError(errors.NO_SUCH_PROCESS)
    return pid


@command("stash.adopt", 2, "admin noscript loading stale fast",
         syntax="pid", since="0.1.0",
         summary="Makes a process an owner of the arbiter: it runs while any owner lives "
                 "(a gunicorn master adopting it at a USR2 upgrade). Returns the number "
                 "of owners.")
def stash_adopt(c: Client, argv: list[bytes]) -> None:
    try:
        c.reply.integer(c.server.owners.adopt(_owner_pid(argv[1])))
    except ProcessLookupError:
        raise errors.CommandError(errors.NO_SUCH_PROCESS) from None


@command("stash.release", 2, "admin noscript loading stale fast",
         syntax="pid", since="0.1.0",
         summary="Removes an owner that leaves on purpose (the arbiter keeps running). "
                 "Returns the number of owners left.")
def stash_release(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(c.server.owners.release(_owner_pid(argv[1])))


@command("stash.owners", 1, "admin noscript loading stale fast",
         since="0.1.0", complexity="O(N) where N is the number of owners",
         summary="Lists the pids of the processes that own the arbiter.")
def stash_owners(c: Client, argv: list[bytes]) -> None:
    pids = c.server.owners.pids()
    c.reply.array_len(len(pids))
    for pid in pids:
        c.reply.integer(pid)
