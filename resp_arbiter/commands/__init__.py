"""The command families; importing this package registers every command."""

from . import connection, hashes, keys, server, stash

__all__ = ["connection", "hashes", "keys", "server", "stash"]
