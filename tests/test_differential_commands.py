"""Command replies, byte for byte against redis-server 7.0, over RESP2 and RESP3.

Each case runs on a fresh connection to each server with both keyspaces empty; see
`differential.harness` for what is compared and `differential.compare` for the few
replies compared by shape."""

from __future__ import annotations

import pytest
from differential import (
    cases_hashes,
    cases_keys,
    cases_memory,
    cases_numbers,
    cases_server,
    cases_strings,
)
from differential.harness import Case, check, params
from servers import ServerProcess

pytest_plugins = ["differential.plugin"]
pytestmark = pytest.mark.differential

CASES = [*cases_hashes.CASES, *cases_keys.CASES, *cases_numbers.CASES, *cases_server.CASES,
         *cases_memory.CASES, *cases_strings.CASES]


@pytest.mark.parametrize(("case", "protocol"), params(CASES))
def test_reply_matches_redis(case: Case, protocol: int, arbiter: ServerProcess,
                             redis_server: ServerProcess) -> None:
    check(case, protocol, redis_server.socket_path, arbiter.socket_path)
