"""Operations replies (SLOWLOG, CLIENT KILL/PAUSE, LATENCY, INFO counters and sections)
compared with redis-server 7.0 over RESP2 and RESP3; see `differential.cases_ops`."""

from __future__ import annotations

import pytest
from differential import cases_ops
from differential.harness import Case, check, params
from servers import ServerProcess

pytest_plugins = ["differential.plugin"]
pytestmark = pytest.mark.differential


@pytest.mark.parametrize(("case", "protocol"), params(cases_ops.CASES))
def test_reply_matches_redis(case: Case, protocol: int, arbiter: ServerProcess,
                             redis_server: ServerProcess) -> None:
    check(case, protocol, redis_server.socket_path, arbiter.socket_path)
