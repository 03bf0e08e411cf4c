"""A framing reader for RESP2/RESP3 replies that keeps each reply's exact bytes.

hiredis turns replies into Python values and loses what the comparison is about (`$-1`
versus `*-1` versus `_`, `+` versus `$`, the digits of a double), so the harness frames
the byte stream itself and parses a reply only as far as a normaliser needs.
"""

from __future__ import annotations

from dataclasses import dataclass

_LINE_TYPES = frozenset(b"+-:_,#(")
_BULK_TYPES = frozenset(b"$!=")
_ARRAY_TYPES = frozenset(b"*~>")
_MAP_TYPES = frozenset(b"%|")


class Incomplete(Exception):
    """The buffer ends inside a reply."""


class FramingError(Exception):
    """The bytes are not RESP: a server sent something no client could parse."""


@dataclass(frozen=True)
class Reply:
    """One complete reply: its type byte, its exact bytes and its parsed payload.

    `value` is the line or bulk payload (None for a null bulk or array), or for arrays,
    sets, pushes and maps the list of child replies (maps flattened key, value, ...)."""

    kind: str
    raw: bytes
    value: bytes | list[Reply] | None

    @property
    def children(self) -> list[Reply]:
        return self.value if isinstance(self.value, list) else []

    def text(self) -> str:
        """The payload of a line or bulk reply as text (verbatim strings without `txt:`)."""
        payload = self.value if isinstance(self.value, bytes) else b""
        if self.kind == "=":
            payload = payload[4:]
        return payload.decode("utf-8", "replace")


def _line(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    return data[pos:end], end + 2


def _length(text: bytes) -> int:
    try:
        return int(text)
    except ValueError:
        raise FramingError(f"bad length {text!r}") from None


def parse_reply(data: bytes, pos: int = 0) -> tuple[Reply, int]:
    """The reply starting at `pos` and the offset just past it; raises Incomplete."""
    if pos >= len(data):
        raise Incomplete
    kind = data[pos]
    header, after = _line(data, pos + 1)
    value: bytes | list[Reply] | None
    if kind in _LINE_TYPES:
        value = header
        end = after
    elif kind in _BULK_TYPES:
        length = _length(header)
        if length < 0:
            value, end = None, after
        else:
            end = after + length + 2
            if len(data) < end:
                raise Incomplete
            if data[end - 2:end] != b"\r\n":
                raise FramingError(f"bulk not followed by CRLF at {end - 2}")
            value = data[after:end - 2]
    elif kind in _ARRAY_TYPES or kind in _MAP_TYPES:
        count = _length(header)
        if count < 0:
            value, end = None, after
        else:
            if kind in _MAP_TYPES:
                count *= 2
            children = []
            end = after
            for _ in range(count):
                child, end = parse_reply(data, end)
                children.append(child)
            value = children
    else:
        raise FramingError(f"unknown reply type {chr(kind)!r} at offset {pos}")
    return Reply(chr(kind), data[pos:end], value), end


def split_replies(data: bytes, limit: int | None = None) -> tuple[list[Reply], bytes]:
    """Complete replies at the start of `data` (at most `limit`) and the bytes left over."""
    replies: list[Reply] = []
    pos = 0
    while pos < len(data) and (limit is None or len(replies) < limit):
        try:
            reply, pos_after = parse_reply(data, pos)
        except Incomplete:
            break
        replies.append(reply)
        pos = pos_after
    return replies, data[pos:]
