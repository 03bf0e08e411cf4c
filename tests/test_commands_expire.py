"""Key expiry (EXPIRE, TTL and PERSIST families) checked side by side against a real
redis-server 7.0: every scenario runs on both servers and must give the documented reply
on each (Redis `src/expire.c`; 7.0 and 8.0 agree on all of it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from servers import ServerProcess, poll_until

FAR_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
Outcome = object


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(arbiter: ServerProcess, redis_server: ServerProcess,
         request: pytest.FixtureRequest) -> Iterator[dict[str, redis.Redis]]:
    """Clients of the reference server and of the arbiter, in the same protocol."""
    with redis.Redis(unix_socket_path=redis_server.socket_path, protocol=request.param) as ref, \
            redis.Redis(unix_socket_path=arbiter.socket_path, protocol=request.param) as arb:
        yield {"redis-server": ref, "arbiter": arb}


def outcome(conn: redis.Redis, *args: object) -> Outcome:
    """A command's reply, or ("error", text) when it is refused."""
    try:
        return conn.execute_command(*args)
    except redis.ResponseError as exc:
        return ("error", str(exc))


def check(pair: dict[str, redis.Redis], scenario: Callable[[redis.Redis], Outcome],
          expected: Outcome) -> None:
    """Run `scenario` on each server; each must give `expected` (reference first)."""
    for name, conn in pair.items():
        assert scenario(conn) == expected, name



@pytest.mark.parametrize("name", ["expire", "pexpire", "expireat", "pexpireat", "ttl", "pttl",
                                  "expiretime", "pexpiretime", "persist"])
def test_command_info_matches_redis(pair, name: str) -> None:
    infos = {server: conn.execute_command("COMMAND", "INFO", name)
             for server, conn in pair.items()}
    assert infos["arbiter"] == infos["redis-server"]


def test_far_future_times_read_back(pair) -> None:
    # ttlGenericCommand: EXPIRETIME rounds to the nearest second ((ms + 500) / 1000).
    def scenario(conn: redis.Redis) -> Outcome:
        conn.hset("a", "f", "v")
        conn.hset("b", "f", "v")
        return [outcome(conn, "PEXPIREAT", "a", FAR_MS + 499),
                outcome(conn, "PEXPIREAT", "b", FAR_MS + 500),
                outcome(conn, "PEXPIRETIME", "a"), outcome(conn, "EXPIRETIME", "a"),
                outcome(conn, "EXPIRETIME", "b")]
    check(pair, scenario, [1, 1, FAR_MS + 499, FAR_MS // 1000, FAR_MS // 1000 + 1])


def test_expireat_seconds(pair) -> None:
    def scenario(conn: redis.Redis) -> Outcome:
        conn.hset("k", "f", "v")
        return [outcome(conn, "EXPIREAT", "k", FAR_MS // 1000),
                outcome(conn, "PEXPIRETIME", "k")]
    check(pair, scenario, [1, FAR_MS])


def test_relative_ttl_in_transaction(pair) -> None:
    # TTL rounds to the nearest second, so a fresh 100 s TTL reads back as 100.
    def scenario(conn: redis.Redis) -> Outcome:
        conn.hset("k", "f", "v")
        with conn.pipeline(transaction=True) as pipe:
            pipe.execute_command("EXPIRE", "k", 100)
            pipe.execute_command("TTL", "k")
            return pipe.execute()
    check(pair, scenario, [1, 100])


def test_ttl_codes(pair) -> None:
    # -2 for a missing key, -1 for a key without TTL.
    def scenario(conn: redis.Redis) -> Outcome:
        conn.hset("k", "f", "v")
        return [outcome(conn, name, key) for key in ("nokey", "k")
                for name in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME")]
    check(pair, scenario, [-2] * 4 + [-1] * 4)


def test_condition_flags(pair) -> None:
    # expireGenericCommand with NX/XX/GT/LT (7.0+); no TTL counts as infinite for GT/LT.
    def scenario(conn: redis.Redis) -> Outcome:
        conn.hset("k", "f", "v")
        steps = [("XX", FAR_MS), ("GT", FAR_MS), ("NX", FAR_MS), ("NX", FAR_MS + 1),
                 ("GT", FAR_MS), ("GT", FAR_MS + 10), ("LT", FAR_MS + 10),
                 ("LT", FAR_MS + 5), ("XX", FAR_MS + 7)]
        replies = [outcome(conn, "PEXPIREAT", "k", when, flag) for flag, when in steps]
        conn.hset("p", "f", "v")
        replies.append(outcome(conn, "PEXPIREAT", "p", FAR_MS, "LT"))
        return [*replies, outcome(conn, "PEXPIRETIME", "k"), outcome(conn, "PEXPIRETIME", "p")]
    check(pair, scenario, [0, 0, 1, 0, 0, 1, 0, 1, 1, 1, FAR_MS + 7, FAR_MS])


@pytest.mark.parametrize("args, expected", [
    (("EXPIRE", "k", 10, "NX", "XX"),
     ("error", "NX and XX, GT or LT options at the same time are not compatible")),
    (("EXPIRE", "k", 10, "NX", "GT"),
     ("error", "NX and XX, GT or LT options at the same time are not compatible")),
    (("EXPIRE", "k", 10, "GT", "LT"),
     ("error", "GT and LT options at the same time are not compatible")),
    (("EXPIRE", "k", 10, "SOON"), ("error", "Unsupported option SOON")),
    (("EXPIRE", "k", "ten"), ("error", "value is not an integer or out of range")),
    (("EXPIRE", "k", 9223372036854775807), ("error", "invalid expire time in 'expire' command")),
    (("PEXPIRE", "k", 9223372036854775807),
     ("error", "invalid expire time in 'pexpire' command")),
    (("EXPIREAT", "k", 9223372036854775807),
     ("error", "invalid expire time in 'expireat' command")),
    (("EXPIRE", "k"), ("error", "wrong number of arguments for 'expire' command")),
    (("TTL",), ("error", "wrong number of arguments for 'ttl' command")),
    (("PERSIST", "k", "x"), ("error", "wrong number of arguments for 'persist' command")),
])
def test_errors(pair, args, expected) -> None:
    def scenario(conn: redis.Redis) -> Outcome:
        conn.hset("k", "f", "v")
        return [outcome(conn, *args), outcome(conn, "TTL", "k")]
    check(pair, scenario, [expected, -1])


def test_persist(pair) -> None:
    def scenario(conn: redis.Redis) -> Outcome:
        conn.hset("k", "f", "v")
        conn.pexpireat("k", FAR_MS)
        return [outcome(conn, "PERSIST", "k"), outcome(conn, "PERSIST", "k"),
                outcome(conn, "PERSIST", "nokey"), outcome(conn, "TTL", "k")]
    check(pair, scenario, [1, 0, 0, -1])


def test_rename_keeps_ttl(pair) -> None:
    def scenario(conn: redis.Redis) -> Outcome:
        conn.hset("k", "f", "v")
        conn.pexpireat("k", FAR_MS)
        conn.rename("k", "k2")
        return [outcome(conn, "PEXPIRETIME", "k2"), outcome(conn, "EXISTS", "k")]
    check(pair, scenario, [FAR_MS, 0])


def test_writes_keep_key_ttl(pair) -> None:
    # Only commands that replace the whole value clear a key's TTL; HSET/HDEL do not.
    def scenario(conn: redis.Redis) -> Outcome:
        conn.hset("k", mapping={"f": "v", "g": "w"})
        conn.pexpireat("k", FAR_MS)
        conn.hset("k", "f", "new")
        conn.hdel("k", "g")
        conn.hincrby("k", "n", 1)
        return outcome(conn, "PEXPIRETIME", "k")
    check(pair, scenario, FAR_MS)


@pytest.mark.parametrize("args", [("EXPIREAT", "k", 1), ("PEXPIREAT", "k", 1),
                                  ("EXPIRE", "k", 0), ("EXPIRE", "k", -5),
                                  ("PEXPIRE", "k", -1)])
def test_past_time_deletes_key(pair, args) -> None:
    # expireGenericCommand: checkAlreadyExpired() -> the key is deleted, reply 1.
    def scenario(conn: redis.Redis) -> Outcome:
        conn.hset("k", "f", "v")
        return [outcome(conn, *args), outcome(conn, "EXISTS", "k")]
    check(pair, scenario, [1, 0])


def test_expire_missing_key(pair) -> None:
    check(pair, lambda conn: [outcome(conn, "EXPIRE", "nokey", 10),
                              outcome(conn, "PEXPIREAT", "nokey", FAR_MS)], [0, 0])


def test_key_expires_and_is_counted(pair) -> None:
    # deleteExpiredKeyAndPropagate increments expired_keys; the key disappears by itself.
    def scenario(conn: redis.Redis) -> Outcome:
        before = int(conn.info("stats")["expired_keys"])
        conn.hset("k", "f", "v")
        conn.pexpire("k", 50)
        gone = poll_until(lambda: conn.exists("k") == 0)
        return [gone, int(conn.info("stats")["expired_keys"]) - before]
    check(pair, scenario, [True, 1])


def test_key_expiry_touches_watch(pair) -> None:
    # A watched key that expires after WATCH makes EXEC fail (signalModifiedKey on expiry).
    def scenario(conn: redis.Redis) -> Outcome:
        with conn.pipeline() as pipe:
            for _ in range(20):
                conn.hset("k", "f", "v")
                conn.pexpire("k", 100)
                pipe.watch("k")
                if pipe.pttl("k") > 0:
                    break
                pipe.reset()
            else:
                return "could not WATCH before the key expired"
            assert poll_until(lambda: conn.exists("k") == 0)
            pipe.multi()
            pipe.hset("k", "x", "1")
            try:
                pipe.execute()
            except redis.WatchError:
                return "aborted"
            return "committed"
    check(pair, scenario, "aborted")
