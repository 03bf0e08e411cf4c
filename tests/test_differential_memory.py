"""The OOM refusal seen from two connections, against redis-server 7.0: memory runs out
(another client lowers maxmemory) while a transaction that queued a write is open, so
its EXEC is aborted with the OOM reason; a transaction of reads still runs."""

from __future__ import annotations

import pytest
from differential.harness import counted
from differential.session import session
from servers import ServerProcess

pytest_plugins = ["differential.plugin"]
pytestmark = pytest.mark.differential


def _transcript(path: str, protocol: int) -> list[bytes]:
    with session(path, protocol) as mine, session(path) as other:
        replies = [mine.call(*argv).raw for argv in (
            ("HSET", "k", "f", "v"), ("MULTI",), ("HSET", "k", "f", "w"), ("HGET", "k", "f"))]
        replies.append(other.call("CONFIG", "SET", "maxmemory", "1").raw)
        replies += [mine.call(*argv).raw for argv in (
            ("EXEC",), ("EXEC",), ("HGET", "k", "f"), ("MULTI",), ("HGET", "k", "f"))]
        replies.append(other.call("CONFIG", "SET", "maxmemory", "0").raw)
        replies += [mine.call(*argv).raw for argv in (("EXEC",), ("HSET", "k", "f", "w"))]
    return replies


@pytest.mark.parametrize("protocol", [2, 3])
def test_exec_is_aborted_when_memory_ran_out_after_queueing(protocol: int,
                                                            arbiter: ServerProcess,
                                                            redis_server: ServerProcess):
    expected = _transcript(redis_server.socket_path, protocol)
    assert expected[5] == (b"-EXECABORT Transaction discarded because of: OOM command not "
                           b"allowed when used memory > 'maxmemory'.\r\n")
    with counted():
        assert _transcript(arbiter.socket_path, protocol) == expected
