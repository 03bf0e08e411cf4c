"""Hash field expiry (Redis 7.4/8.0 HEXPIRE family, HTTL family, HPERSIST, HGETDEL, HGETEX,
HSETEX) as Redis' own source and documentation define it.

No installed redis-server has these commands, so each expectation cites the Redis source
(`src/t_hash.c`, `src/commands/*.json`) or the redis.io page it follows. Absolute times far
in the past or future keep the tests free of sleeps; where a field must really expire, a
short TTL and a polling wait are used.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import hiredis
import pytest
import redis
from servers import ServerProcess, poll_until

FAR_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z, in milliseconds
PAST_MS = 1_000  # 1970, long gone
# t_hash.c: HFE_MAX_ABS_TIME_MSEC = EB_EXPIRE_TIME_MAX >> 2 = (2**48 - 1) >> 2
MAX_MS = 70_368_744_177_663
MAX_S = MAX_MS // 1000


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def client(arbiter: ServerProcess, request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    with redis.Redis(unix_socket_path=arbiter.socket_path, protocol=request.param) as conn:
        yield conn


def error(conn: redis.Redis, *args: object) -> str:
    """The error text a command is refused with (redis-py drops the leading "ERR ")."""
    with pytest.raises(redis.ResponseError) as info:
        conn.execute_command(*args)
    return str(info.value)



def stat(conn: redis.Redis, name: str) -> int:
    return int(conn.info("stats")[name])


def pexpiretime(conn: redis.Redis, key: str, *fields: str) -> list[int]:
    return conn.execute_command("HPEXPIRETIME", key, "FIELDS", len(fields), *fields)


def raw_reply(path: str, command: list[bytes], resp3: bool) -> bytes:
    """The exact bytes of one reply, after an optional HELLO 3."""
    def send(sock: socket.socket, args: list[bytes]) -> bytes:
        sock.sendall(b"*%d\r\n" % len(args)
                     + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        reader, data = hiredis.Reader(), b""
        while True:
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the reply was complete"
            data += chunk
            reader.feed(chunk)
            if reader.gets() is not False:
                return data

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        if resp3:
            send(sock, [b"HELLO", b"3"])
        return send(sock, command)


# --- COMMAND INFO --------------------------------------------------------------------

# src/commands/<name>.json (8.0: PR #13800 dropped DENYOOM from the HEXPIRE family;
# HSETEX keeps it). ACL categories follow the flags: write/readonly, @hash, fast. Key-spec
# flags print as Redis does: the RW/RO kind upper case, the rest lower case.
COMMAND_TABLE = {
    "hexpire": (-6, {"write", "fast"}, [b"RW", b"update"]),
    "hpexpire": (-6, {"write", "fast"}, [b"RW", b"update"]),
    "hexpireat": (-6, {"write", "fast"}, [b"RW", b"update"]),
    "hpexpireat": (-6, {"write", "fast"}, [b"RW", b"update"]),
    "httl": (-5, {"readonly", "fast"}, [b"RO", b"access"]),
    "hpttl": (-5, {"readonly", "fast"}, [b"RO", b"access"]),
    "hexpiretime": (-5, {"readonly", "fast"}, [b"RO", b"access"]),
    "hpexpiretime": (-5, {"readonly", "fast"}, [b"RO", b"access"]),
    "hpersist": (-5, {"write", "fast"}, [b"RW", b"update"]),
    "hgetdel": (-5, {"write", "fast"}, [b"RW", b"access", b"delete"]),
    "hgetex": (-5, {"write", "fast"}, [b"RW", b"access", b"update"]),
    "hsetex": (-6, {"write", "denyoom", "fast"}, [b"RW", b"update"]),
}


@pytest.mark.parametrize("name", sorted(COMMAND_TABLE))
def test_command_info(arbiter: ServerProcess, name: str) -> None:
    arity, flags, spec_flags = COMMAND_TABLE[name]
    with redis.Redis(unix_socket_path=arbiter.socket_path, protocol=3) as conn:
        info = conn.execute_command("COMMAND", "INFO", name)[name]
    assert info["arity"] == arity
    assert info["flags"] == flags
    assert (info["first_key_pos"], info["last_key_pos"], info["step_count"]) == (1, 1, 1)
    category = b"@read" if "readonly" in flags else b"@write"
    assert info["acl_categories"] == [category, b"@hash", b"@fast"]
    [spec] = info["key_specifications"]
    assert spec[b"flags"] == spec_flags
    assert spec[b"begin_search"] == {b"type": b"index", b"spec": {b"index": 1}}


# --- HEXPIRE / HPEXPIRE / HEXPIREAT / HPEXPIREAT -------------------------------------

def test_hexpire_sets_ttl_and_reports_missing_fields(client: redis.Redis) -> None:
    # hexpireGenericCommand: one code per field, in order; -2 no such field, 1 set.
    client.hset("h", mapping={"a": "1", "b": "2"})
    assert client.execute_command("HPEXPIREAT", "h", FAR_MS, "FIELDS", 3, "a", "x", "b") \
        == [1, -2, 1]
    assert pexpiretime(client, "h", "a", "b") == [FAR_MS, FAR_MS]


def test_hexpire_on_missing_key_answers_minus_two_per_field(client: redis.Redis) -> None:
    # PR #13343: a missing key is an empty hash, so every field is -2 (not a null reply).
    assert client.execute_command("HEXPIRE", "nokey", 100, "FIELDS", 2, "a", "b") == [-2, -2]
    assert client.exists("nokey") == 0


@pytest.mark.parametrize("args, message", [
    # Arguments are validated before the missing key is noticed (hexpireGenericCommand).
    (("HEXPIRE", "nokey", 100, "FILEDS", 1, "a"),
     "Mandatory argument FIELDS is missing or not at the right position"),
    (("HEXPIRE", "nokey", 100, "FIELDS", 2, "a"),
     "The `numfields` parameter must match the number of arguments"),
    (("HEXPIRE", "nokey", -1, "FIELDS", 1, "a"), "invalid expire time, must be >= 0"),
])
def test_hexpire_validates_arguments_even_without_key(client: redis.Redis, args, message) -> None:
    assert error(client, *args) == message


def test_hexpire_zero_and_past_times_delete_the_field(client: redis.Redis) -> None:
    # Doc (hexpire): a zero TTL or a past *AT time deletes the field; code 2.
    # checkAlreadyExpired() uses `when <= now`, so HEXPIRE 0 counts as past.
    client.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    assert client.execute_command("HEXPIRE", "h", 0, "FIELDS", 1, "a") == [2]
    assert client.execute_command("HPEXPIREAT", "h", PAST_MS, "FIELDS", 1, "b") == [2]
    assert client.execute_command("HEXPIREAT", "h", 0, "FIELDS", 1, "c") == [2]
    assert client.exists("h") == 0  # the last field went, and the key with it


def test_hexpire_past_time_keeps_other_fields(client: redis.Redis) -> None:
    client.hset("h", mapping={"a": "1", "b": "2"})
    assert client.execute_command("HPEXPIREAT", "h", PAST_MS, "FIELDS", 1, "a") == [2]
    assert client.hgetall("h") == {b"b": b"2"}


def test_hexpire_duplicate_field_is_processed_twice(client: redis.Redis) -> None:
    # Fields are handled one by one: the second occurrence finds the field gone.
    client.hset("h", mapping={"a": "1", "b": "2"})
    assert client.execute_command("HPEXPIREAT", "h", PAST_MS, "FIELDS", 2, "a", "a") == [2, -2]


def test_conditions_on_field_without_ttl(client: redis.Redis) -> None:
    # hashTypeSetExpiryHT: a field without TTL fails XX and GT ("infinite" TTL), passes NX/LT.
    client.hset("h", mapping={"nx": "1", "xx": "1", "gt": "1", "lt": "1"})
    for flag, code in (("NX", 1), ("XX", 0), ("GT", 0), ("LT", 1)):
        assert client.execute_command("HPEXPIREAT", "h", FAR_MS, flag, "FIELDS", 1,
                                      flag.lower()) == [code]
    assert pexpiretime(client, "h", "nx", "xx", "gt", "lt") == [FAR_MS, -1, -1, FAR_MS]


def test_conditions_on_field_with_ttl(client: redis.Redis) -> None:
    # GT fails when old >= new, LT fails when old <= new (equal fails both), NX fails.
    client.hset("h", "f", "v")
    client.execute_command("HPEXPIREAT", "h", FAR_MS, "FIELDS", 1, "f")
    cases = [("NX", FAR_MS + 5, 0), ("GT", FAR_MS, 0), ("LT", FAR_MS, 0),
             ("GT", FAR_MS + 10, 1), ("LT", FAR_MS + 20, 0), ("LT", FAR_MS + 5, 1),
             ("XX", FAR_MS + 7, 1)]
    for flag, when, code in cases:
        assert client.execute_command("HPEXPIREAT", "h", when, flag, "FIELDS", 1, "f") \
            == [code], (flag, when)
    assert pexpiretime(client, "h", "f") == [FAR_MS + 7]


def test_condition_is_checked_before_past_time_deletion(client: redis.Redis) -> None:
    # hashTypeSetExpiryHT returns HSETEX_NO_CONDITION_MET before checkAlreadyExpired().
    client.hset("h", "f", "v")
    assert client.execute_command("HPEXPIREAT", "h", PAST_MS, "XX", "FIELDS", 1, "f") == [0]
    assert client.hget("h", "f") == b"v"


def test_tokens_are_case_insensitive(client: redis.Redis) -> None:
    client.hset("h", "f", "v")
    assert client.execute_command("HPEXPIREAT", "h", FAR_MS, "nx", "fields", 1, "f") == [1]


@pytest.mark.parametrize("args, message", [
    # hexpireGenericCommand / parseExpireTime, in the order Redis checks them.
    (("HEXPIRE", "h", "soon", "FIELDS", 1, "f"), "value is not an integer or out of range"),
    (("HEXPIRE", "h", -5, "FIELDS", 1, "f"), "invalid expire time, must be >= 0"),
    (("HEXPIREAT", "h", MAX_S + 1, "FIELDS", 1, "f"),
     "invalid expire time in 'hexpireat' command"),
    (("HPEXPIREAT", "h", MAX_MS + 1, "FIELDS", 1, "f"),
     "invalid expire time in 'hpexpireat' command"),
    (("HPEXPIRE", "h", MAX_MS, "FIELDS", 1, "f"), "invalid expire time in 'hpexpire' command"),
    (("HEXPIRE", "h", MAX_S, "FIELDS", 1, "f"), "invalid expire time in 'hexpire' command"),
    (("HEXPIRE", "h", 10, "NX", "XX", "FIELDS", 1, "f"),
     "Mandatory argument FIELDS is missing or not at the right position"),
    (("HEXPIRE", "h", 10, "SOMETIME", "FIELDS", 1, "f"),
     "Mandatory argument FIELDS is missing or not at the right position"),
    (("HEXPIRE", "h", 10, "FIELDS", 0, "f"), "Parameter `numFields` should be greater than 0"),
    (("HEXPIRE", "h", 10, "FIELDS", -1, "f"), "Parameter `numFields` should be greater than 0"),
    (("HEXPIRE", "h", 10, "FIELDS", "one", "f"),
     "Parameter `numFields` should be greater than 0"),
    (("HEXPIRE", "h", 10, "FIELDS", 1, "f", "g"),
     "The `numfields` parameter must match the number of arguments"),
    (("HEXPIRE", "h", 10, "FIELDS", 3, "f", "g"),
     "The `numfields` parameter must match the number of arguments"),
    (("HEXPIRE", "h", 10, "FIELDS", 1), "wrong number of arguments for 'hexpire' command"),
])
def test_hexpire_errors(client: redis.Redis, args, message) -> None:
    client.hset("h", "f", "v")
    assert error(client, *args) == message
    assert pexpiretime(client, "h", "f") == [-1]  # nothing was changed


def test_largest_allowed_times_are_accepted(client: redis.Redis) -> None:
    # parseExpireTime: the limit itself is allowed (the checks are strict `>`).
    client.hset("h", mapping={"a": "1", "b": "2"})
    assert client.execute_command("HPEXPIREAT", "h", MAX_MS, "FIELDS", 1, "a") == [1]
    assert client.execute_command("HEXPIREAT", "h", MAX_S, "FIELDS", 1, "b") == [1]
    assert pexpiretime(client, "h", "a", "b") == [MAX_MS, MAX_S * 1000]


# --- HTTL / HPTTL / HEXPIRETIME / HPEXPIRETIME ---------------------------------------

def test_ttl_family_codes(client: redis.Redis) -> None:
    # httlGenericCommand: -2 no field (or missing key), -1 no TTL.
    client.hset("h", mapping={"plain": "1", "timed": "2"})
    client.execute_command("HPEXPIREAT", "h", FAR_MS, "FIELDS", 1, "timed")
    for name in ("HTTL", "HPTTL", "HEXPIRETIME", "HPEXPIRETIME"):
        codes = client.execute_command(name, "h", "FIELDS", 2, "plain", "none")
        assert codes == [-1, -2], name
        assert client.execute_command(name, "nokey", "FIELDS", 1, "a") == [-2], name


def test_expiretime_rounds_up_to_the_second(client: redis.Redis) -> None:
    # httlGenericCommand: seconds are (expire + 999 - basetime) / 1000, i.e. rounded up
    # (key-level EXPIRETIME rounds to nearest instead).
    client.hset("h", mapping={"a": "1", "b": "2"})
    client.execute_command("HPEXPIREAT", "h", FAR_MS + 1, "FIELDS", 1, "a")
    client.execute_command("HPEXPIREAT", "h", FAR_MS, "FIELDS", 1, "b")
    assert client.execute_command("HEXPIRETIME", "h", "FIELDS", 2, "a", "b") \
        == [FAR_MS // 1000 + 1, FAR_MS // 1000]
    assert pexpiretime(client, "h", "a", "b") == [FAR_MS + 1, FAR_MS]


def test_relative_ttl_within_one_transaction(client: redis.Redis) -> None:
    # commandTimeSnapshot() is fixed for a whole MULTI/EXEC, so the TTL reads back exactly.
    client.hset("h", mapping={"a": "1", "b": "2"})
    with client.pipeline(transaction=True) as pipe:
        pipe.execute_command("HEXPIRE", "h", 100, "FIELDS", 1, "a")
        pipe.execute_command("HPEXPIRE", "h", 2500, "FIELDS", 1, "b")
        pipe.execute_command("HTTL", "h", "FIELDS", 2, "a", "b")
        pipe.execute_command("HPTTL", "h", "FIELDS", 2, "a", "b")
        assert pipe.execute() == [[1], [1], [100, 3], [100_000, 2500]]


@pytest.mark.parametrize("name", ["HTTL", "HPTTL", "HEXPIRETIME", "HPEXPIRETIME", "HPERSIST"])
@pytest.mark.parametrize("args, message", [
    (("FIELD", 1, "a"), "Mandatory argument FIELDS is missing or not at the right position"),
    (("FIELDS", 0, "a"), "Number of fields must be a positive integer"),
    (("FIELDS", "x", "a"), "Number of fields must be a positive integer"),
    (("FIELDS", 2, "a"), "The `numfields` parameter must match the number of arguments"),
])
def test_ttl_family_and_hpersist_errors(client: redis.Redis, name, args, message) -> None:
    # httlGenericCommand / hpersistCommand; also on a missing key.
    assert error(client, name, "nokey", *args) == message


def test_ttl_family_arity(client: redis.Redis) -> None:
    assert error(client, "HTTL", "h", "FIELDS", 1) == "wrong number of arguments for 'httl' command"


# --- HPERSIST ------------------------------------------------------------------------

def test_hpersist_codes(client: redis.Redis) -> None:
    # hpersistCommand: 1 TTL removed, -1 no TTL, -2 no field; the field becomes persistent.
    client.hset("h", mapping={"timed": "1", "plain": "2"})
    client.execute_command("HPEXPIREAT", "h", FAR_MS, "FIELDS", 1, "timed")
    assert client.execute_command("HPERSIST", "h", "FIELDS", 3, "timed", "plain", "none") \
        == [1, -1, -2]
    assert pexpiretime(client, "h", "timed") == [-1]
    assert client.execute_command("HPERSIST", "nokey", "FIELDS", 1, "a") == [-2]


# --- HGETDEL -------------------------------------------------------------------------

def test_hgetdel_returns_and_deletes(client: redis.Redis) -> None:
    # redis.io/commands/hgetdel example; the key goes with its last field.
    client.hset("h", mapping={"field1": "Hello", "field2": "World", "field3": "!"})
    assert client.execute_command("HGETDEL", "h", "FIELDS", 2, "field3", "field4") == [b"!", None]
    assert client.hgetall("h") == {b"field1": b"Hello", b"field2": b"World"}
    assert client.execute_command("HGETDEL", "h", "FIELDS", 2, "field1", "field2") \
        == [b"Hello", b"World"]
    assert client.exists("h") == 0


def test_hgetdel_duplicate_and_missing_key(client: redis.Redis) -> None:
    client.hset("h", mapping={"a": "1", "b": "2"})
    assert client.execute_command("HGETDEL", "h", "FIELDS", 2, "a", "a") == [b"1", None]
    assert client.execute_command("HGETDEL", "nokey", "FIELDS", 2, "a", "b") == [None, None]


@pytest.mark.parametrize("args, message", [
    # hgetdelCommand
    (("FIELD", 1, "a"), "Mandatory argument FIELDS is missing or not at the right position"),
    (("FIELDS", 0, "a"), "Number of fields must be a positive integer"),
    (("FIELDS", 1, "a", "b"), "The `numfields` parameter must match the number of arguments"),
])
def test_hgetdel_errors(client: redis.Redis, args, message) -> None:
    client.hset("h", "a", "1")
    assert error(client, "HGETDEL", "h", *args) == message
    assert client.hget("h", "a") == b"1"


@pytest.mark.parametrize("resp3, null", [(False, b"$-1\r\n"), (True, b"_\r\n")])
def test_missing_field_null_shape(arbiter: ServerProcess, resp3: bool, null: bytes) -> None:
    # addReplyNull: a null bulk in RESP2, the RESP3 null type in RESP3.
    command = [b"HGETDEL", b"nokey", b"FIELDS", b"1", b"a"]
    assert raw_reply(arbiter.socket_path, command, resp3) == b"*1\r\n" + null


# --- HGETEX --------------------------------------------------------------------------

def test_hgetex_without_option_is_a_read(client: redis.Redis) -> None:
    client.hset("h", mapping={"a": "1", "b": "2"})
    client.execute_command("HPEXPIREAT", "h", FAR_MS, "FIELDS", 1, "a")
    assert client.execute_command("HGETEX", "h", "FIELDS", 3, "a", "b", "c") \
        == [b"1", b"2", None]
    assert pexpiretime(client, "h", "a", "b", "c") == [FAR_MS, -1, -2]


def test_hgetex_sets_ttl_on_found_fields(client: redis.Redis) -> None:
    client.hset("h", mapping={"a": "1", "b": "2"})
    assert client.execute_command("HGETEX", "h", "PXAT", FAR_MS, "FIELDS", 2, "a", "z") \
        == [b"1", None]
    assert client.execute_command("HGETEX", "h", "EXAT", FAR_MS // 1000 + 7, "FIELDS", 1, "b") \
        == [b"2"]
    assert pexpiretime(client, "h", "a", "b", "z") == [FAR_MS, FAR_MS + 7000, -2]


def test_hgetex_relative_ttl_in_transaction(client: redis.Redis) -> None:
    client.hset("h", mapping={"a": "1", "b": "2"})
    with client.pipeline(transaction=True) as pipe:
        pipe.execute_command("HGETEX", "h", "EX", 60, "FIELDS", 1, "a")
        pipe.execute_command("HGETEX", "h", "PX", 1500, "FIELDS", 1, "b")
        pipe.execute_command("HPTTL", "h", "FIELDS", 2, "a", "b")
        assert pipe.execute() == [[b"1"], [b"2"], [60_000, 1500]]


def test_hgetex_persist(client: redis.Redis) -> None:
    client.hset("h", mapping={"a": "1", "b": "2"})
    client.execute_command("HPEXPIREAT", "h", FAR_MS, "FIELDS", 1, "a")
    assert client.execute_command("HGETEX", "h", "PERSIST", "FIELDS", 2, "a", "b") \
        == [b"1", b"2"]
    assert pexpiretime(client, "h", "a", "b") == [-1, -1]


@pytest.mark.parametrize("option", [("EX", 0), ("PX", 0), ("PXAT", PAST_MS), ("EXAT", 1)])
def test_hgetex_past_time_returns_then_deletes(client: redis.Redis, option) -> None:
    # hgetexCommand: the value is replied first, then hashTypeSetEx deletes the field;
    # an emptied hash is deleted.
    client.hset("h", mapping={"a": "1", "b": "2"})
    assert client.execute_command("HGETEX", "h", *option, "FIELDS", 1, "a") == [b"1"]
    assert client.hgetall("h") == {b"b": b"2"}
    assert client.execute_command("HGETEX", "h", *option, "FIELDS", 1, "b") == [b"2"]
    assert client.exists("h") == 0


def test_hgetex_missing_key(client: redis.Redis) -> None:
    assert client.execute_command("HGETEX", "nokey", "EX", 10, "FIELDS", 2, "a", "b") \
        == [None, None]
    assert client.exists("nokey") == 0


@pytest.mark.parametrize("args, message", [
    # hgetexCommand reads one option at argv[2] only, then wants FIELDS right after it.
    (("EX", 10, "PX", 10, "FIELDS", 1, "a"),
     "Mandatory argument FIELDS is missing or not at the right position"),
    (("PERSIST", "EX", 10, "FIELDS", 1, "a"),
     "Mandatory argument FIELDS is missing or not at the right position"),
    (("KEEPTTL", "FIELDS", 1, "a"),
     "Mandatory argument FIELDS is missing or not at the right position"),
    (("EX", -1, "FIELDS", 1, "a"), "invalid expire time, must be >= 0"),
    (("EX", "ten", "FIELDS", 1, "a"), "value is not an integer or out of range"),
    (("PXAT", MAX_MS + 1, "FIELDS", 1, "a"), "invalid expire time in 'hgetex' command"),
    (("FIELDS", 0, "a"), "Number of fields must be a positive integer"),
    (("FIELDS", 2, "a"), "The `numfields` parameter must match the number of arguments"),
])
def test_hgetex_errors(client: redis.Redis, args, message) -> None:
    client.hset("h", "a", "1")
    assert error(client, "HGETEX", "h", *args) == message
    assert pexpiretime(client, "h", "a") == [-1]


# --- HSETEX --------------------------------------------------------------------------

def test_hsetex_sets_values_and_ttl(client: redis.Redis) -> None:
    assert client.execute_command("HSETEX", "h", "PXAT", FAR_MS, "FIELDS", 2,
                                  "a", "1", "b", "2") == 1
    assert client.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert pexpiretime(client, "h", "a", "b") == [FAR_MS, FAR_MS]


def test_hsetex_without_expiry_clears_ttl_and_keepttl_keeps_it(client: redis.Redis) -> None:
    # hsetexCommand: HASH_SET_KEEP_TTL only with KEEPTTL (or a new expiry); otherwise
    # the overwrite drops the TTL like HSET (redis.io/commands/hsetex).
    client.execute_command("HSETEX", "h", "PXAT", FAR_MS, "FIELDS", 2, "a", "1", "b", "2")
    assert client.execute_command("HSETEX", "h", "FIELDS", 1, "a", "10") == 1
    assert client.execute_command("HSETEX", "h", "KEEPTTL", "FIELDS", 1, "b", "20") == 1
    assert client.hgetall("h") == {b"a": b"10", b"b": b"20"}
    assert pexpiretime(client, "h", "a", "b") == [-1, FAR_MS]


def test_hsetex_fnx(client: redis.Redis) -> None:
    client.hset("h", "a", "1")
    assert client.execute_command("HSETEX", "h", "FNX", "FIELDS", 2, "a", "x", "b", "y") == 0
    assert client.hgetall("h") == {b"a": b"1"}
    assert client.execute_command("HSETEX", "h", "FNX", "FIELDS", 1, "b", "y") == 1
    assert client.hgetall("h") == {b"a": b"1", b"b": b"y"}


def test_hsetex_fxx(client: redis.Redis) -> None:
    # FXX on a missing key replies 0 and creates nothing.
    assert client.execute_command("HSETEX", "nokey", "FXX", "FIELDS", 1, "a", "1") == 0
    assert client.exists("nokey") == 0
    client.hset("h", "a", "1")
    assert client.execute_command("HSETEX", "h", "FXX", "FIELDS", 2, "a", "x", "b", "y") == 0
    assert client.hgetall("h") == {b"a": b"1"}
    assert client.execute_command("HSETEX", "h", "FXX", "PXAT", FAR_MS, "FIELDS", 1,
                                  "a", "x") == 1
    assert client.hget("h", "a") == b"x"
    assert pexpiretime(client, "h", "a") == [FAR_MS]


def test_hsetex_options_in_any_order(client: redis.Redis) -> None:
    # hsetexParseArgs scans options until FIELDS in whatever order they come.
    assert client.execute_command("HSETEX", "h", "PXAT", FAR_MS, "FNX", "FIELDS", 1,
                                  "a", "1") == 1
    assert pexpiretime(client, "h", "a") == [FAR_MS]


def test_hsetex_past_time_sets_then_deletes(client: redis.Redis) -> None:
    # The reply is still 1; the fields are deleted at once and the emptied key with them.
    assert client.execute_command("HSETEX", "h", "PXAT", PAST_MS, "FIELDS", 1, "a", "1") == 1
    assert client.exists("h") == 0
    client.hset("h", "keep", "1")
    assert client.execute_command("HSETEX", "h", "EX", 0, "FIELDS", 1, "a", "1") == 1
    assert client.hgetall("h") == {b"keep": b"1"}


@pytest.mark.parametrize("args, message", [
    # hsetexParseArgs, left to right.
    (("FNX", "FXX", "FIELDS", 1, "a", "1"), "Only one of FXX or FNX arguments can be specified"),
    (("FXX", "FXX", "FIELDS", 1, "a", "1"), "Only one of FXX or FNX arguments can be specified"),
    (("EX", 10, "KEEPTTL", "FIELDS", 1, "a", "1"),
     "Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified"),
    (("KEEPTTL", "PX", 10, "FIELDS", 1, "a", "1"),
     "Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified"),
    (("EX", 10, "EX", 10, "FIELDS", 1, "a", "1"),
     "Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified"),
    (("PERSIST", "FIELDS", 1, "a", "1"), "unknown argument: PERSIST"),
    (("EX", -1, "FIELDS", 1, "a", "1"), "invalid expire time, must be >= 0"),
    (("EXAT", MAX_S + 1, "FIELDS", 1, "a", "1"), "invalid expire time in 'hsetex' command"),
    (("FIELDS", 0, "a", "1"), "invalid number of fields"),
    (("FIELDS", "x", "a", "1"), "invalid number of fields"),
    (("FIELDS", 2, "a", "1"), "wrong number of arguments for 'hsetex' command"),
    (("FIELDS", 1, "a", "1", "b"), "wrong number of arguments for 'hsetex' command"),
    (("FIELDS", 1, "a"), "wrong number of arguments for 'hsetex' command"),
])
def test_hsetex_errors(client: redis.Redis, args, message) -> None:
    assert error(client, "HSETEX", "h", *args) == message
    assert client.exists("h") == 0


# --- other commands and field TTLs ----------------------------------------------------

def _timed(client: redis.Redis, *fields: str) -> None:
    client.hset("h", mapping={f: "1" for f in fields})
    client.execute_command("HPEXPIREAT", "h", FAR_MS, "FIELDS", len(fields), *fields)


def test_overwrites_clear_ttl(client: redis.Redis) -> None:
    # Doc (hexpire): TTLs are cleared by commands that overwrite the field (HSET, HMSET).
    _timed(client, "a", "b")
    client.hset("h", "a", "2")
    client.execute_command("HMSET", "h", "b", "2")
    assert pexpiretime(client, "h", "a", "b") == [-1, -1]


def test_in_place_updates_keep_ttl(client: redis.Redis) -> None:
    # hincrbyCommand / hincrbyfloatCommand pass HASH_SET_KEEP_TTL; HSETNX on a live field
    # changes nothing.
    _timed(client, "a", "b", "c")
    assert client.hincrby("h", "a", 5) == 6
    assert float(client.hincrbyfloat("h", "b", 0.5)) == 1.5
    assert client.hsetnx("h", "c", "9") == 0
    assert pexpiretime(client, "h", "a", "b", "c") == [FAR_MS] * 3


def test_hdel_removes_ttl(client: redis.Redis) -> None:
    _timed(client, "a")
    client.hdel("h", "a")
    client.hset("h", "a", "again")
    assert pexpiretime(client, "h", "a") == [-1]


def test_rename_keeps_field_ttls(client: redis.Redis) -> None:
    # db.c renameGenericCommand moves the hash with its field expiry intact.
    _timed(client, "a")
    client.hset("h", "b", "2")
    client.rename("h", "h2")
    assert pexpiretime(client, "h2", "a", "b") == [FAR_MS, -1]


def test_subexpiry_in_keyspace_info(client: redis.Redis) -> None:
    # server.c genRedisInfoString: db0:keys=..,expires=..,avg_ttl=..,subexpiry=..
    _timed(client, "a")
    client.hset("plain", "a", "1")
    assert client.info("keyspace")["db0"]["subexpiry"] == 1


def test_expired_subkeys_counts_past_time_deletions(client: redis.Redis) -> None:
    # hashTypeSetExpiryHT: a past time counts in stat_expired_subkeys; the key removed
    # with its last field is not an expired key.
    before_sub, before_keys = stat(client, "expired_subkeys"), stat(client, "expired_keys")
    client.hset("h", mapping={"a": "1", "b": "2"})
    client.execute_command("HPEXPIREAT", "h", PAST_MS, "FIELDS", 2, "a", "b")
    assert client.exists("h") == 0
    assert stat(client, "expired_subkeys") == before_sub + 2
    assert stat(client, "expired_keys") == before_keys


# --- real expiry -----------------------------------------------------------------------

def _expire_soon(client: redis.Redis) -> None:
    """`h` holds `gone` (expiring in 50 ms) and `keep`; returns once `gone` has expired."""
    client.hset("h", mapping={"gone": "xx", "keep": "stay"})
    assert client.execute_command("HPEXPIRE", "h", 50, "FIELDS", 1, "gone") == [1]
    # HPTTL reports -2 once the deadline passed, without reclaiming the field.
    assert poll_until(lambda: client.execute_command("HPTTL", "h", "FIELDS", 1, "gone") == [-2])


def test_expired_field_is_invisible_to_readers(client: redis.Redis) -> None:
    # hashTypeGetValue (lazy expiry), genericHgetallCommand and the HSCAN callback skip
    # expired fields whether or not they were reclaimed yet.
    _expire_soon(client)
    assert client.hgetall("h") == {b"keep": b"stay"}
    assert client.hkeys("h") == [b"keep"]
    assert client.hvals("h") == [b"stay"]
    assert client.hscan("h")[1] == {b"keep": b"stay"}
    assert client.hrandfield("h", 5) == [b"keep"]
    assert client.hget("h", "gone") is None
    assert client.hmget("h", ["gone", "keep"]) == [None, b"stay"]
    assert client.hexists("h", "gone") is False
    assert client.hstrlen("h", "gone") == 0
    assert client.execute_command("HPERSIST", "h", "FIELDS", 1, "gone") == [-2]


def test_expired_field_counts_as_absent_for_writers(client: redis.Redis) -> None:
    # hsetnxCommand and hincrbyCommand treat an expired field as missing; the new field
    # has no TTL.
    _expire_soon(client)
    assert client.hsetnx("h", "gone", "new") == 1
    assert client.hget("h", "gone") == b"new"
    assert pexpiretime(client, "h", "gone") == [-1]


def test_hsetex_fnx_treats_expired_field_as_absent(client: redis.Redis) -> None:
    _expire_soon(client)
    assert client.execute_command("HSETEX", "h", "FNX", "FIELDS", 1, "gone", "back") == 1
    assert client.hget("h", "gone") == b"back"


def test_last_field_expiry_deletes_key(client: redis.Redis) -> None:
    # Active expiry (hashTypeActiveExpire) reclaims untouched fields and deletes the
    # emptied hash; each field counts in expired_subkeys, the key not in expired_keys.
    before_sub, before_keys = stat(client, "expired_subkeys"), stat(client, "expired_keys")
    client.hset("h", "f", "v")
    client.execute_command("HPEXPIRE", "h", 50, "FIELDS", 1, "f")
    assert poll_until(lambda: client.exists("h") == 0)
    assert stat(client, "expired_subkeys") == before_sub + 1
    assert stat(client, "expired_keys") == before_keys


def test_field_expiry_touches_watch(arbiter: ServerProcess, client: redis.Redis) -> None:
    # hashTypeGetValue and hashTypeExpire call signalModifiedKey: a field that expires
    # after WATCH makes EXEC fail.
    with redis.Redis(unix_socket_path=arbiter.socket_path) as other, \
            client.pipeline() as pipe:
        for _ in range(20):
            client.hset("h", mapping={"f": "v", "keep": "1"})
            client.execute_command("HPEXPIRE", "h", 100, "FIELDS", 1, "f")
            pipe.watch("h")
            # The field must still be alive after WATCH for its expiry to count.
            if pipe.execute_command("HPTTL", "h", "FIELDS", 1, "f")[0] > 0:
                break
            pipe.reset()
        else:
            pytest.fail("could not WATCH before the field expired")
        assert poll_until(lambda: other.hexists("h", "f") is False)
        pipe.multi()
        pipe.hset("h", "x", "1")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert client.hget("h", "x") is None
