"""Concurrent stash calls from one process proceed in parallel, on a bounded number of
connections: threads (blocking `stash`) and tasks (`astash`).

A gate between the client and the server (a proxy in this process, on Unix sockets)
holds every reply until it has seen requests on `width` connections at once: the calls
pass only if that many were in flight together, which calls taking turns on one
connection never are. The server counts the connections: never more than the bound.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from gunicorn_procs import Server

from gunicorn_ext import astash, stash


class Gate:
    """A proxy that holds every reply until requests came on `width` connections (or
    `patience` seconds passed: then `opened_by_width` stays False)."""

    def __init__(self, listen: str, upstream: str, width: int, patience: float = 10.0) -> None:
        self.listen, self.upstream, self.width, self.patience = listen, upstream, width, patience
        self.senders: set[int] = set()
        self.opened_by_width = False
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.open = asyncio.Event()
        self.server = self.loop.run_until_complete(
            asyncio.start_unix_server(self._serve, self.listen))
        self.loop.call_later(self.patience, self.open.set)
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)

        async def requests() -> None:
            while data := await reader.read(65536):
                self.senders.add(id(writer))
                if len(self.senders) >= self.width and not self.open.is_set():
                    self.opened_by_width = True
                    self.open.set()
                up_writer.write(data)
            up_writer.close()

        async def replies() -> None:
            while data := await up_reader.read(65536):
                await self.open.wait()
                writer.write(data)
            writer.close()

        await asyncio.gather(requests(), replies(), return_exceptions=True)

    def stop(self) -> None:
        async def close() -> None:
            """Close the listener and end every connection's task before the loop stops
            (a task left pending is destroyed with a warning)."""
            self.server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.loop.stop()
        asyncio.run_coroutine_threadsafe(close(), self.loop)
        self.thread.join(10)


@pytest.fixture(params=["redis", "arbiter"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    chosen: Server = request.getfixturevalue(f"{request.param}_server")
    yield chosen
    stash.close()
    stash.configure(url=None, max_connections=16)


def _gate(short_dir: Path, server: Server, width: int) -> Gate:
    return Gate(str(short_dir / "gate.sock"), server.socket_path, width)


def test_threads_run_their_calls_in_parallel(short_dir: Path, server: Server) -> None:
    redis.Redis(unix_socket_path=server.socket_path).hset("par", "k", "1")
    gate = _gate(short_dir, server, width=8)
    try:
        stash.configure(url=f"unix://{gate.listen}", max_connections=8)
        results: list[Any] = []
        barrier = threading.Barrier(8)

        def call() -> None:
            barrier.wait()
            results.append(stash.get("par", "k"))

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == [1] * 8
        assert gate.opened_by_width
    finally:
        stash.close()
        gate.stop()


def test_tasks_run_their_calls_in_parallel_within_the_bound(short_dir: Path,
                                                            server: Server) -> None:
    admin = redis.Redis(unix_socket_path=server.socket_path)
    admin.hset("par", "k", "1")
    gate = _gate(short_dir, server, width=16)
    stash.configure(url=f"unix://{gate.listen}", max_connections=16)

    async def scenario() -> list[Any]:
        try:
            return await asyncio.gather(*(astash.get("par", "k") for _ in range(100)))
        finally:
            await astash.aclose()

    try:
        assert asyncio.run(scenario()) == [1] * 100
        assert gate.opened_by_width
        assert len(gate.senders) == 16  # 100 tasks, 16 connections
    finally:
        gate.stop()
        admin.close()


def test_one_connection_makes_calls_take_turns(short_dir: Path, server: Server) -> None:
    """The gate's own check: with max_connections=1 it never sees two connections."""
    redis.Redis(unix_socket_path=server.socket_path).hset("par", "k", "1")
    gate = Gate(str(short_dir / "gate.sock"), server.socket_path, width=2, patience=1.0)
    try:
        stash.configure(url=f"unix://{gate.listen}", max_connections=1)
        threads = [threading.Thread(target=stash.get, args=("par", "k")) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not gate.opened_by_width and len(gate.senders) == 1
    finally:
        stash.close()
        gate.stop()
