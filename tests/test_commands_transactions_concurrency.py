"""Atomic read-modify-write across many clients: HINCRBY and WATCH/MULTI compare-and-set
end with exact totals, as they must for counters and locks shared by gunicorn workers."""

from __future__ import annotations

import threading

import redis

CLIENTS = 8
ROUNDS = 150


def _run_all(target, *args) -> None:
    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            target(n, *args)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_hincrby_from_many_clients_is_exact(arbiter):
    def worker(_: int) -> None:
        with redis.Redis(unix_socket_path=arbiter.socket_path) as client:
            for _ in range(ROUNDS):
                client.hincrby("counters", "hits", 1)
                client.hincrbyfloat("counters", "weight", 0.5)

    _run_all(worker)
    with redis.Redis(unix_socket_path=arbiter.socket_path) as client:
        assert client.hget("counters", "hits") == str(CLIENTS * ROUNDS).encode()
        assert float(client.hget("counters", "weight")) == CLIENTS * ROUNDS * 0.5


def test_watch_multi_compare_and_set_is_exact(arbiter):
    """Each client reads, computes and writes back under WATCH; retries on conflict."""
    conflicts = []

    def worker(_: int, protocol: int) -> None:
        with redis.Redis(unix_socket_path=arbiter.socket_path, protocol=protocol) as client:
            for _ in range(ROUNDS // 3):
                def add_one(pipe: redis.client.Pipeline) -> None:
                    current = int(pipe.hget("cas", "value") or 0)
                    pipe.multi()
                    pipe.hset("cas", "value", current + 1)

                client.transaction(add_one, "cas")

    for protocol in (2, 3):
        _run_all(worker, protocol)
    with redis.Redis(unix_socket_path=arbiter.socket_path) as client:
        assert client.hget("cas", "value") == str(2 * CLIENTS * (ROUNDS // 3)).encode()
    assert not conflicts


def test_watch_conflict_makes_exec_return_null(arbiter):
    path = arbiter.socket_path
    with redis.Redis(unix_socket_path=path) as first, \
            redis.Redis(unix_socket_path=path) as second:
        first.hset("lock", "owner", "a")
        with first.pipeline() as pipe:
            pipe.watch("lock")
            second.hset("lock", "owner", "b")
            pipe.multi()
            pipe.hset("lock", "owner", "c")
            try:
                pipe.execute()
            except redis.WatchError:
                pass
            else:
                raise AssertionError("EXEC succeeded although the watched key changed")
        assert first.hget("lock", "owner") == b"b"
