"""Command replies, byte for byte against redis-server 7.0, over RESP2 and RESP3.

Each case runs on a fresh connection to each server with both keyspaces empty; see
`differential.harness` for what is compared and `differential.compare` for the few
replies compared by shape."""

from __future__ import annotations

import pytest
from differential import (
    cases_databases,
    cases_hashes,
    cases_keys,
    cases_memory,
    cases_numbers,
    cases_server,
    cases_strings,
)
from differential.harness import Case, case, check, cmd, params
from servers import PairFactory, ServerProcess

pytest_plugins = ["differential.plugin"]
pytestmark = pytest.mark.differential

CASES = [*cases_hashes.CASES, *cases_keys.CASES, *cases_numbers.CASES, *cases_server.CASES,
         *cases_memory.CASES, *cases_databases.CASES, *cases_strings.CASES]


@pytest.mark.parametrize(("case", "protocol"), params(CASES))
def test_reply_matches_redis(case: Case, protocol: int, arbiter: ServerProcess,
                             redis_server: ServerProcess) -> None:
    check(case, protocol, redis_server.socket_path, arbiter.socket_path)


FOUR_DATABASES = [
    case("databases 4", cmd("CONFIG", "GET", "databases"), cmd("SELECT", "3"),
         cmd("SELECT", "4"), cmd("HSET", "h", "f", "v"), cmd("MOVE", "h", "4"),
         cmd("MOVE", "h", "0"), cmd("SWAPDB", "0", "4"), cmd("SWAPDB", "3", "0"),
         cmd("COPY", "h", "h", "DB", "4"), cmd("COPY", "h", "h", "DB", "3"),
         cmd("INFO", "keyspace", compare=cases_databases.info_keyspace_lines),
         cmd("CONFIG", "SET", "databases", "8")),
]


@pytest.mark.parametrize(("case", "protocol"), params(FOUR_DATABASES))
def test_databases_option_matches_redis(case: Case, protocol: int,
                                        server_pair: PairFactory) -> None:
    """`--databases 4` on both servers' command lines: four databases, 0 to 3."""
    pair = server_pair("--databases", "4")
    check(case, protocol, pair.redis.socket_path, pair.arbiter.socket_path)
