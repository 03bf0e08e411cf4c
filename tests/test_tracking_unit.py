"""The tracking table in process: which keys a read remembers (from the key specs),
eviction and active expiry invalidating, the table's bound, and the hook that makes
writes free while nobody tracks."""

from __future__ import annotations

from inprocess import Transport

from resp_arbiter import commands  # noqa: F401  (registers the commands)
from resp_arbiter.client import Client
from resp_arbiter.config import Config
from resp_arbiter.registry import lookup
from resp_arbiter.server import Server
from resp_arbiter.tracking import command_keys


def _client(server: Server, *setup: list[bytes]) -> Client:
    client = Client(server)
    client.connection_made(Transport())  # type: ignore[arg-type]
    for argv in setup:
        server.call(client, argv)
    client.out.clear()
    return client


def _pushed(client: Client) -> bytes:
    """What the client was sent (replies and pushes), then forget it."""
    client.send()
    sent = bytes(client.transport.sent)  # type: ignore[union-attr]
    client.transport.sent.clear()  # type: ignore[union-attr]
    return sent


def _invalidation(*keys: bytes) -> bytes:
    return b">2\r\n$10\r\ninvalidate\r\n*%d\r\n" % len(keys) + b"".join(
        b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)


def test_command_keys_follow_the_key_specs() -> None:
    assert command_keys(lookup(b"mget"), [b"MGET", b"a", b"b", b"c"]) == [b"a", b"b", b"c"]
    assert command_keys(lookup(b"hget"), [b"HGET", b"h", b"f"]) == [b"h"]
    assert command_keys(lookup(b"mset"), [b"MSET", b"a", b"1", b"b", b"2"]) == [b"a", b"b"]
    assert command_keys(lookup(b"ping"), [b"PING"]) == []


def test_writes_reach_the_table_only_while_a_client_tracks() -> None:
    server = Server(Config())
    assert all(db.on_change is None for db in server.databases)
    reader = _client(server, [b"HELLO", b"3"], [b"CLIENT", b"TRACKING", b"on"])
    assert all(db.on_change is not None for db in server.databases)
    server.call(reader, [b"GET", b"k"])
    assert list(server.tracking.table) == [b"k"]
    server.call(reader, [b"CLIENT", b"TRACKING", b"off"])
    assert all(db.on_change is None for db in server.databases)
    assert not server.tracking.table  # nobody can be told any more


def test_eviction_and_active_expiry_invalidate() -> None:
    server = Server(Config())
    reader = _client(server, [b"HELLO", b"3"], [b"CLIENT", b"TRACKING", b"on"])
    writer = _client(server)
    server.call(writer, [b"SET", b"e", b"1"])
    server.call(writer, [b"SET", b"x", b"1", b"PX", b"100000"])  # (not due before the MGET)
    server.call(reader, [b"MGET", b"e", b"x"])
    _pushed(reader)
    server.databases[0].evict(b"e")
    assert _pushed(reader) == _invalidation(b"e")
    server.databases.set_clock(lambda: 2**50)  # every deadline has passed
    server.databases.expire_cycle(1.0)
    assert _pushed(reader) == _invalidation(b"x")


def test_the_table_bound_evicts_the_oldest_keys_with_invalidations() -> None:
    config = Config()
    config.set("tracking-table-max-keys", "3")
    server = Server(config)
    reader = _client(server, [b"HELLO", b"3"], [b"CLIENT", b"TRACKING", b"on"])
    server.call(reader, [b"MGET", b"a", b"b", b"c", b"d", b"e"])
    assert list(server.tracking.table) == [b"c", b"d", b"e"]
    # The reply first, then the keys that left the table.
    assert _pushed(reader) == b"*5\r\n" + b"_\r\n" * 5 + _invalidation(b"a") + _invalidation(b"b")
    assert server.tracking.items == 3
