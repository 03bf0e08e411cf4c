"""redis-py transactions (MULTI/EXEC/WATCH) on the arbiter, with redis-server as the
reference: `pipeline()` is transactional by default, so most workers' pipelines are
transactions, and `transaction()` is how they build compare-and-set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from servers import ServerProcess

PROTOCOLS = [pytest.param(None, id="default"), pytest.param(2, id="resp2")]


@pytest.fixture(params=PROTOCOLS)
def client(any_server: ServerProcess,
           request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    options = {} if request.param is None else {"protocol": request.param}
    with redis.Redis(unix_socket_path=any_server.socket_path, **options) as connection:
        yield connection


@pytest.fixture
def other(any_server: ServerProcess) -> Iterator[redis.Redis]:
    """A second client, to change keys behind a WATCH."""
    with redis.Redis(unix_socket_path=any_server.socket_path) as connection:
        yield connection


def test_default_pipeline_is_a_transaction(client):
    with client.pipeline() as pipe:
        pipe.hset("t", mapping={"a": "1", "b": "2"})
        pipe.hincrby("t", "a", 10)
        pipe.hgetall("t")
        pipe.hlen("t")
        assert pipe.execute() == [2, 11, {b"a": b"11", b"b": b"2"}, 2]


def test_runtime_error_inside_exec_does_not_abort_the_rest(client):
    client.hset("t", "text", "abc")
    with client.pipeline() as pipe:
        pipe.hincrby("t", "text", 1)
        pipe.hset("t", "after", "yes")
        results = pipe.execute(raise_on_error=False)
    assert isinstance(results[0], redis.ResponseError)
    assert str(results[0]) == "hash value is not an integer"
    assert results[1] == 1
    assert client.hget("t", "after") == b"yes"


def test_runtime_error_is_raised_by_default(client):
    client.hset("t", "text", "abc")
    with client.pipeline() as pipe:
        pipe.hincrby("t", "text", 1)
        pipe.hset("t", "after", "yes")
        with pytest.raises(redis.ResponseError, match="hash value is not an integer"):
            pipe.execute()
    assert client.hget("t", "after") == b"yes"


def test_queue_time_error_discards_the_transaction(client):
    """A command refused while queuing (wrong arity) makes EXEC answer EXECABORT, and
    nothing of the transaction is applied."""
    with client.pipeline() as pipe:
        pipe.hset("t", "a", "1")
        pipe.execute_command("HGET", "t")
        pipe.hset("t", "b", "2")
        with pytest.raises(redis.ResponseError) as raised:
            pipe.execute()
    assert str(raised.value) == ("Command # 2 (HGET t) of pipeline caused error: wrong "
                                 "number of arguments for 'hget' command")
    assert client.exists("t") == 0


def test_queue_time_unknown_command_discards_the_transaction(client):
    with client.pipeline() as pipe:
        pipe.hset("t", "a", "1")
        pipe.execute_command("NOSUCHCOMMAND", "x")
        with pytest.raises(redis.ResponseError, match="unknown command 'NOSUCHCOMMAND'"):
            pipe.execute()
    assert client.exists("t") == 0


def test_raw_multi_exec_replies(any_server):
    """The replies redis-py's transactional pipeline parses, sent by hand."""
    with redis.Redis(unix_socket_path=any_server.socket_path, protocol=2) as raw:
        connection = raw.connection_pool.get_connection()
        try:
            def call(*args: str) -> object:
                connection.send_command(*args)
                try:
                    return connection.read_response()
                except redis.ResponseError as exc:
                    return f"error: {exc}"

            assert call("EXEC") == "error: EXEC without MULTI"
            assert call("DISCARD") == "error: DISCARD without MULTI"
            assert call("MULTI") == b"OK"
            assert call("MULTI") == "error: MULTI calls can not be nested"
            assert call("HSET", "raw", "f", "v") == b"QUEUED"
            assert call("WATCH", "raw") == "error: WATCH inside MULTI is not allowed"
            assert call("HGET", "raw", "f") == b"QUEUED"
            assert call("EXEC") == [1, b"v"]
            assert call("MULTI") == b"OK"
            assert call("HSET", "raw", "g", "w") == b"QUEUED"
            assert call("DISCARD") == b"OK"
            assert call("HEXISTS", "raw", "g") == 0
            assert call("MULTI") == b"OK"
            assert call("HGET", "raw") == ("error: wrong number of arguments for 'hget' "
                                           "command")
            assert call("EXEC") == ("error: Transaction discarded because of previous "
                                    "errors.")
            assert call("MULTI") == b"OK"
            assert call("EXEC") == []
        finally:
            raw.connection_pool.release(connection)


def test_watch_conflict_raises_watch_error(client, other):
    client.hset("lock", "owner", "a")
    with client.pipeline() as pipe:
        pipe.watch("lock")
        assert pipe.hget("lock", "owner") == b"a"
        other.hset("lock", "owner", "b")
        pipe.multi()
        pipe.hset("lock", "owner", "c")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert client.hget("lock", "owner") == b"b"


def test_watch_without_change_commits(client, other):
    client.hset("lock", "owner", "a")
    other.hset("unrelated", "x", "1")
    with client.pipeline() as pipe:
        pipe.watch("lock", "missing")
        pipe.multi()
        pipe.hset("lock", "owner", "c")
        assert pipe.execute() == [0]
    assert client.hget("lock", "owner") == b"c"


@pytest.mark.parametrize("change", ["hdel", "delete", "rename", "create", "flushdb"])
def test_every_kind_of_change_breaks_a_watch(client, other, change):
    client.hset("watched", "f", "v")
    client.hset("source", "f", "v")
    with client.pipeline() as pipe:
        pipe.watch("watched" if change != "create" else "new")
        {
            "hdel": lambda: other.hdel("watched", "f"),
            "delete": lambda: other.delete("watched"),
            "rename": lambda: other.rename("source", "watched"),
            "create": lambda: other.hset("new", "f", "v"),
            "flushdb": lambda: other.flushdb(),
        }[change]()
        pipe.multi()
        pipe.hset("result", "done", "1")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert client.exists("result") == 0


def test_unwatch_on_reset_lets_the_next_transaction_commit(client, other):
    client.hset("lock", "owner", "a")
    with client.pipeline() as pipe:
        pipe.watch("lock")
        pipe.reset()
        other.hset("lock", "owner", "b")
        pipe.multi()
        pipe.hset("lock", "owner", "c")
        assert pipe.execute() == [0]
    assert client.hget("lock", "owner") == b"c"


def test_transaction_helper_retries_until_it_commits(client, other):
    """`transaction(func, *keys)` re-runs `func` after a WatchError."""
    client.hset("account", "balance", "100")
    attempts = []

    def withdraw(pipe: redis.client.Pipeline) -> None:
        balance = int(pipe.hget("account", "balance"))
        attempts.append(balance)
        if len(attempts) == 1:
            other.hincrby("account", "balance", 50)
        pipe.multi()
        pipe.hset("account", "balance", balance - 30)

    results = client.transaction(withdraw, "account")
    assert attempts == [100, 150]
    assert results == [0]
    assert client.hget("account", "balance") == b"120"


def test_transaction_helper_value_from_callable(client):
    client.hset("counter", "n", "1")

    def bump(pipe: redis.client.Pipeline) -> int:
        current = int(pipe.hget("counter", "n"))
        pipe.multi()
        pipe.hincrby("counter", "n", current)
        return current * 10

    assert client.transaction(bump, "counter", value_from_callable=True) == 10
    assert client.hget("counter", "n") == b"2"
