"""Request parsing, byte for byte against redis-server 7.0, over RESP2 and RESP3:
inline commands, malformed and oversized requests (error, then close), pipelines."""

from __future__ import annotations

import pytest
from differential import cases_protocol
from differential.harness import Case, check, params
from servers import ServerProcess

pytest_plugins = ["differential.plugin"]
pytestmark = pytest.mark.differential


@pytest.mark.parametrize(("case", "protocol"), params(cases_protocol.CASES))
def test_protocol_matches_redis(case: Case, protocol: int, arbiter: ServerProcess,
                                redis_server: ServerProcess) -> None:
    check(case, protocol, redis_server.socket_path, arbiter.socket_path)
