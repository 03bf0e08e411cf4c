"""Operations replies (SLOWLOG, CLIENT KILL/PAUSE, LATENCY, INFO counters and sections)
compared with redis-server 7.0 over RESP2 and RESP3; see `differential.cases_ops`."""

from __future__ import annotations

import pytest
from differential import cases_ops
from differential.harness import Case, check, params
from differential.session import session
from servers import ServerProcess

pytest_plugins = ["differential.plugin"]
pytestmark = pytest.mark.differential


@pytest.mark.parametrize(("case", "protocol"), params(cases_ops.CASES))
def test_reply_matches_redis(case: Case, protocol: int, arbiter: ServerProcess,
                             redis_server: ServerProcess) -> None:
    check(case, protocol, redis_server.socket_path, arbiter.socket_path)


# -- deliberate differences, each pinned on both sides ------------------------------------

PROTOCOLS = [pytest.param(2, id="resp2"), pytest.param(3, id="resp3")]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_client_kill_maxage_is_the_claimed_release_option(
        protocol: int, arbiter: ServerProcess, redis_server: ServerProcess) -> None:
    # Difference: CLIENT KILL MAXAGE exists from Redis 7.4 (the arbiter claims 8.0);
    # 7.0 refuses it as a syntax error.
    with session(arbiter.socket_path, protocol) as a:
        assert a.call("CLIENT", "KILL", "MAXAGE", "99999999").raw == b":0\r\n"
        assert a.call("CLIENT", "KILL", "MAXAGE", "-1").raw == (
            b"-ERR maxage should be greater than 0\r\n")
    with session(redis_server.socket_path, protocol) as r:
        assert r.call("CLIENT", "KILL", "MAXAGE", "99999999").raw == b"-ERR syntax error\r\n"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_latency_has_no_event_reports(protocol: int, arbiter: ServerProcess,
                                      redis_server: ServerProcess) -> None:
    # Difference: the arbiter records no latency events, so LATENCY has only the
    # subcommands that report them as Redis does with none (LATEST, HISTORY, RESET);
    # DOCTOR, GRAPH and HISTOGRAM are unknown subcommands. INFO latencystats has the
    # per-command percentiles that LATENCY HISTOGRAM would give.
    with session(arbiter.socket_path, protocol) as a:
        assert a.call("LATENCY", "DOCTOR").raw == (
            b"-ERR unknown subcommand 'DOCTOR'. Try LATENCY HELP.\r\n")
        assert a.call("LATENCY", "HISTOGRAM").kind == "-"
    with session(redis_server.socket_path, protocol) as r:
        assert r.call("LATENCY", "DOCTOR").kind in "$="
        assert r.call("LATENCY", "HISTOGRAM").kind in "*%"
