"""Fixtures for the integration tests: real redis-server/arbiter processes and gunicorns.

Sockets live in a short temporary directory (Unix socket paths are limited to about
100 bytes); every process is ended by pid and every socket removed afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gunicorn_procs import Gunicorn, Server
from servers import Pair, start_pair


@pytest.fixture
def short_dir() -> Iterator[Path]:
    directory = tempfile.mkdtemp(prefix="ge-")
    yield Path(directory)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def module_dir() -> Iterator[Path]:
    directory = tempfile.mkdtemp(prefix="gem-")
    yield Path(directory)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def module_pair(module_dir: Path) -> Iterator[Pair]:
    """The module's arbiter and redis-server, for tests that run against either."""
    with start_pair(module_dir) as pair:
        yield pair


@pytest.fixture(scope="module")
def redis_server(module_pair: Pair) -> Server:
    return module_pair.redis


@pytest.fixture(scope="module")
def arbiter_server(module_pair: Pair) -> Server:
    return module_pair.arbiter


@pytest.fixture
def gunicorn(short_dir: Path) -> Iterator[Callable[..., Gunicorn]]:
    """Start gunicorn masters in the test's directory; all are stopped afterwards."""
    started: list[Gunicorn] = []

    def start(config: str, **kwargs: object) -> Gunicorn:
        master = Gunicorn(short_dir, config, **kwargs)  # type: ignore[arg-type]
        started.append(master)
        return master

    yield start
    for master in started:
        master.stop()
