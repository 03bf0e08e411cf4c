"""CLIENT LIST/INFO fields from the connections' real state, CLIENT KILL's filters and
CLIENT PAUSE/UNPAUSE (held commands wait and are served in order, never dropped), each
against real processes; the fields Redis shares are compared with redis-server 7.0."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from differential.harness import RawConnection, encode
from differential.session import Session, session
from servers import ServerProcess, poll_until, start_arbiter

PAUSE = 60_000  # ms: every test ends its pause itself; this only bounds a failed one


@pytest.fixture(scope="module")
def own_arbiter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """An arbiter of this module's own: these tests kill and pause its clients."""
    directory = Path(tmp_path_factory.mktemp("ops", numbered=True))
    with start_arbiter(directory, name="ops") as server:
        yield server


@pytest.fixture(autouse=True)
def _no_pause_left(own_arbiter: ServerProcess) -> Iterator[None]:
    """Whatever a test does, it leaves no pause behind (a monitor is never held)."""
    yield
    with session(own_arbiter.socket_path) as monitor:
        monitor.call("MONITOR")
        assert monitor.call("CLIENT", "UNPAUSE").raw == b"+OK\r\n"


def _fields(line: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in line.split(" "))


def _clients(s: Session) -> dict[int, dict[str, str]]:
    """CLIENT LIST by client id. A monitor's replies may come after feed lines."""
    s.conn.send(encode(["CLIENT", "LIST"]))
    while True:
        reply = s.conn.read(1)[0]
        if reply.kind in "$=":
            break
    return {int(_fields(line)["id"]): _fields(line) for line in reply.text().splitlines()}


def _id(s: Session) -> int:
    return int(s.call("CLIENT", "ID").value)


def _held(observer: Session, client_id: int) -> bool:
    return "b" in _clients(observer).get(client_id, {}).get("flags", "")


# -- CLIENT LIST fields -------------------------------------------------------------------

def test_client_list_fields_follow_the_connection(own_arbiter: ServerProcess) -> None:
    path = own_arbiter.socket_path
    with session(path) as observer, session(path, 3) as subject:
        me = _id(subject)
        subject.call("CLIENT", "SETINFO", "LIB-NAME", "probe-lib")
        subject.call("HSET", "k", "f", "v")
        row = _clients(observer)[me]
        assert row["cmd"] == "hset" and row["resp"] == "3" and row["lib-name"] == "probe-lib"
        assert row["flags"] == "U" and row["multi"] == "-1" and row["events"] == "r"
        assert row["addr"] == row["laddr"] == f"{path}:0"
        fd = int(row["fd"])  # the transport's socket, a real descriptor of the arbiter
        assert os.readlink(f"/proc/{own_arbiter.pid}/fd/{fd}").startswith("socket:")
        assert fd != int(_clients(observer)[_id(observer)]["fd"])
        subject.calls([("MULTI",), ("HSET", "k", "g", "w"), ("HGET", "k", "g")])
        subject.call("CLIENT", "NO-EVICT", "on")  # queued too
        row = _clients(observer)[me]
        assert row["flags"] == "xU" and row["multi"] == "3" and row["cmd"] == "client|no-evict"
        # Queued arguments, counted as Redis does (bytes plus a pointer per argument).
        assert int(row["multi-mem"]) == (4 + 1 + 1 + 1 + 8 * 4) + (4 + 1 + 1 + 8 * 3) + (
            6 + 8 + 2 + 8 * 3)
        subject.call("EXEC")
        row = _clients(observer)[me]
        assert row["flags"] == "Ue" and row["multi"] == "-1" and row["cmd"] == "exec"
        info = _fields(subject.call("CLIENT", "INFO").text().strip())
        assert info["id"] == str(me) and info["cmd"] == "client|info"
        assert info["argv-mem"] == str(len("CLIENT") + len("INFO"))


def test_client_list_shows_held_input_and_pending_output(own_arbiter: ServerProcess) -> None:
    path = own_arbiter.socket_path
    with session(path) as observer:
        value = b"x" * 1000
        observer.call("HSET", "big", *[part for i in range(1000)
                                       for part in (b"f%d" % i, value)])
        partial = RawConnection(path)
        partial.send(b"*3\r\n$4\r\nHSET\r\n$1\r\nk\r\n$10\r\nabc")  # half a request
        reader = RawConnection(path)
        reader.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # ~8 MB of replies, none read: flow control keeps about one (1 MB) waiting.
        reader.send(encode(["HGETALL", "big"]) * 8)
        try:
            def held_and_pending() -> bool:
                rows = list(_clients(observer).values())
                return any(r["qbuf"] == "3" and r["argv-mem"] == "5" for r in rows) and any(
                    int(r["omem"]) > 100_000 and "w" in r["events"] for r in rows)
            assert poll_until(held_and_pending, 10)
            for row in _clients(observer).values():
                assert int(row["tot-mem"]) >= int(row["omem"]) + int(row["qbuf"])
        finally:
            partial.close()
            reader.close()


def test_client_fields_shared_with_redis(arbiter: ServerProcess,
                                         redis_server: ServerProcess) -> None:
    """flags, multi and cmd after the same commands, as redis-server 7.0 reports them."""
    steps = [[("PING",)], [("NOSUCH",)], [("CLIENT", "NOSUCH")], [("HSET", "k")],
             [("MULTI",), ("HSET", "k", "f", "v")], [("HGET", "k", "f")],
             [("EXEC",), ("WATCH", "k")], [("HSET", "k", "f", "w"), ("MULTI",)],
             [("DISCARD",), ("CLIENT", "NO-EVICT", "on")], [("MONITOR",)]]
    seen = {}
    for server in (redis_server, arbiter):
        rows = []
        with session(server.socket_path) as observer, \
                session(server.socket_path) as subject:
            me = _id(subject)
            for batch in steps:
                for argv in batch:
                    subject.call(*argv)
                row = _clients(observer)[me]
                rows.append({key: row[key] for key in ("flags", "multi", "cmd", "db",
                                                       "sub", "psub", "user", "redir")})
        seen[server.socket_path] = rows
    assert seen[arbiter.socket_path] == seen[redis_server.socket_path]
    assert [row["flags"] for row in seen[arbiter.socket_path]][-4:] == [
        "U", "xdU", "Ue", "OUe"]


# -- CLIENT KILL ----------------------------------------------------------------------------

def _closed(conn: RawConnection) -> bool:
    """Whether the server closed `conn` (a PING gets no reply)."""
    conn.send(encode(["PING"]))
    return not conn.read(1)


def test_client_kill_by_id_addr_laddr_type_user(own_arbiter: ServerProcess) -> None:
    path = own_arbiter.socket_path
    with session(path) as killer:
        victim = Session(path)
        victim_id = _id(victim)
        assert killer.call("CLIENT", "KILL", "ID", str(victim_id)).raw == b":1\r\n"
        assert _closed(victim.conn)
        assert victim_id not in _clients(killer)
        assert killer.call("CLIENT", "KILL", "ID", str(_id(killer))).raw == b":0\r\n"
        for option in (("ADDR", f"{path}:0"), ("LADDR", f"{path}:0"), ("TYPE", "normal"),
                       ("USER", "default"), ("TYPE", "replica")):
            others = [Session(path) for _ in range(3)]
            for other in others:
                other.call("PING")  # connected for the server too
            killed = 0 if option[1] == "replica" else 3
            assert killer.call("CLIENT", "KILL", *option).raw == b":%d\r\n" % killed
            assert [_closed(other.conn) for other in others] == [bool(killed)] * 3
            for other in others:
                other.conn.close()
        assert killer.call("PING").raw == b"+PONG\r\n"  # SKIPME yes spared the killer


def test_client_kill_old_form_and_skipme_no_close_the_caller(
        own_arbiter: ServerProcess) -> None:
    path = own_arbiter.socket_path
    caller, other = Session(path), Session(path)
    other.call("PING")
    # The old form matches every Unix socket client here (they share one address) and
    # spares nobody: OK, then the caller's own connection closes too.
    assert caller.call("CLIENT", "KILL", f"{path}:0").raw == b"+OK\r\n"
    assert _closed(caller.conn) and _closed(other.conn)
    caller = Session(path)
    assert caller.call("CLIENT", "KILL", "ID", str(_id(caller)), "SKIPME", "no").raw == (
        b":1\r\n")
    assert _closed(caller.conn)
    with session(path) as s:
        assert s.call("CLIENT", "KILL", "nosuch:1").raw == b"-ERR No such client\r\n"


def test_client_kill_maxage(own_arbiter: ServerProcess) -> None:
    path = own_arbiter.socket_path
    with session(path) as killer:
        old = Session(path)
        old_id = _id(old)
        assert poll_until(lambda: int(_clients(killer)[old_id]["age"]) >= 2, 10)
        young = Session(path)
        assert killer.call("CLIENT", "KILL", "MAXAGE", "2").raw == b":1\r\n"
        assert _closed(old.conn) and not _closed(young.conn)
        assert killer.call("CLIENT", "KILL", "MAXAGE", "0").raw == (
            b"-ERR maxage should be greater than 0\r\n")
        assert killer.call("CLIENT", "KILL", "MAXAGE", "x").raw == (
            b"-ERR maxage is not an integer or out of range\r\n")
        young.conn.close()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return False
    return True


def test_client_kill_over_tcp_by_peer_address(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with start_arbiter(tmp_path, "--port", str(port), name="tcp") as server:
        # Ready on its Unix socket; the TCP listener is bound a moment after.
        assert poll_until(lambda: _accepts(port), 10)
        victim = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            victim.sendall(encode(["PING"]))
            assert victim.recv(10) == b"+PONG\r\n"
            victim_addr = "%s:%d" % victim.getsockname()
            with session(server.socket_path) as killer:
                rows = _clients(killer).values()
                assert [r["laddr"] for r in rows if r["addr"] == victim_addr] == [
                    f"127.0.0.1:{port}"]
                assert killer.call("CLIENT", "KILL", victim_addr).raw == b"+OK\r\n"
                assert killer.call("CLIENT", "KILL", victim_addr).raw == (
                    b"-ERR No such client\r\n")
            assert victim.recv(10) == b""
        finally:
            victim.close()


# -- CLIENT PAUSE -------------------------------------------------------------------------

def test_pause_all_holds_everyone_and_serves_in_arrival_order(
        own_arbiter: ServerProcess) -> None:
    path = own_arbiter.socket_path
    with session(path) as monitor, session(path) as pauser, session(path) as first, \
            session(path) as second:
        first_id, second_id, pauser_id = _id(first), _id(second), _id(pauser)
        assert monitor.call("MONITOR").raw == b"+OK\r\n"  # monitors are never held
        assert pauser.call("CLIENT", "PAUSE", str(PAUSE), "ALL").raw == b"+OK\r\n"
        first.conn.send(encode(["HSET", "pa", "f", "first"]) + encode(["HGET", "pa", "f"])
                        + encode(["PING"]))
        assert poll_until(lambda: _held(monitor, first_id), 10)
        second.conn.send(encode(["HSET", "pa", "f", "second"]) + encode(["HGET", "pa", "f"]))
        assert poll_until(lambda: _held(monitor, second_id), 10)
        pauser.conn.send(encode(["PING"]))  # the pauser is held as well
        assert poll_until(lambda: _held(monitor, pauser_id), 10)
        monitor.conn.send(encode(["CLIENT", "UNPAUSE"]))
        assert [r.raw for r in first.conn.read(3)] == [b":1\r\n", b"$5\r\nfirst\r\n",
                                                       b"+PONG\r\n"]
        assert [r.raw for r in second.conn.read(2)] == [b":0\r\n", b"$6\r\nsecond\r\n"]
        assert pauser.conn.read(1)[0].raw == b"+PONG\r\n"
        fed: list[bytes] = []
        while len(fed) < 6:
            line = monitor.conn.read(1)[0].raw
            if line.startswith(b"+1"):
                fed.append(line.split(b"] ", 1)[1])
        assert fed == [b'"HSET" "pa" "f" "first"\r\n', b'"HGET" "pa" "f"\r\n',
                       b'"PING"\r\n', b'"HSET" "pa" "f" "second"\r\n',
                       b'"HGET" "pa" "f"\r\n', b'"PING"\r\n']


def test_pause_write_holds_writes_and_what_follows_them(own_arbiter: ServerProcess) -> None:
    path = own_arbiter.socket_path
    with session(path) as admin, session(path) as writer, session(path) as reader, \
            session(path) as queued:
        writer_id, reader_id, queued_id = _id(writer), _id(reader), _id(queued)
        assert queued.calls([("MULTI",), ("HSET", "pw", "g", "1")])[1].raw == (
            b"+QUEUED\r\n")
        assert admin.call("CLIENT", "PAUSE", str(PAUSE), "WRITE").raw == b"+OK\r\n"
        assert reader.call("HGET", "pw", "f").raw == b"$-1\r\n"  # reads go on
        writer.conn.send(encode(["HSET", "pw", "f", "w"]) + encode(["HGET", "pw", "f"]))
        queued.conn.send(encode(["EXEC"]))  # an EXEC of queued writes is a write
        assert poll_until(lambda: _held(admin, writer_id) and _held(admin, queued_id), 10)
        assert reader.call("HGET", "pw", "f").raw == b"$-1\r\n"  # not written yet
        assert reader.call("MULTI").raw == b"+OK\r\n"
        reader.conn.send(encode(["HSET", "pw", "h", "1"]))  # queueing a write waits too
        assert poll_until(lambda: _held(admin, reader_id), 10)
        assert "blocked_clients:3\r\n" in admin.call("INFO", "clients").text()
        assert admin.call("CLIENT", "UNPAUSE").raw == b"+OK\r\n"
        assert [r.raw for r in writer.conn.read(2)] == [b":1\r\n", b"$1\r\nw\r\n"]
        assert queued.conn.read(1)[0].raw == b"*1\r\n:1\r\n"
        assert reader.conn.read(1)[0].raw == b"+QUEUED\r\n"
        assert reader.call("EXEC").raw == b"*1\r\n:1\r\n"
        assert "blocked_clients:0\r\n" in admin.call("INFO", "clients").text()


def test_pause_ends_at_its_time(own_arbiter: ServerProcess) -> None:
    path = own_arbiter.socket_path
    with session(path) as admin, session(path) as writer:
        writer_id = _id(writer)
        assert admin.call("CLIENT", "PAUSE", "1500", "WRITE").raw == b"+OK\r\n"
        writer.conn.send(encode(["HINCRBY", "k", "n", "1"]))
        assert poll_until(lambda: _held(admin, writer_id), 10)
        reply = writer.conn.read(1)  # served once the pause is over (read timeout: 10 s)
        assert reply and reply[0].kind == ":"
        assert not _held(admin, writer_id)


def test_a_stricter_or_longer_pause_wins(own_arbiter: ServerProcess) -> None:
    path = own_arbiter.socket_path
    with session(path) as monitor, session(path) as admin, session(path) as reader:
        monitor.call("MONITOR")
        reader_id = _id(reader)
        assert admin.call("CLIENT", "PAUSE", str(PAUSE), "WRITE").raw == b"+OK\r\n"
        assert admin.call("CLIENT", "PAUSE", "0", "ALL").raw == b"+OK\r\n"  # now ALL
        reader.conn.send(encode(["HGET", "k", "f"]))
        assert poll_until(lambda: _held(monitor, reader_id), 10)
        monitor.conn.send(encode(["CLIENT", "UNPAUSE"]))
        assert reader.conn.read(1)[0].kind in "$_"


def test_a_paused_pipeline_is_served_whole(own_arbiter: ServerProcess) -> None:
    """20,000 pipelined writes sent during a pause wait unparsed, then every one of
    them is served, in order."""
    path = own_arbiter.socket_path
    count = 20_000
    payload = encode(["HINCRBY", "counter", "n", "1"]) * count
    with session(path) as admin, session(path) as sender:
        sender_id = _id(sender)
        admin.call("DEL", "counter")
        assert admin.call("CLIENT", "PAUSE", str(PAUSE), "WRITE").raw == b"+OK\r\n"
        sender.conn.send(payload)
        assert poll_until(lambda: int(_clients(admin)[sender_id]["qbuf"]) > len(payload) // 2,
                          10)
        assert "b" in _clients(admin)[sender_id]["flags"]
        assert admin.call("CLIENT", "UNPAUSE").raw == b"+OK\r\n"
        replies = sender.conn.read(count)
        assert [r.raw for r in replies[:2]] == [b":1\r\n", b":2\r\n"]
        assert replies[-1].raw == b":%d\r\n" % count and len(replies) == count
        assert admin.call("HGET", "counter", "n").raw == b"$5\r\n20000\r\n"


def test_a_held_client_sending_past_the_query_buffer_limit_is_closed(
        own_arbiter: ServerProcess) -> None:
    """What a held client sends is kept, up to client-query-buffer-limit (as Redis'
    query buffer): a client that sends more while held is disconnected."""
    path = own_arbiter.socket_path
    with session(path) as admin:
        assert admin.call("CONFIG", "SET", "client-query-buffer-limit", "1mb").raw == (
            b"+OK\r\n")
        try:
            flood = Session(path)
            flood_id = _id(flood)
            assert admin.call("CLIENT", "PAUSE", str(PAUSE), "WRITE").raw == b"+OK\r\n"
            flood.conn.send(encode(["HSET", "k", "f", "v"]))
            assert poll_until(lambda: _held(admin, flood_id), 10)
            sender = threading.Thread(target=flood.conn.send, daemon=True,
                                      args=(encode(["HSET", "k", "f", "x" * 100_000]) * 30,))
            sender.start()  # 3 MB while held: past the 1 MB limit
            assert poll_until(lambda: flood_id not in _clients(admin), 10)
            sender.join(10)
            assert not flood.conn.read(1)  # closed, nothing answered
        finally:
            admin.call("CLIENT", "UNPAUSE")
            admin.call("CONFIG", "SET", "client-query-buffer-limit", "1gb")
    assert "reached max query buffer length" in own_arbiter.log_path.read_text()


def test_a_held_client_can_be_killed_or_leave(own_arbiter: ServerProcess) -> None:
    path = own_arbiter.socket_path
    with session(path) as monitor:
        monitor.call("MONITOR")
        doomed, leaving = Session(path), Session(path)
        doomed_id, leaving_id = _id(doomed), _id(leaving)
        with session(path) as admin:
            assert admin.call("CLIENT", "PAUSE", str(PAUSE), "ALL").raw == b"+OK\r\n"
        doomed.conn.send(encode(["HSET", "k", "f", "x"]))
        leaving.conn.send(encode(["HSET", "k", "f", "y"]))
        assert poll_until(lambda: _held(monitor, doomed_id) and _held(monitor, leaving_id))
        leaving.conn.close()
        monitor.conn.send(encode(["CLIENT", "KILL", "ID", str(doomed_id)]))
        assert poll_until(lambda: doomed_id not in _clients(monitor)
                          and leaving_id not in _clients(monitor), 10)
        assert not doomed.conn.read(1)
        monitor.conn.send(encode(["CLIENT", "UNPAUSE"]))
    with session(path) as after:
        assert after.call("HGET", "k", "f").raw not in (b"$1\r\nx\r\n", b"$1\r\ny\r\n")


def test_a_pause_past_the_clock_range_is_over_at_once(own_arbiter: ServerProcess) -> None:
    # Redis adds the timeout to the time in a signed 64-bit integer: it wraps into the
    # past, so the pause is already over (redis-server 7.0.15 answers the same way).
    with session(own_arbiter.socket_path) as s:
        assert s.call("CLIENT", "PAUSE", "9223372036854000000", "WRITE").raw == b"+OK\r\n"
        assert s.call("HSET", "wrap", "f", "v").kind == ":"
