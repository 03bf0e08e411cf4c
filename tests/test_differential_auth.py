"""Authentication, byte for byte against redis-server 7.0: both servers started with
the same --requirepass, over RESP2 and (after the unauthenticated `HELLO 3`) RESP3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from differential import cases_auth
from differential.harness import Case, check, params
from servers import ServerProcess, start_arbiter, start_redis

pytest_plugins = ["differential.plugin"]
pytestmark = pytest.mark.differential


@pytest.fixture(scope="module")
def auth_pair(server_dir: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """redis-server and the arbiter, both requiring the same password."""
    options = ("--requirepass", cases_auth.PASSWORD)
    with start_redis(server_dir, *options, name="redis-auth") as redis_server, \
            start_arbiter(server_dir, *options, name="arbiter-auth") as arbiter:
        yield redis_server, arbiter


@pytest.mark.parametrize(("case", "protocol"), params(cases_auth.CASES))
def test_auth_matches_redis(case: Case, protocol: int,
                            auth_pair: tuple[ServerProcess, ServerProcess]) -> None:
    redis_server, arbiter = auth_pair
    check(case, protocol, redis_server.socket_path, arbiter.socket_path)
