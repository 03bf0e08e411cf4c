"""The arbiter answers redis-py over its Unix socket, in both protocols."""

import pytest
import redis


@pytest.mark.parametrize("protocol", [2, 3])
def test_hash_round_trip(arbiter, protocol):
    with redis.Redis(unix_socket_path=arbiter.socket_path, protocol=protocol) as client:
        assert client.hset("sessions", mapping={"user:1": "alice", "user:2": "bob"}) == 2
        assert client.hget("sessions", "user:1") == b"alice"
        assert client.hgetall("sessions") == {b"user:1": b"alice", b"user:2": b"bob"}
        assert client.type("sessions") == b"hash"
        assert client.delete("sessions") == 1
        assert client.exists("sessions") == 0
