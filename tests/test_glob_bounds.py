"""Hostile glob patterns cost bounded time in every command that takes one.

A real arbiter holds a 40-byte key and a 10,000-byte one (also as fields of a hash);
each hostile pattern (runs of thousands of stars, long classes, 1 MB patterns) goes to
KEYS, SCAN MATCH, HSCAN MATCH, CONFIG GET and COMMAND LIST FILTERBY PATTERN while a
second client sends PING. Both must be answered within a few seconds: the limit only
proves "does not hang" (measured times are around a tenth of a second at most, see
`python -m bench.glob_patterns`); a backtracking matcher never answers some of these.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from differential.harness import RawConnection, encode
from servers import ServerProcess, start_arbiter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.glob_patterns import HOSTILE, KEYS

LIMIT = 5.0

COMMANDS: dict[str, Callable[[bytes], tuple]] = {
    "KEYS": lambda pattern: ("KEYS", pattern),
    "SCAN": lambda pattern: ("SCAN", "0", "MATCH", pattern, "COUNT", "100"),
    "HSCAN": lambda pattern: ("HSCAN", "h", "0", "MATCH", pattern),
    "CONFIG GET": lambda pattern: ("CONFIG", "GET", pattern),
    "COMMAND LIST": lambda pattern: ("COMMAND", "LIST", "FILTERBY", "PATTERN", pattern),
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """An arbiter of its own (a hung one must not stall the other tests)."""
    with start_arbiter(tmp_path_factory.mktemp("glob", numbered=True)) as server:
        connection = RawConnection(server.socket_path)
        requests = [("HSET", key, "f", "v") for key in KEYS]
        requests += [("HSET", "h", key, "v") for key in KEYS]
        connection.send(b"".join(encode(request) for request in requests))
        assert len(connection.read(len(requests))) == len(requests)
        connection.close()
        yield server


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("pattern", HOSTILE)
def test_hostile_pattern_is_answered_without_delaying_others(
        loaded: ServerProcess, pattern: str, command: str) -> None:
    busy, other = RawConnection(loaded.socket_path), RawConnection(loaded.socket_path)
    try:
        other.send(encode(["PING"]))
        assert other.read(1)[0].value == b"PONG"
        start = time.monotonic()
        busy.send(encode(COMMANDS[command](HOSTILE[pattern])))
        other.send(encode(["PING"]))
        [pong] = other.read(1)
        ping_wait = time.monotonic() - start
        [reply] = busy.read(1)
        elapsed = time.monotonic() - start
    finally:
        busy.close()
        other.close()
    assert pong.value == b"PONG"
    assert reply.kind == "*", reply.raw[:200]
    assert elapsed < LIMIT and ping_wait < LIMIT, (elapsed, ping_wait)
