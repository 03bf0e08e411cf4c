"""In-process tests of the numbered databases: COPY's value copy, MOVE, SWAPDB's
exchange of data (WATCHers and counters stay), the shared time and lazy freeing."""

from __future__ import annotations

from resp_arbiter import commands  # noqa: F401  (registers the commands)
from resp_arbiter.client import Client
from resp_arbiter.config import Config
from resp_arbiter.databases import Databases
from resp_arbiter.keyspace import Keyspace
from resp_arbiter.server import Server

NOW = 1_800_000_000_000


class Watcher:
    dirty_cas = False


def _databases(count: int = 4) -> Databases:
    databases = Databases(count)
    databases.set_clock(lambda: NOW)
    return databases


def test_copy_value_is_independent_of_its_source():
    databases = _databases()
    source, target = databases[0], databases[1]
    source.set_fields(b"h", [b"a", b"1", b"b", b"2"])
    table = source.get(b"h")
    source.set_expiry(b"h", table, NOW + 5000)
    source.set_field_expiry(b"h", table, b"a", NOW + 1000)
    table = source.get(b"h")  # unpacked by its first field TTL
    target.adopt(b"copy", target.copy_value(table, source.deadline_of(b"h")))
    copy = target.get(b"copy")
    assert list(copy.items()) == [(b"a", b"1"), (b"b", b"2")]
    assert dict(copy.deadlines()) == {b"a": NOW + 1000}
    assert target.deadline_of(b"copy") == NOW + 5000
    assert target.memory_usage(b"copy", copy) == \
        source.memory_usage(b"h", table) + len(b"copy") - len(b"h")
    assert (target.expires, target.subexpiry) == (1, 1)
    target.set_fields(b"copy", [b"a", b"changed", b"c", b"3"])
    target.delete_fields(b"copy", copy, [b"b"])
    assert list(table.items()) == [(b"a", b"1"), (b"b", b"2")]
    assert dict(table.deadlines()) == {b"a": NOW + 1000}
    # Each database reclaims its own fields and keys when their time comes.
    databases.set_clock(lambda: NOW + 6000)
    databases.expire_cycle(1.0)
    assert len(source) == len(target) == 0
    assert databases.expired_keys == 2


def test_move_carries_the_ttl_and_the_size():
    databases = _databases()
    source, target = databases[0], databases[2]
    source.set_fields(b"h", [b"f", b"v"])
    source.set_expiry(b"h", source.get(b"h"), NOW + 1000)
    size = source.data_bytes
    databases.move(source, target, b"h")
    assert (len(source), source.expires, source.data_bytes) == (0, 0, 0)
    assert (len(target), target.expires, target.data_bytes) == (1, 1, size)
    assert databases.data_bytes == size
    databases.set_clock(lambda: NOW + 2000)
    databases.expire_cycle(1.0)
    assert len(target) == 0 and target.expired_keys == 1


def test_swap_exchanges_data_but_not_watchers_or_counters():
    databases = _databases()
    first, second = databases[1], databases[3]
    first.set_fields(b"a", [b"f", b"1"])
    first.set_expiry(b"a", first.get(b"a"), NOW + 1000)
    second.set_fields(b"b", [b"f", b"2"])
    watching_a, watching_b, watching_none = Watcher(), Watcher(), Watcher()
    first.watch(b"a", watching_a)
    first.watch(b"b", watching_b)  # absent from db 1 now, present after the swap
    second.watch(b"zzz", watching_none)
    dirty = (first.dirty, second.dirty)
    databases.swap(first, second)
    assert (first.id, second.id) == (1, 3)
    assert list(first.tables) == [b"b"] and list(second.tables) == [b"a"]
    assert (first.expires, second.expires) == (0, 1)
    assert (first.dirty, second.dirty) == dirty
    assert set(first.watchers) == {b"a", b"b"} and set(second.watchers) == {b"zzz"}
    assert watching_a.dirty_cas and watching_b.dirty_cas and not watching_none.dirty_cas
    databases.set_clock(lambda: NOW + 2000)
    databases.expire_cycle(1.0)
    assert len(second) == 0 and len(first) == 1


def test_swap_data_moves_every_slot_but_the_places_own():
    """A slot added to Keyspace later is data (it moves) unless listed as staying."""
    one, two = Keyspace(), Keyspace()
    one.set_fields(b"k", [b"f", b"v"])
    one.swap_data(two)
    assert len(one) == 0 and two.get(b"k") is not None
    assert one.dirty == 1 and two.dirty == 0


def test_every_database_shares_the_lazy_free_queue_and_the_transaction_time():
    databases = _databases()
    assert all(db.lazy is databases.lazy for db in databases)
    big = [x for i in range(200) for x in (b"f%d" % i, b"v")]
    databases[2].set_fields(b"big", big)
    databases[2].flush()
    assert databases.lazy.pending_objects == 1
    databases.freeze(NOW + 5)
    assert {db.now() for db in databases} == {NOW + 5} and databases.frozen
    databases.thaw()
    assert not any(db.frozen or db.snapshot for db in databases)


def test_select_switches_the_client_and_reset_returns_to_db_0():
    config = Config()
    config.set("databases", "3")
    server = Server(config)
    client = Client(server)

    def call(*argv: bytes) -> bytes:
        client.out.clear()
        server.call(client, list(argv))
        return bytes(client.out)

    assert call(b"SELECT", b"2") == b"+OK\r\n" and client.db is server.databases[2]
    assert call(b"SELECT", b"3") == b"-ERR DB index is out of range\r\n"
    assert call(b"HSET", b"h", b"f", b"v") == b":1\r\n"
    assert b" db=2 " in call(b"CLIENT", b"INFO")
    assert call(b"RESET") == b"+RESET\r\n" and client.db is server.databases[0]
    assert call(b"EXISTS", b"h") == b":0\r\n"
    assert call(b"INFO", b"keyspace").endswith(
        b"db2:keys=1,expires=0,avg_ttl=0,subexpiry=0\r\n\r\n")


def test_active_expiry_takes_turns_when_out_of_time():
    """A cycle that runs out of time leaves the next database to start the next cycle,
    so a busy db 0 cannot keep db 9's keys from ever being reclaimed."""
    databases = _databases(20)
    for index in (0, 9, 19):
        db = databases[index]
        db.set_fields(b"k", [b"f", b"v"])
        db.set_expiry(b"k", db.get(b"k"), NOW + 10)
    databases.set_clock(lambda: NOW + 20)
    databases.expire_cycle(0.0)  # no time at all: nothing done, db 0 goes first next
    assert databases.expired_keys == 0
    databases.expire_cycle(1.0)  # dbs 0 to 15
    assert [len(databases[i]) for i in (0, 9, 19)] == [0, 0, 1]
    databases.expire_cycle(1.0)  # dbs 16 to 19, then 0 to 11
    assert databases.expired_keys == 3
