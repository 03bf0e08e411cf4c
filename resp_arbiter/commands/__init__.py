"""The command families; importing this package registers every command."""

from . import connection, expire, hashes, keys, server, stash, transactions

__all__ = ["connection", "expire", "hashes", "keys", "server", "stash", "transactions"]
