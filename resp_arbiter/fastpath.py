"""The compiled fast path (`_fastpath.c`), when it was built.

It runs the HGET, HSET, GET and SET requests at the start of a read in C, with exactly
the effects of the Python path, and leaves everything else to it (see the C file's head).
The package works without it: an install without a C compiler, or a process started
with RESP_ARBITER_PURE_PYTHON set, runs every request in Python."""

from __future__ import annotations

import os
from types import ModuleType

PURE_PYTHON_ENV = "RESP_ARBITER_PURE_PYTHON"
# What `read` returns when it did nothing (the Python path takes the whole read), and
# when it did everything (served the whole read and sent the replies).
NOTHING_DONE = -2
READ_DONE = -1


def load() -> ModuleType | None:
    """The `_fastpath` module, configured for this package's classes; None without it."""
    if os.environ.get(PURE_PYTHON_ENV):
        return None
    try:
        from . import _fastpath
    except ImportError:
        return None
    from .client import GIVE_AWAY_AT, Client
    from .databases import Database
    from .keyspace import (
        LISTPACK_MAX_ENTRIES,
        LISTPACK_MAX_VALUE,
        PACKED_MAX_FIELDS,
        Packed,
        Table,
        now_ms,
    )
    from .memory import FIELD_OVERHEAD
    from .protocol import RequestParser
    from .registry import lookup
    from .server import Stats
    from .stats import CommandStats, ErrorStats

    commands = tuple(lookup(name) for name in (b"hget", b"hset", b"get", b"set"))
    _fastpath.configure(Client, Database, Table, CommandStats, ErrorStats, RequestParser,
                        Stats, Packed, commands, now_ms, GIVE_AWAY_AT, FIELD_OVERHEAD,
                        LISTPACK_MAX_VALUE, LISTPACK_MAX_ENTRIES, PACKED_MAX_FIELDS)
    return _fastpath
