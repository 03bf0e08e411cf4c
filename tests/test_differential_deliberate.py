"""Where the arbiter differs from redis-server 7.0 on purpose, each difference pinned:
the arbiter's behaviour is asserted, and so is Redis 7.0's, so that a change on either
side is noticed and reviewed rather than silently compared away."""

from __future__ import annotations

import socket

import pytest
from differential.harness import encode
from differential.session import session
from servers import ServerProcess

from resp_arbiter import REDIS_VERSION, errors
from resp_arbiter.commands import hashes

pytestmark = pytest.mark.differential
PROTOCOLS = [pytest.param(2, id="resp2"), pytest.param(3, id="resp3")]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_client_setinfo_and_no_touch_answer_ok(protocol: int, arbiter: ServerProcess,
                                               redis_server: ServerProcess) -> None:
    # Difference: the arbiter claims a redis_version of 7.2 or later, where CLIENT
    # SETINFO (sent by redis-py on connect) and CLIENT NO-TOUCH exist; 7.0 has neither.
    commands = [("CLIENT", "SETINFO", "LIB-NAME", "redis-py"),
                ("CLIENT", "SETINFO", "lib-ver", "8.1.0"), ("CLIENT", "NO-TOUCH", "on")]
    with session(arbiter.socket_path, protocol) as a:
        assert [r.raw for r in a.calls(commands)] == [b"+OK\r\n"] * 3
        assert a.call("CLIENT", "SETINFO", "LIB-NAME", "a b").raw == (
            b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n")
        assert a.call("CLIENT", "SETINFO", "nosuch", "x").raw == (
            b"-ERR Unrecognized option 'nosuch'\r\n")
        assert "lib-name=redis-py lib-ver=8.1.0" in a.call("CLIENT", "INFO").text()
    with session(redis_server.socket_path, protocol) as r:
        assert [r.raw for r in r.calls(commands)] == [
            b"-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n",
            b"-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n",
            b"-ERR unknown subcommand 'NO-TOUCH'. Try CLIENT HELP.\r\n"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_hello_version_is_the_claimed_release(protocol: int, arbiter: ServerProcess,
                                              redis_server: ServerProcess) -> None:
    # Difference: HELLO's `version` (and INFO's redis_version) give the release whose
    # hash commands the arbiter implements, not 7.0.
    with session(arbiter.socket_path) as a, session(redis_server.socket_path) as r:
        mine, theirs = a.call("HELLO", str(protocol)), r.call("HELLO", str(protocol))
    assert mine.children[2].value == b"version" and mine.children[3].value == REDIS_VERSION.encode()
    assert theirs.children[3].value.startswith(b"7.0.")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_stash_commands_exist_only_in_the_arbiter(protocol: int, arbiter: ServerProcess,
                                                  redis_server: ServerProcess) -> None:
    # Difference: STASH.ENSURE / STASH.CLEAR keep an empty table alive (Redis drops
    # empty hashes and has no such commands).
    with session(arbiter.socket_path, protocol) as a:
        assert [r.raw for r in a.calls([
            ("STASH.ENSURE", "t"), ("STASH.ENSURE", "t"), ("EXISTS", "t"), ("HLEN", "t"),
            ("HSET", "t", "f", "v"), ("STASH.CLEAR", "t"), ("TYPE", "t"),
            ("STASH.CLEAR", "missing"), ("EXISTS", "missing"), ("DEL", "t"),
            ("STASH.ENSURE",)])] == [
            b":1\r\n", b":0\r\n", b":1\r\n", b":0\r\n", b":1\r\n", b":1\r\n", b"+hash\r\n",
            b":0\r\n", b":0\r\n", b":1\r\n",
            b"-ERR wrong number of arguments for 'stash.ensure' command\r\n"]
    with session(redis_server.socket_path, protocol) as r:
        assert r.call("STASH.ENSURE", "t").raw == (
            b"-ERR unknown command 'STASH.ENSURE', with args beginning with: 't' \r\n")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_command_docs_summaries_follow_newer_releases(
        protocol: int, arbiter: ServerProcess, redis_server: ServerProcess) -> None:
    # Difference: COMMAND DOCS summaries are those of the release the arbiter claims
    # (Redis rewrote them after 7.0); the keys, history and complexity are 7.0's.
    with session(arbiter.socket_path, protocol) as a, \
            session(redis_server.socket_path, protocol) as r:
        mine, theirs = a.call("COMMAND", "DOCS", "hget"), r.call("COMMAND", "DOCS", "hget")
    def fields(reply) -> dict[bytes, bytes | None]:
        children = reply.children[1].children
        return {k.value: v.value if isinstance(v.value, bytes) else None
                for k, v in zip(children[::2], children[1::2], strict=True)}
    assert list(fields(mine)) == list(fields(theirs))
    for name in (b"since", b"group", b"complexity"):
        assert fields(mine)[name] == fields(theirs)[name]
    assert fields(theirs)[b"summary"] == b"Get the value of a hash field"
    assert fields(mine)[b"summary"] == b"Returns the value of a field in a hash."


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_memory_usage_is_an_estimate_of_its_own(protocol: int, arbiter: ServerProcess,
                                                redis_server: ServerProcess) -> None:
    # Difference: MEMORY USAGE estimates Python's memory, so the numbers differ from
    # Redis' allocator sizes; it still grows with the data.
    with session(arbiter.socket_path, protocol) as a:
        a.call("HSET", "k", "f", "v")
        small = a.call("MEMORY", "USAGE", "k")
        a.call("HSET", "k", "g", "x" * 10_000)
        large = a.call("MEMORY", "USAGE", "k")
    assert small.kind == large.kind == ":" and 0 < int(small.value) < int(large.value)
    assert int(large.value) > 10_000


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_hscan_novalues(protocol: int, arbiter: ServerProcess,
                        redis_server: ServerProcess) -> None:
    # Difference: HSCAN ... NOVALUES is Redis 7.4+ (documented: "NOVALUES: return only
    # the fields"); 7.0 refuses it as a syntax error. redis-py 5+ may send it.
    with session(arbiter.socket_path, protocol) as a:
        a.call("HSET", "h", "a", "1", "b", "2")
        assert a.call("HSCAN", "h", "0", "NOVALUES").raw == (
            b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n")
        assert a.call("HSCAN", "h", "0", "MATCH", "b", "NOVALUES", "COUNT", "5").raw == (
            b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\nb\r\n")
    with session(redis_server.socket_path, protocol) as r:
        r.call("HSET", "h", "a", "1")
        assert r.call("HSCAN", "h", "0", "NOVALUES").raw == b"-ERR syntax error\r\n"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_info_keyspace_counts_field_expiry(protocol: int, arbiter: ServerProcess,
                                           redis_server: ServerProcess) -> None:
    # Difference: with hash field expiry (7.4) INFO keyspace adds `subexpiry=`.
    with session(arbiter.socket_path, protocol) as a:
        a.call("HSET", "k", "f", "v")
        assert "db0:keys=1,expires=0,avg_ttl=0,subexpiry=0\r\n" in a.call(
            "INFO", "keyspace").text()
    with session(redis_server.socket_path, protocol) as r:
        r.call("HSET", "k", "f", "v")
        assert "db0:keys=1,expires=0,avg_ttl=0\r\n" in r.call("INFO", "keyspace").text()


def _raw_reply(path: str, request: bytes, size: int) -> bytes:
    """The first `size` bytes a server answers to `request` (no parsing: replies of a
    million elements are read as bytes)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(path)
        sock.sendall(request)
        data = bytearray()
        while len(data) < size:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        return bytes(data)


def test_hrandfield_negative_count_reply_is_bounded(arbiter: ServerProcess,
                                                   redis_server: ServerProcess) -> None:
    # Difference: a negative count asks for that many picks with repeats, so a short
    # request could ask for gigabytes; Redis builds whatever is asked, the arbiter
    # refuses past HRANDFIELD_MAX_REPEATED fields or HRANDFIELD_MAX_BYTES of reply.
    refusal = errors.HRANDFIELD_REPLY_LIMIT.format(
        hashes.HRANDFIELD_MAX_REPEATED, hashes.HRANDFIELD_MAX_BYTES).encode()
    too_many = str(-hashes.HRANDFIELD_MAX_REPEATED - 1)
    most = str(-hashes.HRANDFIELD_MAX_REPEATED)
    value = "v" * (1 << 20)
    too_large = str(-(hashes.HRANDFIELD_MAX_BYTES >> 20) - 1)
    with session(arbiter.socket_path) as a:
        assert a.call("HSET", "h", "f", "v").raw == b":1\r\n"
        assert a.call("HSET", "big", "f", value).raw == b":1\r\n"
        assert a.call("HRANDFIELD", "h", too_many).raw == b"-%s\r\n" % refusal
        assert a.call("HRANDFIELD", "h", too_many, "WITHVALUES").raw == b"-%s\r\n" % refusal
        assert a.call("HRANDFIELD", "big", too_large, "WITHVALUES").raw == b"-%s\r\n" % refusal
        assert a.call("HRANDFIELD", "big", "-3", "WITHVALUES").raw == (
            b"*6\r\n" + b"$1\r\nf\r\n$1048576\r\n%s\r\n" % value.encode() * 3)
        assert a.call("PING").raw == b"+PONG\r\n"
    request = encode(["HRANDFIELD", "h", most])
    expected = b"*%d\r\n" % hashes.HRANDFIELD_MAX_REPEATED + b"$1\r\nf\r\n" * (
        hashes.HRANDFIELD_MAX_REPEATED)
    assert _raw_reply(arbiter.socket_path, request, len(expected)) == expected
    with session(redis_server.socket_path) as r:
        assert r.call("HSET", "h", "f", "v").raw == b":1\r\n"
    request = encode(["HRANDFIELD", "h", too_many])
    expected = b"*%d\r\n" % (hashes.HRANDFIELD_MAX_REPEATED + 1) + b"$1\r\nf\r\n" * (
        hashes.HRANDFIELD_MAX_REPEATED + 1)
    assert _raw_reply(redis_server.socket_path, request, len(expected)) == expected
