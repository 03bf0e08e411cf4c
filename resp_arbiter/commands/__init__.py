"""The command families; importing this package registers every command."""

from . import (
    connection,
    diagnostics,
    expire,
    hash_ttl,
    hashes,
    keys,
    persistence,
    server,
    stash,
    transactions,
)

__all__ = ["connection", "diagnostics", "expire", "hash_ttl", "hashes", "keys", "persistence",
           "server", "stash", "transactions"]
