"""The command families; importing this package registers every command."""

from . import (
    config,
    connection,
    databases,
    diagnostics,
    expire,
    hash_ttl,
    hashes,
    introspection,
    keys,
    persistence,
    server,
    stash,
    strings,
    tracking,
    transactions,
)

__all__ = ["config", "connection", "databases", "diagnostics", "expire", "hash_ttl", "hashes",
           "introspection", "keys", "persistence", "server", "stash", "strings",
           "tracking", "transactions"]
