"""Real server processes for tests: the arbiter and a reference redis-server.

The processes are started by the one helper the benchmark uses too (`bench.servers`):
both listen on a Unix socket in a temporary directory, are ready when they answer PING,
and are stopped (by PID) and their sockets removed when the test is done. Here a missing
binary fails the test: a skipped comparison would hide a regression.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from bench import servers as _servers
from bench.servers import (
    Pair,
    ServerProcess,
    SetupError,
    accepts_connections,
    alive,
    children,
    encode_request,
    poll_until,
    process_memory,
    start_arbiter,
    start_pair,
    start_redis,
    stop_pid,
)

__all__ = ["REDIS_PY_DEFAULT_PROTOCOL", "Pair", "PairFactory", "ServerProcess", "SetupError",
           "accepts_connections", "alive", "children", "encode_request", "poll_until",
           "process_memory", "require_binary", "start_arbiter", "start_pair", "start_redis",
           "stop_pid"]

# redis-py speaks RESP3 by default from 8.0 on, RESP2 before.
REDIS_PY_DEFAULT_PROTOCOL = 3 if int(redis.__version__.split(".")[0]) >= 8 else 2

# The `server_pair` fixtures: `factory(*options, preexec_fn=None)` starts a pair.
PairFactory = Callable[..., Pair]


def require_binary(name: str) -> str:
    """The path of `name`; fails (never skips) the test when it is not installed."""
    try:
        return _servers.require_binary(name)
    except SetupError as missing:
        pytest.fail(str(missing))
