"""Authentication, byte for byte against redis-server 7.0: both servers started with
the same --requirepass, over RESP2 and (after the unauthenticated `HELLO 3`) RESP3."""

from __future__ import annotations

import pytest
from differential import cases_auth
from differential.harness import Case, check, params
from servers import Pair, PairFactory

pytest_plugins = ["differential.plugin"]
pytestmark = pytest.mark.differential


@pytest.fixture(scope="module")
def auth_pair(module_server_pair: PairFactory) -> Pair:
    """redis-server and the arbiter, both requiring the same password."""
    return module_server_pair("--requirepass", cases_auth.PASSWORD)


@pytest.mark.parametrize(("case", "protocol"), params(cases_auth.CASES))
def test_auth_matches_redis(case: Case, protocol: int,
                            auth_pair: Pair) -> None:
    arbiter, redis_server = auth_pair
    check(case, protocol, redis_server.socket_path, arbiter.socket_path)
