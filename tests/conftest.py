"""Shared fixtures: real arbiter and redis-server processes, compared side by side.

The compare-with-redis pair is defined here once. Tests that use the session-wide pair
get its servers flushed first (`arbiter`, `redis_server`), so each test starts from an
empty keyspace without paying for a process start; tests that need servers started with
other options ask the factories `server_pair(*options)` (stopped after the test) or
`module_server_pair(*options)` (stopped after the module) for a pair of their own.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
from servers import Pair, PairFactory, ServerProcess, start_pair

_PAIR_NUMBERS = itertools.count(1)


@pytest.fixture(scope="session")
def server_dir() -> Iterator[Path]:
    # Unix socket paths are limited to ~100 bytes: keep the directory short.
    with tempfile.TemporaryDirectory(prefix="ra-") as directory:
        yield Path(directory)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A temporary directory of this test's own, with a path short enough for sockets."""
    with tempfile.TemporaryDirectory(prefix="ra-") as directory:
        yield Path(directory)


@pytest.fixture(scope="session")
def session_pair(server_dir: Path) -> Iterator[Pair]:
    """The arbiter and redis-server every comparing test shares, with default options."""
    with start_pair(server_dir) as pair:
        yield pair


def _flushed(server: ServerProcess) -> ServerProcess:
    with redis.Redis(unix_socket_path=server.socket_path, protocol=2) as client:
        client.flushall()
    return server


@pytest.fixture
def arbiter(session_pair: Pair) -> ServerProcess:
    """The session's arbiter, emptied for this test."""
    return _flushed(session_pair.arbiter)


@pytest.fixture
def redis_server(session_pair: Pair) -> ServerProcess:
    """The session's reference redis-server, emptied for this test."""
    return _flushed(session_pair.redis)



@pytest.fixture(params=["arbiter", "redis_server"])
def any_server(request: pytest.FixtureRequest) -> ServerProcess:
    """The arbiter, then redis-server (each emptied): a test that passes on both shows
    Redis' behaviour."""
    return request.getfixturevalue(request.param)


def _pair_factory(directory: Path) -> Iterator[PairFactory]:
    """Start pairs with the given options on demand; stop them all at the end."""
    with ExitStack() as stack:
        def start(*options: str, preexec_fn: Callable[[], None] | None = None) -> Pair:
            return stack.enter_context(start_pair(directory, *options,
                                                  name=f"-{next(_PAIR_NUMBERS)}",
                                                  preexec_fn=preexec_fn))
        yield start


@pytest.fixture
def server_pair(server_dir: Path) -> Iterator[PairFactory]:
    """`server_pair(*options)`: an arbiter and a redis-server started with the same
    options, stopped after the test."""
    yield from _pair_factory(server_dir)


@pytest.fixture(scope="module")
def module_server_pair(server_dir: Path) -> Iterator[PairFactory]:
    """Like `server_pair`, for module-scoped fixtures: stopped after the module."""
    yield from _pair_factory(server_dir)
