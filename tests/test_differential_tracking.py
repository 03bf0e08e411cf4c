"""CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO and the invalidation messages, byte
for byte against redis-server, over several connections at once.

A script is a list of steps `(connection, *command)`. After each step every open
connection is synchronised with a `PING differential-sync` (allowed in Pub/Sub mode too),
and everything it received before that marker is recorded: the step's reply, and the
invalidation pushes (or `__redis__:invalidate` messages) it got, in the order they came.
`@name` in a command stands for connection `name`'s client id, which differs between the
servers. Each connection says `HELLO <protocol>` when it opens (not recorded).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import pytest
from differential.harness import RawConnection, encode
from differential.resp import split_replies
from servers import ServerProcess, poll_until

pytestmark = pytest.mark.differential
PROTOCOLS = [pytest.param(2, id="resp2"), pytest.param(3, id="resp3")]
SYNC = b"differential-sync"

Script = Sequence[tuple[str, ...]]


class Peer:
    """One named connection of a script, and its client id."""

    def __init__(self, path: str, protocol: int) -> None:
        self.conn = RawConnection(path)
        if protocol == 3:
            self.conn.send(encode(["HELLO", "3"]))
            assert self.conn.read(1)[0].kind == "%"
        self.conn.send(encode(["CLIENT", "ID"]))
        self.id = self.conn.read(1)[0].raw[1:-2].decode()
        self.gone = False
        self.in_multi = False  # a sync PING would be queued: read the one reply instead

    def sync(self) -> bytes:
        """Everything received up to the answer to a sync PING."""
        self.conn.send(encode(["PING", SYNC]))
        received = []
        while True:
            more, self.conn.buffer = split_replies(self.conn.buffer, 1)
            if more:
                if more[0].raw.endswith(SYNC + b"\r\n"):
                    return b"".join(received)
                received.append(more[0].raw)
                continue
            chunk = self.conn.sock.recv(1 << 20)
            if not chunk:
                self.gone = True
                return b"".join(received) + b"<closed>"
            self.conn.buffer += chunk


def _split(argv: Sequence[str]) -> list[list[str]]:
    """The commands of a step: `|` separates commands sent in one write (so that no
    sync PING comes between CLIENT CACHING and the command it applies to)."""
    parts: list[list[str]] = [[]]
    for arg in argv:
        if arg == "|":
            parts.append([])
        else:
            parts[-1].append(arg)
    return parts


def _replies_owed(argv: Sequence[str]) -> int:
    """Replies a step's commands are owed before anything sent after them (a push that
    arrives in between is taken as one, which the comparison would show)."""
    if "|" in argv:
        return sum(_replies_owed(part) for part in _split(argv))
    if argv[0] in ("SLEEP", "QUIT"):
        return 0
    if argv[0].upper() in ("SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE"):
        return max(1, len(argv) - 1)
    return 1


def run(path: str, script: Script, protocol: int) -> list[tuple[str, str, bytes]]:
    """The transcript of `script` on the server at `path`."""
    peers: dict[str, Peer] = {}
    transcript = []
    try:
        for name, *argv in script:
            if name not in peers:
                peers[name] = Peer(path, protocol)
            if argv[0] == "SLEEP":  # nobody is synchronised: expiry may come meanwhile
                time.sleep(float(argv[1]))
                continue
            elif argv[0] == "FLAGS":
                peers[name].conn.send(encode(["CLIENT", "INFO"]))
            elif argv[0] == "TYPE":  # CLIENT LIST TYPE x, reduced to the flags
                peers[name].conn.send(encode(["CLIENT", "LIST", "TYPE", argv[1]]))
            else:
                args = [peers[a[1:]].id if a.startswith("@") else a for a in argv]
                peers[name].conn.send(b"".join(encode(part) for part in _split(args)))
            if argv[0] == "QUIT":
                peers[name].conn.read(1)
                peers[name].gone = True
            command = argv[0].upper()
            if command == "MULTI":
                peers[name].in_multi = True
            elif command in ("EXEC", "DISCARD", "RESET"):
                peers[name].in_multi = False
            # The issuer first: once its reply is read, what its command sent to the
            # others (a BCAST broadcast comes at the end of the loop turn) is on its way.
            for peer_name, peer in sorted(peers.items(), key=lambda item: item[0] != name):
                if peer.in_multi and peer_name == name:
                    transcript.append((name, " ".join(argv), peer.conn.read(1)[0].raw))
                elif not peer.gone and not peer.in_multi:
                    # The step's own replies first: a sync PING sent with the command
                    # would be answered before what the loop turn sends after it.
                    owed = _replies_owed(argv) if peer_name == name else 0
                    received = b"".join(r.raw for r in peer.conn.read(owed)) + peer.sync()
                    if argv[0] in ("FLAGS", "TYPE") and peer_name == name:
                        received = b" ".join(re.findall(rb"(?:flags|sub|psub|redir)=\S*",
                                                        received))
                    received = re.sub(rb"\$6\r\n7\.0\.15\r\n|\$5\r\n8\.0\.0\r\n",
                                      b"<version>", received)
                    for other, known in peers.items():  # ids differ between servers
                        received = re.sub(rb"([:=])%s\r?\b" % known.id.encode(),
                                          rb"\1@" + other.encode(), received)
                    transcript.append((peer_name, " ".join(argv), received))
    finally:
        for peer in peers.values():
            peer.conn.close()
    return transcript


def compare(arbiter: ServerProcess, redis_server: ServerProcess, script: Script,
            protocol: int) -> None:
    expected = run(redis_server.socket_path, script, protocol)
    actual = run(arbiter.socket_path, script, protocol)
    diffs = [f"{r[0]} after {r[1]!r}:\n  redis   {r[2]!r}\n  arbiter {a[2]!r}"
             for r, a in zip(expected, actual, strict=True) if r != a]
    assert not diffs, "\n".join(diffs)


T = "CLIENT", "TRACKING"

ARGUMENT_FORMS: dict[str, Script] = {
    "errors": [
        ("b", "PING"), ("a", *T, "on", "PREFIX", "x"),
        ("a", *T, "on", "REDIRECT", "@b", "REDIRECT", "@a"),
        ("a", *T, "on", "REDIRECT", "abc"),
        ("a", *T, "on", "REDIRECT", "0"),
        ("a", *T, "on", "REDIRECT", "-3"),
        ("a", *T, "on", "REDIRECT", "99999"),
        ("a", *T, "off", "REDIRECT", "99999"),
        ("a", *T, "maybe"),
        ("a", *T, "on", "BCAST", "OPTIN"),
        ("a", *T, "on", "BCAST", "optout"),
        ("a", *T, "on", "OPTIN", "OPTOUT"),
        ("a", *T, "on", "PREFIX"),
        ("a", *T, "on", "REDIRECT"),
        ("a", *T, "on", "foo"),
        ("a", *T),
        ("a", "CLIENT", "CACHING"),
        ("a", "CLIENT", "CACHING", "yes", "no"),
        ("a", "CLIENT", "GETREDIR", "x"),
        ("a", "CLIENT", "TRACKINGINFO", "x"),
        ("a", "CLIENT", "CACHING", "yes"),
        ("a", "CLIENT", "CACHING", "no"),
        ("a", "CLIENT", "GETREDIR"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", *T, "off"),
        ("a", "CLIENT", "TRACKINGINFO"),
    ],
    "switching options while on": [
        ("b", "PING"), ("a", *T, "on", "OPTIN"),
        ("a", *T, "on", "OPTOUT"),
        ("a", *T, "on", "BCAST"),
        ("a", "CLIENT", "CACHING", "no"),
        ("a", "CLIENT", "CACHING", "maybe"),
        ("a", "CLIENT", "CACHING", "YES"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", *T, "on", "NOLOOP", "REDIRECT", "@b"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", "CLIENT", "GETREDIR"),
        ("a", *T, "on"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", *T, "off"),
        ("a", *T, "on", "OPTOUT"),
        ("a", "CLIENT", "CACHING", "yes"),
        ("a", "CLIENT", "CACHING", "no"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", "CLIENT", "GETREDIR"),
    ],
    "bcast prefixes": [
        ("a", *T, "on", "BCAST", "PREFIX", "ab", "PREFIX", "a"),
        ("a", *T, "on", "BCAST", "PREFIX", "a", "PREFIX", "b"),
        ("a", *T, "on", "BCAST", "PREFIX", "abc"),
        ("a", *T, "on", "BCAST", "PREFIX", "c", "PREFIX", "b"),
        ("a", *T, "on", "BCAST", "PREFIX", "d"),
        ("a", *T, "on", "bcast"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", "CLIENT", "GETREDIR"),
        ("a", *T, "on"),
        ("a", *T, "off"),
        ("a", "CLIENT", "TRACKINGINFO"),
        ("a", *T, "on", "BCAST", "PREFIX", "x\0y"),
        ("a", *T, "on", "BCAST", "PREFIX", "x"),
    ],
}

INVALIDATIONS: dict[str, Script] = {
    "default mode": [
        ("a", *T, "on"), ("a", "GET", "k"), ("a", "MGET", "k", "k2", "h"),
        ("a", "HGET", "h", "f"),
        ("b", "SET", "k", "1"), ("b", "SET", "k", "2"), ("a", "SET", "k2", "v"),
        ("a", "GET", "k"), ("a", "SET", "k", "2"), ("a", "HGETALL", "h"),
        ("b", "HSET", "h", "f", "1"), ("a", "HGET", "h", "f"), ("b", "HDEL", "h", "f"),
        ("a", "STRLEN", "k"), ("b", "DEL", "k"), ("a", "EXISTS", "k"), ("b", "SET", "k", "1"),
        ("a", "FLAGS"), ("a", "GET", "k"), ("a", *T, "off"), ("b", "SET", "k", "3"),
    ],
    "databases share the table": [
        ("a", *T, "on"), ("a", "GET", "z"), ("b", "SELECT", "1"), ("b", "SET", "z", "1"),
        ("a", "SELECT", "2"), ("a", "GET", "y"), ("b", "SET", "y", "1"),
        ("a", "MGET", "k", "n", "c", "s"), ("b", "SELECT", "0"), ("b", "SET", "k", "1"),
        ("b", "MOVE", "k", "1"), ("a", "GET", "k"), ("b", "SELECT", "1"),
        ("b", "COPY", "k", "c"), ("b", "RENAME", "k", "n"), ("a", "MGET", "n", "k", "c"),
        ("b", "SWAPDB", "0", "1"), ("b", "SET", "s", "1"), ("b", "SWAPDB", "0", "1"),
    ],
    "flush": [
        ("a", *T, "on"), ("c", *T, "on", "BCAST"), ("a", "GET", "k"), ("b", "FLUSHALL"),
        ("a", "FLUSHDB"), ("a", "GET", "k"), ("b", "SET", "k", "1"), ("a", "GET", "k"),
        ("b", "SELECT", "3"), ("b", "FLUSHDB", "ASYNC"), ("b", "SELECT", "0"),
        ("b", "SET", "k", "2"),
    ],
    "noloop": [
        ("a", *T, "on", "NOLOOP"), ("a", "GET", "k"), ("a", "SET", "k", "1"),
        ("a", "GET", "k"), ("b", "SET", "k", "2"), ("a", "GET", "k"), ("a", "FLUSHALL"),
    ],
    "optin and optout": [
        ("c", *T, "on", "OPTIN"), ("c", "GET", "x"),
        ("c", "CLIENT", "CACHING", "yes", "|", "GET", "y"), ("c", "GET", "w"),
        ("b", "MSET", "x", "1", "y", "2", "w", "3"),
        ("c", "CLIENT", "CACHING", "yes", "|", "CLIENT", "TRACKINGINFO", "|", "GET", "v"),
        ("d", *T, "on", "OPTOUT"), ("d", "GET", "x"),
        ("d", "CLIENT", "CACHING", "no", "|", "GET", "y"), ("d", "CLIENT", "TRACKINGINFO"),
        ("d", "GET", "w"), ("b", "MSET", "v", "0"),
        ("b", "MSET", "x", "1", "y", "2", "w", "3"),
        ("c", "CLIENT", "CACHING", "yes", "|", "CLIENT", "ID", "|", "GET", "q"),
        ("b", "SET", "q", "1"),
        ("c", "CLIENT", "CACHING", "yes", "|", "MULTI", "|", "GET", "r", "|", "GET", "r2",
         "|", "EXEC", "|", "GET", "r3"),
        ("b", "MSET", "r", "1", "r2", "2", "r3", "3"),
        ("c", "CLIENT", "CACHING", "yes", "|", "NOSUCH", "|", "GET", "r4"),
        ("c", "CLIENT", "CACHING", "yes", "|", "CLIENT", "NOSUCH", "|", "GET", "r5"),
        ("c", "CLIENT", "CACHING", "yes", "|", "CLIENT", "CACHING", "|", "GET", "r6"),
        ("c", "CLIENT", "CACHING", "yes", "|", "GET", "|", "GET", "r7"),
        ("b", "MSET", "r4", "1", "r5", "1", "r6", "1", "r7", "1"),
        ("d", "CLIENT", "CACHING", "no", "|", "MULTI", "|", "GET", "s1", "|", "EXEC",
         "|", "GET", "s2"), ("b", "MSET", "s1", "1", "s2", "2"),
    ],
    "transactions": [
        ("a", *T, "on"), ("a", "GET", "k"), ("a", "GET", "j"), ("a", "MULTI"),
        ("a", "SET", "k", "1"), ("a", "SET", "j", "2"), ("a", "GET", "k"), ("a", "EXEC"),
        ("a", "SET", "k", "3"), ("a", "GET", "k"), ("a", "DEL", "k"), ("a", "GET", "k"),
        ("a", "RENAME", "nope", "x"), ("a", "MULTI"), ("a", "FLUSHALL"), ("a", "GET", "x"),
        ("a", "EXEC"), ("b", "SET", "x", "1"), ("a", *T, "off"), ("a", "MULTI"),
        ("a", *T, "on"), ("a", "GET", "m"), ("a", "EXEC"), ("b", "SET", "m", "1"),
        ("b", "SET", "m", "2"), ("a", "GET", "m"), ("b", "SET", "m", "3"),
    ],
    "bcast": [
        ("a", *T, "on", "BCAST", "PREFIX", "a", "PREFIX", "b"),
        ("c", *T, "on", "BCAST", "NOLOOP"), ("a", "FLAGS"),
        ("b", "MSET", "b2", "1", "a1", "2", "a0", "3", "zz", "4"), ("c", "SET", "a1", "x"),
        ("c", "MSET", "a1", "x", "c1", "y"), ("a", "SET", "ab", "1"),
        ("a", "CLIENT", "TRACKINGINFO"), ("a", *T, "off"), ("b", "SET", "ab", "2"),
        ("b", "MULTI"), ("b", "SET", "b1", "1"), ("b", "SET", "a9", "1"), ("b", "DEL", "b1"),
        ("b", "EXEC"),
    ],
    "redirect to a subscribed client": [
        ("s", "SUBSCRIBE", "__redis__:invalidate"), ("s", "PING"),
        ("a", *T, "on", "REDIRECT", "@s"), ("a", "GET", "k"), ("b", "SET", "k", "1"),
        ("a", "CLIENT", "GETREDIR"), ("a", "GET", "k"), ("a", "SET", "k", "2"),
        ("a", "FLUSHALL"), ("c", *T, "on", "BCAST", "REDIRECT", "@s", "PREFIX", "p"),
        ("b", "MSET", "p1", "1", "p2", "2"), ("s", "UNSUBSCRIBE"), ("a", "GET", "k"),
        ("b", "SET", "k", "1"),
    ],
    "redirect to an unsubscribed client": [
        ("t", "PING"), ("a", *T, "on", "REDIRECT", "@t"), ("a", "GET", "k"),
        ("b", "SET", "k", "1"), ("a", "CLIENT", "TRACKINGINFO"),
    ],
    "broken redirect": [
        ("s", "PING"), ("a", *T, "on", "REDIRECT", "@s"), ("a", "GET", "k"),
        ("s", "QUIT"), ("b", "SET", "k", "1"), ("a", "CLIENT", "TRACKINGINFO"), ("a", "FLAGS"),
        ("a", "GET", "k"), ("b", "FLUSHALL"), ("a", *T, "on", "REDIRECT", "@b"),
        ("a", "CLIENT", "TRACKINGINFO"),
    ],
    "hello and reset": [
        ("a", *T, "on"), ("a", "GET", "k"), ("a", "HELLO", "3", "SETNAME", "x"),
        ("a", "CLIENT", "TRACKINGINFO"), ("b", "SET", "k", "1"), ("a", "GET", "k"),
        ("a", "HELLO", "2", "SETNAME", "x"), ("b", "SET", "k", "2"), ("a", "RESET"),
        ("a", "CLIENT", "TRACKINGINFO"), ("b", "SET", "k", "3"),
    ],
}

PUBSUB: dict[str, Script] = {
    "subscribe forms": [
        ("s", "SUBSCRIBE", "a", "b"), ("b", "TYPE", "pubsub"), ("b", "TYPE", "normal"),
        ("s", "GET", "x"), ("s", "PING"), ("s", "PING", "m"),
        ("s", "CLIENT", "ID"), ("s", "FLAGS"), ("s", "MULTI"), ("s", "SUBSCRIBE", "a"),
        ("s", "UNSUBSCRIBE", "a", "zz"), ("s", "PSUBSCRIBE", "x*", "y"),
        ("s", "PUNSUBSCRIBE", "y"), ("s", "PUNSUBSCRIBE"), ("s", "UNSUBSCRIBE"),
        ("s", "UNSUBSCRIBE"), ("s", "PUNSUBSCRIBE"), ("s", "GET", "x"),
        ("s", "PSUBSCRIBE", "q"), ("b", "TYPE", "pubsub"), ("s", "RESET"), ("s", "GET", "x"),
        ("s", "SUBSCRIBE"), ("b", "TYPE", "pubsub"),
    ],
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", list(ARGUMENT_FORMS))
def test_argument_forms(name: str, protocol: int, arbiter: ServerProcess,
                        redis_server: ServerProcess) -> None:
    compare(arbiter, redis_server, ARGUMENT_FORMS[name], protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", list(INVALIDATIONS))
def test_invalidations(name: str, protocol: int, arbiter: ServerProcess,
                       redis_server: ServerProcess) -> None:
    compare(arbiter, redis_server, INVALIDATIONS[name], protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", list(PUBSUB))
def test_pubsub(name: str, protocol: int, arbiter: ServerProcess,
                redis_server: ServerProcess) -> None:
    compare(arbiter, redis_server, PUBSUB[name], protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_expiry_invalidates(protocol: int, arbiter: ServerProcess,
                            redis_server: ServerProcess) -> None:
    # b reads the key after its deadline: by then active or lazy expiry has sent a its
    # invalidation (which one is a matter of timing, on both servers).
    script = [("a", *T, "on"), ("a", "GET", "k"), ("b", "SET", "k", "1", "PX", "150"),
              ("a", "GET", "k"), ("a", "SLEEP", "0.3"), ("b", "GET", "k"),
              ("a", "GET", "k"), ("b", "HSET", "h", "f", "v"), ("a", "HGETALL", "h"),
              ("b", "PEXPIRE", "h", "150"), ("a", "SLEEP", "0.3"), ("b", "EXISTS", "h")]
    compare(arbiter, redis_server, script, protocol)


def _invalidation_arrives(server: ServerProcess, key: bytes) -> bytes:
    """A RESP3 tracking client reads `key`, which another client gives a short TTL; the
    push that arrives unasked (active expiry) is returned."""
    reader = Peer(server.socket_path, 3)
    writer = Peer(server.socket_path, 2)
    try:
        reader.conn.send(encode(["CLIENT", "TRACKING", "on"]))
        reader.conn.send(encode(["GET", key]))
        assert [r.raw for r in reader.conn.read(2)] == [b"+OK\r\n", b"_\r\n"]
        writer.conn.send(encode(["SET", key, "v", "PX", "100"]))
        assert writer.conn.read(1)[0].raw == b"+OK\r\n"
        reader.conn.send(encode(["GET", key]))
        assert [r.raw for r in reader.conn.read(2)] == [invalidation(key), b"$1\r\nv\r\n"]
        return reader.conn.read(1)[0].raw  # sent by active expiry: nobody asks
    finally:
        reader.conn.close()
        writer.conn.close()


def invalidation(key: bytes) -> bytes:
    return b">2\r\n$10\r\ninvalidate\r\n*1\r\n$%d\r\n%s\r\n" % (len(key), key)


def test_active_expiry_invalidates(arbiter: ServerProcess, redis_server: ServerProcess) -> None:
    assert _invalidation_arrives(redis_server, b"ttl") == invalidation(b"ttl")
    assert _invalidation_arrives(arbiter, b"ttl") == invalidation(b"ttl")


def test_tracking_clients_in_info(arbiter: ServerProcess) -> None:
    a = Peer(arbiter.socket_path, 3)
    b = Peer(arbiter.socket_path, 2)
    try:
        a.conn.send(encode(["CLIENT", "TRACKING", "on"]))
        a.conn.read(1)
        b.conn.send(encode(["INFO", "clients"]))
        assert b"tracking_clients:1\r\n" in b.conn.read(1)[0].raw
        a.conn.close()
        assert poll_until(lambda: b"tracking_clients:0\r\n" in _info(b))
    finally:
        b.conn.close()


def _info(peer: Peer) -> bytes:
    peer.conn.send(encode(["INFO", "clients"]))
    return peer.conn.read(1)[0].raw


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_deliberate_overlapping_later_prefixes_answer_one_error(
        protocol: int, arbiter: ServerProcess, redis_server: ServerProcess) -> None:
    # Difference: when two prefixes after the first overlap, redis-server 7.0's
    # checkPrefixCollisionsOrReply returns their index as success: it answers the error
    # and then +OK, two replies to one command, and turns tracking on. The arbiter answers
    # the error alone and leaves tracking off.
    command = encode(["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "b",
                      "PREFIX", "bc"])
    error = (b"-ERR Prefix 'b' overlaps with another provided prefix 'bc'. Prefixes for a "
             b"single client must not overlap.\r\n")
    theirs, mine = Peer(redis_server.socket_path, protocol), Peer(arbiter.socket_path, protocol)
    try:
        for peer in (theirs, mine):
            peer.conn.send(command)
        assert theirs.sync() == error + b"+OK\r\n"
        assert mine.sync() == error
        mine.conn.send(encode(["CLIENT", "GETREDIR"]))
        assert mine.conn.read(1)[0].raw == b":-1\r\n"
    finally:
        theirs.conn.close()
        mine.conn.close()
