"""Helpers for the persistence tests that run real arbiter processes."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import redis
from servers import ServerProcess, poll_until, start_arbiter


def arbiter_with_aof(directory: Path, *options: str, name: str = "arbiter") -> ServerProcess:
    return start_arbiter(directory, "--appendonly", "yes", "--dir", str(directory),
                         *options, name=name)


def connect(server: ServerProcess, **options) -> redis.Redis:
    return redis.Redis(unix_socket_path=server.socket_path, protocol=2, **options)


def kill(server: ServerProcess) -> None:
    """SIGKILL: no shutdown code runs, as in a crash."""
    os.kill(server.pid, signal.SIGKILL)
    server.process.wait(10)
    server.stop()


def info(client: redis.Redis) -> dict:
    return client.info("persistence")


def wait_rewrite_done(client: redis.Redis, rewrites: int, timeout: float = 30.0) -> dict:
    """Poll INFO until `rewrites` rewrites have finished and none is running."""
    state: dict = {}

    def done() -> bool:
        state.update(info(client))
        return state["aof_rewrites"] >= rewrites and not state["aof_rewrite_in_progress"]

    assert poll_until(done, timeout), state
    return state


class Writers:
    """Client threads writing distinct fields as fast as they are acknowledged; each
    acknowledged write is remembered with the time its reply arrived."""

    def __init__(self, server: ServerProcess, clients: int, key: str = "w",
                 value_size: int = 16) -> None:
        self.server = server
        self.key = key
        self.value = b"v" * value_size
        self.acked: list[list[tuple[int, float]]] = [[] for _ in range(clients)]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                         for n in range(clients)]

    def __enter__(self) -> Writers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, number: int) -> None:
        client = connect(self.server, socket_timeout=30)
        acked = self.acked[number]
        i = 0
        try:
            while not self._stop.is_set():
                client.hset(f"{self.key}{number}", f"f{i}", self.value)
                acked.append((i, time.monotonic()))
                i += 1
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            pass  # the server was killed
        finally:
            client.close()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def total(self) -> int:
        return sum(len(a) for a in self.acked)

    def missing(self, client: redis.Redis) -> list[tuple[int, float]]:
        """Acknowledged writes absent from the server (as (index, ack time))."""
        lost = []
        for number, acked in enumerate(self.acked):
            present = {int(f[1:]) for f in client.hkeys(f"{self.key}{number}")}
            lost += [(i, at) for i, at in acked if i not in present]
        return lost
