"""Persistence commands and AOF settings, byte for byte against redis-server 7.0 over
RESP2 and RESP3; and the one deliberate difference, pinned."""

from __future__ import annotations

import pytest
from differential import cases_persistence
from differential.harness import Case, check, params
from differential.session import session
from servers import ServerProcess

pytest_plugins = ["differential.plugin"]
pytestmark = pytest.mark.differential


@pytest.mark.parametrize(("case", "protocol"), params(cases_persistence.CASES))
def test_reply_matches_redis(case: Case, protocol: int, arbiter: ServerProcess,
                             redis_server: ServerProcess) -> None:
    check(case, protocol, redis_server.socket_path, arbiter.socket_path)


def test_base_files_are_resp_not_rdb(arbiter: ServerProcess,
                                     redis_server: ServerProcess) -> None:
    # Difference: the arbiter writes no RDB, so aof-use-rdb-preamble is "no" and stays
    # so (Redis 7.0 defaults to "yes").
    with session(arbiter.socket_path, 2) as a:
        assert a.call("CONFIG", "GET", "aof-use-rdb-preamble").raw == (
            b"*2\r\n$20\r\naof-use-rdb-preamble\r\n$2\r\nno\r\n")
        assert a.call("CONFIG", "SET", "aof-use-rdb-preamble", "yes").raw == (
            b"-ERR CONFIG SET failed (possibly related to argument 'aof-use-rdb-preamble') "
            b"- the arbiter writes no RDB: AOF base files are RESP commands\r\n")
        assert a.call("CONFIG", "SET", "aof-use-rdb-preamble", "no").raw == b"+OK\r\n"
    with session(redis_server.socket_path, 2) as r:
        assert r.call("CONFIG", "GET", "aof-use-rdb-preamble").raw == (
            b"*2\r\n$20\r\naof-use-rdb-preamble\r\n$3\r\nyes\r\n")
