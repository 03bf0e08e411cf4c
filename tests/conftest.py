"""Shared fixtures: real arbiter and redis-server processes, one per test session.

Tests that use the session-wide servers flush them first (`arbiter`, `redis_server`), so
each test starts from an empty keyspace without paying for a process start.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from servers import ServerProcess, start_arbiter, start_redis


@pytest.fixture(scope="session")
def server_dir() -> Iterator[Path]:
    # Unix socket paths are limited to ~100 bytes: keep the directory short.
    with tempfile.TemporaryDirectory(prefix="ra-") as directory:
        yield Path(directory)


@pytest.fixture(scope="session")
def arbiter_process(server_dir: Path) -> Iterator[ServerProcess]:
    with start_arbiter(server_dir) as server:
        yield server


@pytest.fixture(scope="session")
def redis_process(server_dir: Path) -> Iterator[ServerProcess]:
    with start_redis(server_dir) as server:
        yield server


def _flushed(server: ServerProcess) -> ServerProcess:
    with redis.Redis(unix_socket_path=server.socket_path, protocol=2) as client:
        client.flushall()
    return server


@pytest.fixture
def arbiter(arbiter_process: ServerProcess) -> ServerProcess:
    """The session's arbiter, emptied for this test."""
    return _flushed(arbiter_process)


@pytest.fixture
def redis_server(redis_process: ServerProcess) -> ServerProcess:
    """The session's reference redis-server, emptied for this test."""
    return _flushed(redis_process)
