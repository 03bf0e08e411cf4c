"""Replies whose content varies by nature (INFO, CLIENT LIST/INFO, TIME, client ids)
compared with redis-server 7.0 by shape: reply type, line endings, field names and the
fields that do not vary."""

from __future__ import annotations

import pytest
from differential.harness import counted
from differential.session import session
from servers import ServerProcess

pytest_plugins = ["differential.plugin"]
pytestmark = pytest.mark.differential
PROTOCOLS = [pytest.param(2, id="resp2"), pytest.param(3, id="resp3")]

# What redis-cli --stat and client libraries read from INFO.
STAT_FIELDS = ["redis_version", "arch_bits", "cluster_enabled", "connected_clients",
               "blocked_clients", "used_memory", "total_commands_processed",
               "total_connections_received", "loading", "role", "uptime_in_seconds"]


def _info_fields(text: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def _sections(text: str) -> list[str]:
    return [line for line in text.split("\r\n") if line.startswith("# ")]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("argv", [("INFO",), ("INFO", "all"), ("INFO", "server"),
                                  ("INFO", "clients", "stats"), ("INFO", "default")])
def test_info_shape(argv: tuple[str, ...], protocol: int, arbiter: ServerProcess,
                    redis_server: ServerProcess) -> None:
    with counted():
        with session(redis_server.socket_path, protocol) as r, \
                session(arbiter.socket_path, protocol) as a:
            r.call("HSET", "k", "f", "v")
            a.call("HSET", "k", "f", "v")
            expected, actual = r.call(*argv), a.call(*argv)
        agreed = expected.kind == actual.kind
        text = actual.text()
        assert agreed, (expected.raw[:40], actual.raw[:40])
        assert "\n" not in text.replace("\r\n", ""), "every INFO line must end in CRLF"
        assert text.endswith("\r\n")
        redis_sections = _sections(expected.text())
        assert set(_sections(text)) <= set(redis_sections)
        fields = _info_fields(text)
        for name in STAT_FIELDS:
            if name in _info_fields(expected.text()):
                assert name in fields, name
        if "# Keyspace" in redis_sections:
            assert fields["db0"].startswith("keys=1,expires=0,avg_ttl=0")


def _client_line_fields(line: str) -> list[tuple[str, str]]:
    return [tuple(item.split("=", 1)) for item in line.split(" ")]  # type: ignore[misc]


# Fields whose values must agree on a fresh, named connection; the rest vary.
STABLE_FIELDS = {"name", "db", "sub", "psub", "multi", "user", "resp", "redir", "flags"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("argv", [("CLIENT", "INFO"), ("CLIENT", "LIST"),
                                  ("CLIENT", "LIST", "TYPE", "normal")])
def test_client_line_shape(argv: tuple[str, ...], protocol: int, arbiter: ServerProcess,
                           redis_server: ServerProcess) -> None:
    with counted():
        with session(redis_server.socket_path, protocol) as r, \
                session(arbiter.socket_path, protocol) as a:
            r.call("CLIENT", "SETNAME", "probe")
            a.call("CLIENT", "SETNAME", "probe")
            expected, actual = r.call(*argv), a.call(*argv)
            own_id = a.call("CLIENT", "ID").value
        assert expected.kind == actual.kind
        assert actual.text().endswith("\n") and "\r" not in actual.text()
        mine = [line for line in actual.text().splitlines() if f"id={own_id.decode()} " in line]
        theirs = [line for line in expected.text().splitlines() if " name=probe " in line]
        assert len(mine) == len(theirs) == 1
        got = dict(_client_line_fields(mine[0]))
        want = _client_line_fields(theirs[0])
        # Every Redis 7.0 field is present, in Redis' order (the arbiter adds 7.2's
        # lib-name and lib-ver at the end, see test_differential_deliberate.py).
        assert [k for k in got if k in dict(want)] == [k for k, _ in want]
        for key, value in want:
            if key in STABLE_FIELDS:
                assert got[key] == value, key
        assert got["cmd"] == dict(want)["cmd"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_client_ids_are_increasing_integers(protocol: int, arbiter: ServerProcess,
                                            redis_server: ServerProcess) -> None:
    with counted():
        for server in (redis_server, arbiter):
            with session(server.socket_path, protocol) as first, \
                    session(server.socket_path, protocol) as second:
                one, two = first.call("CLIENT", "ID"), second.call("CLIENT", "ID")
                assert one.kind == two.kind == ":"
                assert int(two.value) > int(one.value)
                hello = first.call("HELLO", str(protocol))
                assert hello.children[7].value == one.value  # HELLO's id is CLIENT ID


def _iterate(s, *argv: str) -> tuple[list[str], list[bytes]]:
    """A full SCAN/HSCAN iteration: the kinds of every reply part, and all elements."""
    cursor, kinds, elements = "0", [], []
    head = 2 if argv[0] == "HSCAN" else 1  # the cursor follows the key for HSCAN
    for _ in range(10_000):
        reply = s.call(*argv[:head], cursor, *argv[head:])
        kinds.append("".join(c.kind for c in reply.children))
        cursor = reply.children[0].value.decode()
        elements += [c.value for c in reply.children[1].children]
        if cursor == "0":
            return sorted(set(kinds)), elements
    raise AssertionError("iteration did not end")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("argv", [("SCAN", "COUNT", "7"), ("SCAN", "MATCH", "k1*"),
                                  ("SCAN", "TYPE", "hash", "COUNT", "50"),
                                  ("HSCAN", "big", "COUNT", "9"),
                                  ("HSCAN", "big", "MATCH", "f1?")])
def test_full_iterations_agree_as_sets(argv: tuple[str, ...], protocol: int,
                                       arbiter: ServerProcess,
                                       redis_server: ServerProcess) -> None:
    """Cursors follow each server's table layout; a full iteration returns the same set
    (HSCAN of a hash past the listpack limits: field/value pairs)."""
    with counted():
        results = []
        for server in (redis_server, arbiter):
            with session(server.socket_path, protocol) as s:
                for i in range(300):
                    s.call("HSET", f"k{i}", "f", "v")
                s.call("HSET", "big", *[x for i in range(600) for x in (f"f{i}", f"v{i}")])
                kinds, elements = _iterate(s, *argv)
                if argv[0] == "HSCAN":
                    pairs = list(zip(elements[::2], elements[1::2], strict=True))
                    assert all(value == b"v" + name[1:] for name, value in pairs)
                    results.append((kinds, sorted(set(pairs)), len(pairs) == len(set(pairs))))
                else:
                    results.append((kinds, sorted(set(elements)), True))
        assert results[0] == results[1]
        assert results[0][1], "the iteration found nothing"
