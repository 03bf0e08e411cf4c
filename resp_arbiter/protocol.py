"""RESP request parsing and reply encoding.

Requests are parsed by hiredis (C) on the fast path. hiredis is a reply parser, so it is
more lenient than a Redis server (it accepts `+`, `:` and nested arrays inside a request,
knows no inline commands and no server limits); whenever a chunk could hold anything a
Redis server would treat differently, the chunk goes through `_StrictParser`, a small
incremental parser that applies redis-server's exact rules and error texts. Both paths
produce the same requests; the property tests check that for arbitrary chunking.
"""

from __future__ import annotations

import io
import itertools
import re
from typing import Final, Protocol

import hiredis

from . import errors
from .limits import INT_MAX, LONG_MAX, LONG_MIN

# redis-server's PROTO_INLINE_MAX_SIZE: the longest inline request or header line.
INLINE_MAX_SIZE: Final = 64 * 1024
# Limits redis-server applies to clients that still have to authenticate.
UNAUTH_MAX_MULTIBULK: Final = 10
UNAUTH_MAX_BULK: Final = 16384
# redis-server's PROTO_MBULK_BIG_ARG: a bulk at least this long that has not fully
# arrived is received straight into one buffer of its exact size (see `_BigBulk`) once
# an eighth of it, or 4 MiB, is there; until then that part waits in the query buffer
# and is then copied once. The wait bounds what a client that declares large bulks and
# trickles can cost: malloc may clear (touch) a calloc'ed buffer whole, except when it
# maps fresh pages, which glibc always does from 32 MiB, far beyond 4 MiB.
BIG_ARG: Final = 32 * 1024
BIG_ARG_SHARE: Final = 8
BIG_ARG_WAIT: Final = 4 * 1024 * 1024

# A multibulk count of six digits or more: hiredis allocates the whole array as soon as
# it reads the header, so such chunks (or a value that merely looks like one) take the
# strict path, which grows the array as the arguments arrive.
_HUGE_COUNT = re.compile(rb"\*[0-9]{6}")
# Reply types a Redis server refuses inside a request but hiredis turns into bytes or
# lists: a chunk holding one of these bytes takes the strict path.
_NON_REQUEST_TYPES = b"+~=(|"
_LONG_CHUNK: Final = 512
# What hiredis returns when the bytes fed hold no complete request yet.
_INCOMPLETE: Final = object()
_LIST_ONLY: Final = frozenset((list,))
_BYTES_ONLY: Final = frozenset((bytes,))
_chain = itertools.chain.from_iterable
# string2ll: "0", or digits without a leading zero and an optional "-" ("-0" is refused).
_STRICT_INT = re.compile(rb"(?:0|-?[1-9][0-9]{0,18})\Z")


class ProtocolError(Exception):
    """A request Redis would refuse; the client gets `message`, then the connection closes."""

    def __init__(self, message: str | None) -> None:
        super().__init__(message)
        self.message = message


class RequestParser:
    """Turns the bytes a client sends into a list of requests, each a list of bytes.

    `feed()` returns the complete requests found so far; a protocol error is left in
    `pending_error` after the requests that preceded it, so that the server answers those
    first and then the error, as Redis does.
    """

    __slots__ = ("_reader", "_strict", "max_bulk_len", "query_buffer_limit",
                 "authenticated", "pending_error")

    def __init__(self, max_bulk_len: int = 512 * 1024 * 1024,
                 query_buffer_limit: int = 1024 * 1024 * 1024,
                 authenticated: bool = True) -> None:
        self._reader = _new_reader()
        self._strict: _StrictParser | None = None
        self.max_bulk_len = max_bulk_len
        self.query_buffer_limit = query_buffer_limit
        self.authenticated = authenticated
        self.pending_error: ProtocolError | None = None

    def feed(self, data: bytes) -> list[list[bytes]]:
        """Parse `data`; returns complete requests. Check `pending_error` afterwards."""
        if self._strict is None:
            return self._feed_fast(data)
        requests, rest = self.feed_open(data)
        if rest:  # the request that spanned reads is complete: the rest the fast way
            requests += self._feed_fast(rest)
        return requests

    def feed_open(self, data: bytes) -> tuple[list[list[bytes]], bytes]:
        """Parse `data` only as far as the end of the request open across reads (the
        parser is not `idle`): the requests that completes, and the bytes after it, not
        parsed (empty while it stays open, or after a protocol error)."""
        strict = self._strict
        requests = strict.feed(self, data, handoff=True)
        if self.pending_error is not None or not strict.at_boundary():
            return requests, b""
        self._strict = None
        return requests, strict.take_rest()

    def idle(self) -> bool:
        """Whether the next byte starts a request: no request is open across reads, and
        no protocol error ended the input."""
        return self._strict is None and self.pending_error is None

    def held(self) -> tuple[int, int]:
        """(unparsed bytes, bytes of the arguments already read of an open request):
        CLIENT LIST's qbuf and argv-mem. Between reads hiredis holds nothing: a chunk
        that ends inside a request leaves that request to the strict parser."""
        strict = self._strict
        if strict is None:
            return 0, 0
        return strict.held()

    def _feed_fast(self, data: bytes) -> list[list[bytes]]:
        """Parse `data`, which starts at a request boundary, with hiredis where it is safe.

        The checks are per chunk, in C, so that a pipelined request costs little more
        than hiredis' own parsing: which bytes the chunk holds, then the types of every
        request and argument hiredis returned."""
        size = len(data)
        if not self.authenticated or data[0] != 42 or _HUGE_COUNT.search(data) or (
                len(data.translate(None, _NON_REQUEST_TYPES)) != size if size < _LONG_CHUNK
                else _holds_non_request_type(data)):
            return self._feed_strict(data)
        reader = self._reader
        reader.feed(data)
        gets = reader.gets
        try:
            request = gets()
            if request is _INCOMPLETE:
                requests = []
            elif (following := gets()) is _INCOMPLETE:  # one request: the usual read
                requests = [request]
                if type(request) is not list or not request \
                        or not _BYTES_ONLY.issuperset(map(type, request)):
                    return self._restart_strict(data)
            else:
                requests = [request, following, *iter(gets, _INCOMPLETE)]
                # Every request a non-empty list of bytes: no other reply type inside.
                if not all(requests) or not _LIST_ONLY.issuperset(map(type, requests)) \
                        or not _BYTES_ONLY.issuperset(map(type, _chain(requests))):
                    return self._restart_strict(data)
        except hiredis.ProtocolError:
            return self._restart_strict(data)
        # An argument is never longer than the chunk it came in.
        if size > self.max_bulk_len and \
                max(map(len, _chain(requests)), default=0) > self.max_bulk_len:
            return self._restart_strict(data)
        # hiredis cannot say whether a request is still open (its buffer may be fully
        # consumed mid-request). An empty multibulk probe answers it: hiredis returns it
        # as [] only when it sits between requests.
        if data.endswith(b"\r\n"):
            reader.feed(b"*0\r\n")
            try:
                if reader.gets() == []:
                    return requests
            except hiredis.ProtocolError:
                pass
        # Mid-request: the sizes of the complete requests locate the open one, which the
        # strict path takes over (the probe, if any, went into hiredis' discarded state).
        self._reader = _new_reader()
        tail = size - sum(map(_wire_size, requests))
        if tail <= 0 or data[-tail] != 42:
            return self._restart_strict(data)
        requests += self._feed_strict(data[-tail:])
        return requests

    def _restart_strict(self, data: bytes) -> list[list[bytes]]:
        """Parse the whole chunk again on the strict path, from its first byte.

        Only called before any request of the chunk was handed out."""
        self._reader = _new_reader()
        return self._feed_strict(data)

    def _feed_strict(self, data: bytes) -> list[list[bytes]]:
        strict = self._strict = _StrictParser()
        requests = strict.feed(self, data, handoff=False)
        if strict.is_idle():
            self._strict = None
        return requests

    def release(self) -> None:
        """Drop whatever a half-received request holds (the client is gone)."""
        self._strict = None
        self._reader = _new_reader()

    def buffered(self) -> int:
        """Bytes of a request received but not yet complete."""
        strict = self._strict
        return 0 if strict is None else strict.buffered()


def _new_reader() -> hiredis.Reader:
    """A hiredis reader that says "no complete request yet" with `_INCOMPLETE` (its
    default, False, equals a parsed 0 or #f)."""
    return hiredis.Reader(notEnoughData=_INCOMPLETE)


def _holds_non_request_type(data: bytes) -> bool:
    """Whether a long chunk holds a byte of `_NON_REQUEST_TYPES`: a search per byte value
    (a short chunk is checked with one `translate`, cheaper than five calls there)."""
    find = data.find
    return find(b"+") >= 0 or find(b"~") >= 0 or find(b"=") >= 0 or find(b"(") >= 0 \
        or find(b"|") >= 0


def _wire_size(request: list[bytes]) -> int:
    """Bytes the request occupies when every argument is a `$` bulk string."""
    size = 3 + len(str(len(request)))  # *<count>\r\n
    for arg in request:
        length = len(arg)  # $<length>\r\n<arg>\r\n
        size += length + (6 if length < 10 else 7 if length < 100 else 5 + len(str(length)))
    return size


class _BigBulk:
    """A large bulk string received straight into a bytes object of its exact size.

    `io.BytesIO` over a fresh `bytes(length)` lends that very object as a writable
    buffer (`getbuffer`) and hands it back without a copy (`getvalue`, once the view is
    released) on CPython, so a 500 MB argument costs 500 MB, not a growing buffer plus
    its copies.
    """

    __slots__ = ("_file", "_view", "length", "filled")

    def __init__(self, length: int) -> None:
        self._file = io.BytesIO(bytes(length))
        self._view = self._file.getbuffer()
        self.length = length
        self.filled = 0  # bytes received, counting the CRLF that ends the bulk

    def fill(self, data) -> int:
        """Take what belongs to the bulk (and its CRLF) from `data`; returns how much."""
        length = self.length
        take = min(length + 2 - self.filled, len(data))
        into_value = min(take, length - self.filled)
        if into_value > 0:
            self._view[self.filled:self.filled + into_value] = data[:into_value]
        self.filled += take
        return take

    def done(self) -> bool:
        return self.filled == self.length + 2

    def value(self) -> bytes:
        """The argument (call once `done()`); the buffer becomes the returned bytes."""
        self._view.release()
        value = self._file.getvalue()
        self._file = None
        return value


class _StrictParser:
    """Incremental parser with redis-server's exact rules (processMultibulkBuffer and
    processInlineBuffer): inline commands, limits, and the error texts.

    The owning `RequestParser` (for its limits and `pending_error`) is passed to `feed`
    rather than kept: a back-reference would make a reference cycle, and a client that
    disconnects mid-request would keep its partial request until a full garbage
    collection."""

    __slots__ = ("_buf", "_pos", "_remaining", "_bulk_len", "_args", "_big")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._remaining = 0  # arguments still expected in the current multibulk
        self._bulk_len = -1  # length of the bulk being read, -1 before its header
        self._args: list[bytes] = []
        self._big: _BigBulk | None = None

    def is_idle(self) -> bool:
        """Nothing is pending: every byte fed has been parsed."""
        return self._remaining == 0 and self._pos >= len(self._buf)

    def at_boundary(self) -> bool:
        """No multibulk request is half-read (unparsed bytes may follow)."""
        return self._remaining == 0

    def buffered(self) -> int:
        big = self._big
        return len(self._buf) - self._pos + (0 if big is None else big.filled)

    def held(self) -> tuple[int, int]:
        """Bytes not parsed yet, and the bytes of the half-read request's arguments."""
        return self.buffered(), sum(map(len, self._args))

    def take_rest(self) -> bytes:
        rest = bytes(self._buf[self._pos:])
        self._buf.clear()
        self._pos = 0
        return rest

    def feed(self, owner: RequestParser, data: bytes,
             handoff: bool) -> list[list[bytes]]:
        """Parse what can be parsed. With `handoff`, stop at the first request boundary
        after the open request completes, leaving the rest for `take_rest()`."""
        requests: list[list[bytes]] = []
        big = self._big
        if big is not None:
            taken = big.fill(memoryview(data))
            if not big.done():
                self._check_buffered(owner)
                return requests
            self._end_big(big)
            data = data[taken:]
            if not self._remaining:
                requests.append(self._args)
                self._args = []
        buf = self._buf
        buf += data
        try:
            while self._pos < len(buf) or self._remaining:
                if handoff and requests:
                    return requests
                if self._remaining:
                    request = self._read_bulks(owner)
                elif buf[self._pos] == 42:
                    request = self._read_multibulk_header(owner)
                else:
                    request = self._read_inline()
                if request is None:
                    break
                if request:
                    requests.append(request)
        except ProtocolError as exc:
            owner.pending_error = exc
            self._pos = len(buf)
            self._remaining = 0
        self._check_buffered(owner)
        if self._pos:
            del buf[:self._pos]
            self._pos = 0
        return requests

    def _check_buffered(self, owner: RequestParser) -> None:
        if self.buffered() > owner.query_buffer_limit:
            owner.pending_error = ProtocolError(None)

    def _read_inline(self) -> list[bytes] | None:
        buf, pos = self._buf, self._pos
        newline = buf.find(b"\n", pos)
        if newline < 0:
            if len(buf) - pos > INLINE_MAX_SIZE:
                raise ProtocolError(errors.PROTO_BIG_INLINE)
            return None
        end = newline - 1 if newline > pos and buf[newline - 1] == 13 else newline
        args = split_inline_args(bytes(buf[pos:end]))
        if args is None:
            raise ProtocolError(errors.PROTO_UNBALANCED_QUOTES)
        self._pos = newline + 1
        return args

    def _read_line(self, too_big: str) -> bytes | None:
        """The header line at the read position (without CRLF), or None if incomplete."""
        buf, pos = self._buf, self._pos
        cr = buf.find(b"\r", pos)
        if cr < 0:
            if len(buf) - pos > INLINE_MAX_SIZE:
                raise ProtocolError(too_big)
            return None
        if cr + 1 >= len(buf):
            return None
        self._pos = cr + 2
        return bytes(buf[pos:cr])

    def _read_multibulk_header(self, owner: RequestParser) -> list[bytes] | None:
        line = self._read_line(errors.PROTO_BIG_MBULK_COUNT)
        if line is None:
            return None
        count = _strict_int(line[1:])
        if count is None or count > INT_MAX:
            raise ProtocolError(errors.PROTO_INVALID_MULTIBULK)
        if count > UNAUTH_MAX_MULTIBULK and not owner.authenticated:
            raise ProtocolError(errors.PROTO_UNAUTH_MULTIBULK)
        if count <= 0:
            return []
        self._remaining = count
        self._args = []
        return self._read_bulks(owner)

    def _read_bulks(self, owner: RequestParser) -> list[bytes] | None:
        buf = self._buf
        args = self._args
        while self._remaining:
            if self._bulk_len < 0:
                start = self._pos
                line = self._read_line(errors.PROTO_BIG_BULK_COUNT)
                if line is None:
                    return None
                if line[:1] != b"$":
                    self._pos = start
                    raise ProtocolError(errors.PROTO_EXPECTED_DOLLAR.format(
                        buf[start:start + 1].decode("utf-8", "surrogateescape")))
                length = _strict_int(line[1:])
                if length is None or length < 0 or length > owner.max_bulk_len:
                    raise ProtocolError(errors.PROTO_INVALID_BULK)
                if length > UNAUTH_MAX_BULK and not owner.authenticated:
                    raise ProtocolError(errors.PROTO_UNAUTH_BULK)
                self._bulk_len = length
            start = self._pos
            end = start + self._bulk_len
            if len(buf) < end + 2:
                if self._bulk_len >= BIG_ARG and len(buf) - start >= min(
                        self._bulk_len // BIG_ARG_SHARE, BIG_ARG_WAIT):
                    self._start_big(buf, start)
                return None
            if self._bulk_len >= BIG_ARG:
                with memoryview(buf) as view:
                    args.append(bytes(view[start:end]))
            else:
                args.append(bytes(buf[start:end]))
            self._pos = end + 2
            self._bulk_len = -1
            self._remaining -= 1
        self._args = []
        return args

    def _start_big(self, buf: bytearray, start: int) -> None:
        """Receive the rest of the open bulk into its own exact-size buffer."""
        big = self._big = _BigBulk(self._bulk_len)
        with memoryview(buf) as view:
            big.fill(view[start:])
        del buf[start:]

    def _end_big(self, big: _BigBulk) -> None:
        self._big = None
        self._args.append(big.value())
        self._bulk_len = -1
        self._remaining -= 1


def _strict_int(text: bytes) -> int | None:
    """redis-server's string2ll: no sign but '-', no leading zeros, no spaces, fits int64."""
    if not _STRICT_INT.match(text):
        return None
    value = int(text)
    if not LONG_MIN <= value <= LONG_MAX:
        return None
    return value


# sdssplitargs skips isspace() between arguments, but only these end an unquoted one.
_INLINE_SPACE = frozenset(b" \n\r\t\v\f")
_ARGUMENT_END = frozenset(b" \n\r\t")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = frozenset(b"0123456789abcdefABCDEF")


def split_inline_args(line: bytes) -> list[bytes] | None:
    """Split an inline request the way redis-server's sdssplitargs does.

    Double quotes allow \\xHH, \\n, \\r, \\t, \\b, \\a and escaped characters; single quotes
    allow only \\'. A closing quote must be followed by a space or the end of the line.
    Returns None for unbalanced quotes.
    """
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _INLINE_SPACE:
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_double = in_single = False
        while True:
            if in_double:
                if i >= n:
                    return None
                c = line[i]
                if (c == 92 and i + 3 < n and line[i + 1] == 120
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    current.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    current.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in _INLINE_SPACE:
                        return None
                    in_double = False
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_single:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    current.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in _INLINE_SPACE:
                        return None
                    in_single = False
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in _ARGUMENT_END:
                    break
                if c == 34:
                    in_double = True
                elif c == 39:
                    in_single = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))


# sdscatrepr: printable ASCII as is, except backslash and double quote; \n \r \t \a \b
# by name; every other byte as \xHH.
_REPR_BYTE = [b"\\x%02x" % byte for byte in range(256)]
for _byte in range(0x20, 0x7F):
    _REPR_BYTE[_byte] = bytes((_byte,))
for _byte, _text in ((0x5C, b"\\\\"), (0x22, b'\\"'), (0x0A, b"\\n"), (0x0D, b"\\r"),
                     (0x09, b"\\t"), (0x07, b"\\a"), (0x08, b"\\b")):
    _REPR_BYTE[_byte] = _text
_NEEDS_ESCAPE = re.compile(rb'[^\x20-\x21\x23-\x5b\x5d-\x7e]')


def sdscatrepr(arg: bytes) -> bytes:
    """An argument double-quoted as Redis' sdscatrepr writes it (MONITOR lines, the
    manifest, CONFIG REWRITE); `split_inline_args` reads it back."""
    if _NEEDS_ESCAPE.search(arg) is None:
        return b'"%s"' % arg
    return b'"%s"' % b"".join([_REPR_BYTE[byte] for byte in arg])


# ---------------------------------------------------------------------------------------
# Replies


def _format_double(value: float) -> bytes:
    """Redis' %.17g formatting for RESP3 doubles and their RESP2 bulk strings."""
    if value != value:
        return b"nan"
    if value in (float("inf"), float("-inf")):
        return b"inf" if value > 0 else b"-inf"
    text = b"%.17g" % value
    return text


# Replies' headers for small integers and lengths, encoded once: appending one costs
# less than formatting it (a bulk is appended as header, value and CRLF, never copied
# into a formatted string first).
_PREENCODED: Final = 1024
_INTEGERS: Final = [b":%d\r\n" % value for value in range(_PREENCODED)]
_BULK_HEADERS: Final = [b"$%d\r\n" % length for length in range(_PREENCODED)]


class ErrorCounter(Protocol):
    """Counts every error reply written (INFO's total_error_replies and errorstats)."""

    def count(self, message: str) -> None: ...


class _NoCounter:
    def count(self, message: str) -> None:
        pass


_NOT_COUNTED = _NoCounter()


class Resp2Writer:
    """Appends RESP2 replies to one output buffer. Commands call these; nothing else
    writes replies, so RESP3 only needs the `Resp3Writer` overrides."""

    __slots__ = ("out", "errors")
    resp3 = False

    def __init__(self, out: bytearray, errors: ErrorCounter | None = None) -> None:
        self.out = out
        self.errors = errors or _NOT_COUNTED

    def ok(self) -> None:
        self.out += b"+OK\r\n"

    def status(self, text: bytes) -> None:
        self.out += b"+%s\r\n" % text

    def error(self, message: str) -> None:
        self.out += b"-%s\r\n" % message.encode("utf-8", "surrogateescape").replace(
            b"\r", b" ").replace(b"\n", b" ")
        self.errors.count(message)

    def integer(self, value: int) -> None:
        if 0 <= value < _PREENCODED:
            self.out += _INTEGERS[value]
        else:
            self.out += b":%d\r\n" % value

    def bulk(self, value: bytes) -> None:
        out = self.out
        length = len(value)
        out += _BULK_HEADERS[length] if length < _PREENCODED else b"$%d\r\n" % length
        out += value
        out += b"\r\n"

    def bulk_or_null(self, value: bytes | None) -> None:
        if value is None:
            self.null()
            return
        out = self.out
        length = len(value)
        out += _BULK_HEADERS[length] if length < _PREENCODED else b"$%d\r\n" % length
        out += value
        out += b"\r\n"

    def null(self) -> None:
        self.out += b"$-1\r\n"

    def null_array(self) -> None:
        self.out += b"*-1\r\n"

    def array_len(self, length: int) -> None:
        self.out += b"*%d\r\n" % length

    def map_len(self, length: int) -> None:
        self.out += b"*%d\r\n" % (length * 2)

    def set_len(self, length: int) -> None:
        self.out += b"*%d\r\n" % length

    def bulks(self, values) -> None:
        """An array of bulk strings (or nulls for None)."""
        out = self.out
        out += b"*%d\r\n" % len(values)
        for value in values:
            if value is None:
                self.null()
            else:
                out += b"$%d\r\n%s\r\n" % (len(value), value)

    def pairs(self, items) -> None:
        """A map of bulk strings to bulk strings; `items` is a sized iterable of pairs."""
        out = self.out
        self.map_len(len(items))
        for key, value in items:
            out += b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value)

    def double(self, value: float) -> None:
        self.bulk(_format_double(value))

    def verbatim(self, text: bytes) -> None:
        self.bulk(text)

    def boolean(self, value: bool) -> None:
        self.out += b":1\r\n" if value else b":0\r\n"


class Resp3Writer(Resp2Writer):
    """RESP3 shapes: maps, sets, `_` nulls, doubles, verbatim strings."""

    __slots__ = ()
    resp3 = True

    def null(self) -> None:
        self.out += b"_\r\n"

    def null_array(self) -> None:
        self.out += b"_\r\n"

    def bulks(self, values) -> None:
        out = self.out
        out += b"*%d\r\n" % len(values)
        for value in values:
            if value is None:
                out += b"_\r\n"
            else:
                out += b"$%d\r\n%s\r\n" % (len(value), value)

    def map_len(self, length: int) -> None:
        self.out += b"%%%d\r\n" % length

    def set_len(self, length: int) -> None:
        self.out += b"~%d\r\n" % length

    def double(self, value: float) -> None:
        self.out += b",%s\r\n" % _format_double(value)

    def verbatim(self, text: bytes) -> None:
        self.out += b"=%d\r\ntxt:%s\r\n" % (len(text) + 4, text)

    def boolean(self, value: bool) -> None:
        self.out += b"#t\r\n" if value else b"#f\r\n"
