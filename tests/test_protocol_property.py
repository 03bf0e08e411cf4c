"""Request parsing as redis-server does it, whatever the network's chunking.

A socket read can end anywhere, and the parser takes a fast path (hiredis) for some
chunks and a strict one for others, so the properties are: any chunking of a valid stream
yields exactly its requests; any chunking of any byte string yields the same requests and
the same protocol error as the whole string at once; and nothing ever raises.
"""

from __future__ import annotations

import itertools
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resp_arbiter.protocol import BIG_ARG, RequestParser, split_inline_args

SETTINGS = settings(max_examples=300, deadline=None)

# Bytes an unquoted inline argument may hold: no whitespace, quotes, or backslash.
PLAIN = bytes(b for b in range(33, 127) if b not in b"\"'\\")

binary_args = st.lists(st.binary(max_size=40), min_size=1, max_size=6)
plain_args = st.lists(st.binary(min_size=1, max_size=12).map(
    lambda raw: bytes(PLAIN[b % len(PLAIN)] for b in raw)), min_size=1, max_size=6)
# Lines that are no request at all: Redis skips them silently.
NOISE = [b"\r\n", b"\n", b"   \r\n", b"\t \n", b"*0\r\n", b"*-1\r\n", b"*-5\r\n"]


def multibulk(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def inline_arg(arg: bytes, quote: bool) -> bytes:
    """The arg as typed on an inline line: plain when it can be, else double-quoted
    with every byte as a \\xHH escape."""
    if arg and not quote and all(b in PLAIN for b in arg):
        return arg
    return b'"' + b"".join(b"\\x%02x" % b for b in arg) + b'"'


def inline(args: list[bytes], quote_first: bool, crlf: bool) -> bytes:
    first = args[0]
    # An unquoted first argument starting with '*' would read as a multibulk header.
    words = [inline_arg(first, quote_first or first.startswith(b"*"))]
    words += [inline_arg(arg, False) for arg in args[1:]]
    return b" ".join(words) + (b"\r\n" if crlf else b"\n")


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[list[bytes]]]:
    """A byte stream of requests in mixed encodings, with the requests it holds."""
    parts: list[bytes] = []
    requests: list[list[bytes]] = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["multibulk", "inline", "plain-inline", "noise"]))
        if kind == "noise":
            parts.append(draw(st.sampled_from(NOISE)))
            continue
        args = draw(plain_args if kind == "plain-inline" else binary_args)
        if kind == "multibulk":
            parts.append(multibulk(args))
        else:
            parts.append(inline(args, draw(st.booleans()), draw(st.booleans())))
        requests.append(args)
    return b"".join(parts), requests


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """`data` cut at random points into non-empty chunks."""
    if len(data) < 2:
        return [data]
    cuts = sorted(draw(st.sets(st.integers(1, len(data) - 1), max_size=min(20, len(data)))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def parse(chunks: list[bytes], authenticated: bool = True) -> tuple[list, str | None]:
    """Feeds chunks until a protocol error; returns the requests and the error text."""
    parser = RequestParser(authenticated=authenticated)
    requests: list[list[bytes]] = []
    for chunk in chunks:
        requests.extend(parser.feed(chunk))
        if parser.pending_error is not None:
            return requests, parser.pending_error.message
    return requests, None


@SETTINGS
@given(st.data())
def test_any_chunking_of_valid_requests_yields_them(data):
    stream, requests = data.draw(streams())
    chunks = data.draw(chunkings(stream))
    assert parse(chunks) == (requests, None)
    assert parse([stream]) == (requests, None)


@SETTINGS
@given(st.data())
def test_byte_at_a_time_yields_the_requests(data):
    stream, requests = data.draw(streams())
    assert parse([stream[i:i + 1] for i in range(len(stream))]) == (requests, None)


# Arguments around the size from which a bulk is received into its own buffer: cheap
# to build (a random edge around a repeated byte), with the CRLF and the next header
# at random places of a chunk.
big_args = st.builds(lambda head, size, fill, tail: head + bytes([fill]) * size + tail,
                     st.binary(max_size=3), st.integers(BIG_ARG - 8, 3 * BIG_ARG),
                     st.integers(0, 255), st.binary(max_size=3))


@st.composite
def big_streams(draw: st.DrawFn) -> tuple[bytes, list[list[bytes]]]:
    """Requests with large and small arguments mixed, among ordinary requests."""
    stream, requests = draw(streams())
    for _ in range(draw(st.integers(1, 3))):
        args = draw(st.lists(st.one_of(big_args, st.binary(max_size=8)), min_size=1,
                             max_size=4))
        if draw(st.booleans()):
            stream, requests = stream + multibulk(args), [*requests, args]
        else:
            stream, requests = multibulk(args) + stream, [args, *requests]
    return stream, requests


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_chunking_of_requests_with_large_arguments_yields_them(data):
    stream, requests = data.draw(big_streams())
    assert parse(data.draw(chunkings(stream))) == (requests, None)
    assert parse([stream]) == (requests, None)
    # Large bulks and their CRLF cut everywhere near their ends.
    size = len(stream)
    cuts = sorted(data.draw(st.sets(st.integers(1, size - 1), max_size=40)))
    assert parse([stream[a:b] for a, b in itertools.pairwise([0, *cuts, size])]) == (
        requests, None)


def test_large_bulk_over_the_query_buffer_limit_is_refused():
    """A bulk received into its own buffer still counts against the query buffer."""
    parser = RequestParser(query_buffer_limit=BIG_ARG * 2)
    header = b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % (BIG_ARG * 4)
    assert parser.feed(header + b"x" * 100) == []
    assert parser.pending_error is None
    assert parser.feed(b"x" * BIG_ARG) == []
    assert parser.pending_error is None
    assert parser.feed(b"x" * BIG_ARG) == []
    assert parser.pending_error is not None and parser.pending_error.message is None


def test_released_parser_forgets_the_partial_request():
    parser = RequestParser()
    assert parser.feed(b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % (BIG_ARG * 2) + b"x" * 10) == []
    assert parser.buffered() == 10
    parser.release()
    assert parser.buffered() == 0
    assert parser.feed(b"*1\r\n$4\r\nPING\r\n") == [[b"PING"]]


# Bytes that matter to the grammar, to corrupt valid streams where it hurts.
SPECIAL = st.sampled_from([b"*", b"$", b"\r", b"\n", b"-", b"0", b"9", b"+", b":", b"%",
                           b"_", b"#", b"~", b"|", b"(", b"=", b",", b"\x00", b" ", b'"',
                           b"'", b"\\", b"*99999999", b"$-1", b"*1\r\n+x\r\n"])


@st.composite
def malformed(draw: st.DrawFn) -> bytes:
    """Random garbage, or a valid stream with bytes replaced, inserted or cut off."""
    if draw(st.booleans()):
        prefix = draw(streams())[0] if draw(st.booleans()) else b""
        return prefix + draw(st.binary(min_size=1, max_size=200))
    stream = bytearray(draw(streams())[0])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(stream)))
        piece = draw(st.one_of(SPECIAL, st.binary(min_size=1, max_size=3)))
        if draw(st.booleans()):
            stream[at:at + len(piece)] = piece
        else:
            stream[at:at] = piece
    return bytes(stream[:draw(st.integers(1, len(stream)))])


@settings(max_examples=500, deadline=None)
@given(st.data(), st.booleans())
def test_malformed_input_is_chunking_independent_and_never_raises(data, authenticated):
    stream = data.draw(malformed())
    whole = parse([stream], authenticated)
    chunks = data.draw(chunkings(stream))
    assert parse(chunks, authenticated) == whole
    assert parse([stream[i:i + 1] for i in range(len(stream))], authenticated) == whole
    requests, error = whole
    assert all(type(arg) is bytes for request in requests for arg in request)
    assert error is None or error.startswith("ERR Protocol error: ")


@pytest.mark.parametrize(("stream", "error"), [
    (b"*1\r\n+PING\r\n", "ERR Protocol error: expected '$', got '+'"),
    (b"*1\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'"),
    (b"*x\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*01\r\n$1\r\na\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*3000000000\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$01\r\na\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$ 1\r\na\r\n", "ERR Protocol error: invalid bulk length"),
    (b'ECHO "a\r\n', "ERR Protocol error: unbalanced quotes in request"),
    (b"*1\r\n*1\r\n$1\r\na\r\n", "ERR Protocol error: expected '$', got '*'"),
])
def test_protocol_errors_follow_earlier_requests(stream, error):
    """The requests before an error are returned (and answered) first, then the error."""
    ping = b"*1\r\n$4\r\nPING\r\n"
    assert parse([ping + stream]) == ([[b"PING"]], error)
    assert parse([ping, stream]) == ([[b"PING"]], error)


@pytest.mark.parametrize(("stream", "requests"), [
    # A header line ends at CR; Redis skips the next byte whatever it is, so the rest
    # here is an inline request (redis-server answers "unknown command '*'" / '$').
    (b"*-1\r*\r*\n", [[b"*"]]),
    (b"*0\r*$\n", [[b"$"]]),
    (b"*1\r\n$1\rxa\r\n", [[b"a"]]),
])
def test_header_lines_end_at_cr(stream, requests):
    assert parse([stream]) == (requests, None)
    assert parse([stream[:1], stream[1:]]) == (requests, None)


@pytest.mark.parametrize("line", [b":0", b"#f", b",0", b"_", b"$0\r\n"])
def test_replies_hiredis_reads_as_false_or_zero_are_inline_requests(line):
    """hiredis reads these as 0, False, 0.0 or None after a request in the same chunk;
    to Redis they are inline requests (or, `$0`, an unknown command)."""
    ping = b"*1\r\n$4\r\nPING\r\n"
    for before in (ping, ping * 3):  # after the first request of a chunk, or later
        stream = before + line + b"\r\n" + ping
        expected = parse([stream[i:i + 1] for i in range(len(stream))])
        assert expected[0][0] == [b"PING"] and len(expected[0]) >= 2
        assert parse([stream]) == expected
        assert parse([before + line + b"\r\n"]) == (expected[0][:-1], expected[1])


def test_unauthenticated_limits():
    """Before AUTH, Redis refuses big multibulk counts and bulk lengths outright."""
    assert parse([b"*11\r\n"], authenticated=False) == (
        [], "ERR Protocol error: unauthenticated multibulk length")
    assert parse([b"*1\r\n$16385\r\n"], authenticated=False) == (
        [], "ERR Protocol error: unauthenticated bulk length")
    assert parse([b"*1\r\n$16384\r\n"], authenticated=False) == ([], None)


# Inline lines and how redis-server splits them (each checked against redis-server by
# test_inline_cases_match_redis_server below).
INLINE_CASES = [
    (b"ECHO plain", [b"ECHO", b"plain"]),
    (b"  FOO   a\tb  ", [b"FOO", b"a", b"b"]),
    (b'ECHO "\\x41\\x4a"', [b"ECHO", b"AJ"]),
    (b'ECHO "\\x4"', [b"ECHO", b"x4"]),
    (b'ECHO "\\xZZ"', [b"ECHO", b"xZZ"]),
    (b'ECHO "a\\nb\\t\\r\\b\\a\\q"', [b"ECHO", b"a\nb\t\r\x08\x07q"]),
    (b'ECHO "a\\"b"', [b"ECHO", b'a"b']),
    (b'ECHO "\\\\"', [b"ECHO", b"\\"]),
    (b"ECHO 'it\\'s'", [b"ECHO", b"it's"]),
    (b"ECHO 'a\\nb'", [b"ECHO", b"a\\nb"]),
    (b'ECHO a"b c"', [b"ECHO", b"ab c"]),
    (b'ECHO ""', [b"ECHO", b""]),
    (b"ECHO ''", [b"ECHO", b""]),
    (b"FOO \"\" '' x", [b"FOO", b"", b"", b"x"]),
    (b"ECHO \x0bx", [b"ECHO", b"x"]),
    (b'ECHO "a"\x0b', [b"ECHO", b"a"]),
    (b'ECHO "a"\x0bb', [b"ECHO", b"a", b"b"]),
    # Inside an unquoted argument only space, tab, CR and LF end it: \v and \f do not.
    (b"ECHO a\x0bb", [b"ECHO", b"a\x0bb"]),
    (b"ECHO a\x0cb", [b"ECHO", b"a\x0cb"]),
    (b"ECHO x\x0c", [b"ECHO", b"x\x0c"]),
    (b'ECHO "a', None),
    (b"ECHO 'a", None),
    (b'ECHO ab"', None),
    (b'ECHO "a"b', None),
    (b'FOO a"b c"d', None),
    (b"FOO a'b c'd e", None),
]


@pytest.mark.parametrize(("line", "args"), INLINE_CASES)
def test_split_inline_args(line, args):
    assert split_inline_args(line) == args


def expected_reply(args: list[bytes] | None) -> bytes:
    """What redis-server answers to an inline ECHO/FOO line split into `args`."""
    if args is None:
        return b"-ERR Protocol error: unbalanced quotes in request\r\n"
    if args[0] == b"ECHO":
        if len(args) != 2:
            return b"-ERR wrong number of arguments for 'echo' command\r\n"
        return b"$%d\r\n%s\r\n" % (len(args[1]), args[1])
    quoted = b"".join(b"'%s' " % arg for arg in args[1:])
    return b"-ERR unknown command '%s', with args beginning with: %s\r\n" % (args[0], quoted)


def ask(path: str, line: bytes) -> bytes:
    """Sends one inline line; returns the one reply (an error, or a bulk string)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(line + b"\r\n")
        reply = b""
        while True:
            header_end = reply.find(b"\r\n")
            if header_end >= 0 and (not reply.startswith(b"$") or len(reply) >= header_end
                                    + 4 + int(reply[1:header_end])):
                return reply
            chunk = sock.recv(4096)
            if not chunk:
                return reply
            reply += chunk


@pytest.mark.differential
@pytest.mark.parametrize(("line", "args"), INLINE_CASES)
def test_inline_cases_match_redis_server(redis_server, arbiter, line, args):
    """The table above is redis-server's behaviour, and the arbiter answers the same."""
    want = expected_reply(args)
    assert ask(redis_server.socket_path, line) == want
    assert ask(arbiter.socket_path, line) == want
