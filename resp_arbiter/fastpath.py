"""The compiled fast path (`_fastpath.c`), when it was built.

It runs the HGET, HSET, GET and SET requests at the start of a read in C, with exactly
the effects of the Python path, and leaves everything else to it (see the C file's head).
The package works without it: an install without a C compiler, or a process started
with RESP_ARBITER_PURE_PYTHON set, runs every request in Python."""

from __future__ import annotations

import os
from collections.abc import Callable

PURE_PYTHON_ENV = "RESP_ARBITER_PURE_PYTHON"


def load() -> Callable[..., int] | None:
    """`_fastpath.serve`, configured for this package's keyspace; None without it."""
    if os.environ.get(PURE_PYTHON_ENV):
        return None
    try:
        from . import _fastpath
    except ImportError:
        return None
    from .client import Client
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
    from .registry import lookup
    from .stats import CommandStats, ErrorStats

    commands = tuple(lookup(name) for name in (b"hget", b"hset", b"get", b"set"))
    _fastpath.configure(Client, Database, Table, CommandStats, ErrorStats, Packed, commands,
                        now_ms, FIELD_OVERHEAD, LISTPACK_MAX_VALUE, LISTPACK_MAX_ENTRIES,
                        PACKED_MAX_FIELDS)
    return _fastpath.serve
