"""STASH.* commands: the stash operations Redis has no command for.

A stash table made with `stash.ensure()` exists while empty; a Redis hash does not. These
commands pin a table so that it survives losing its last field (until DEL/UNLINK)."""

from __future__ import annotations

from ..client import Client
from ..registry import Family, KeySpec

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
