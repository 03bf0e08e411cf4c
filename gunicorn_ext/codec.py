"""Value codecs: how stash values become the bytes stored in a hash field, and back.

The default, `JsonCodec`, keeps what people look at in `redis-cli` readable and what
other Redis clients write meaningful:

- `None`, `bool`, `int`, `float`, and lists and dicts of them with string keys are
  stored as plain JSON (`42`, `true`, `{"name": "Alice"}`), so `HINCRBY` works on
  counters and any client can read the value.
- A `str` is stored as its UTF-8 text (`hello`), unless that text would itself parse as
  JSON (`"42"`, `"true"`, `"[1]"`), in which case it is stored as a JSON string
  (`"\\"42\\""`). So text written with `redis-cli hset t k hello` reads back as
  `"hello"`, and text that looks like JSON reads back as the JSON value.
- `bytes` are stored raw behind one `0xff` byte (which never begins valid UTF-8 text);
  a stored value that is not UTF-8 at all reads back as `bytes`.
- Inside lists and dicts, bytes become `{"$b": "<base64>"}` and a dict whose keys are
  not all strings (or that could be mistaken for such a tag) becomes
  `{"$d": [[key, value], ...]}`, so every supported value round-trips exactly.

Tuples are stored as lists (as gunicorn's stash does). Anything else raises
`StashError` naming the type; nothing is ever pickled.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Protocol

from .errors import StashError

_BYTES_MARK = b"\xff"
_BYTES_TAG = "$b"
_DICT_TAG = "$d"
_TAGS = (_BYTES_TAG, _DICT_TAG)
_SCALARS = (str, int, float, type(None))


class Codec(Protocol):
    """What `configure(codec=...)` accepts: a pair of functions between values and bytes."""

    def encode(self, value: Any) -> bytes:
        """The bytes to store for `value`; raises `StashError` if it cannot be stored."""
        ...

    def decode(self, data: bytes) -> Any:
        """The value that `data`, as read from the server, stands for."""
        ...


class BytesCodec:
    """No conversion at all: values must be bytes (or str, stored as UTF-8), reads give bytes.

    For applications that serialise values themselves (protobuf, msgpack, ...).
    """

    def encode(self, value: Any) -> bytes:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, str):
            return value.encode("utf-8")
        raise StashError(f"BytesCodec stores bytes or str, not {type(value).__name__}")

    def decode(self, data: bytes) -> bytes:
        return data


class JsonCodec:
    """The default codec: readable JSON text, exact round trips, no pickle."""

    def encode(self, value: Any) -> bytes:
        if isinstance(value, str):
            if not _parses_as_json(value):
                try:
                    return value.encode("utf-8")
                except UnicodeEncodeError:
                    pass
            return _dumps(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return _BYTES_MARK + bytes(value)
        try:
            return _dumps(_to_json(value))
        except RecursionError:
            raise StashError("cannot store a value nested this deeply (or circular)") from None

    def decode(self, data: bytes) -> Any:
        if data[:1] == _BYTES_MARK:
            return bytes(data[1:])
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return bytes(data)
        if not _may_be_json(text):
            return text
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        return _from_json(parsed)


# What JSON text can start with (Python's json also reads NaN, Infinity, -Infinity), and
# the whitespace it skips first.
_JSON_STARTS = frozenset('{["-0123456789tfnNI')
_JSON_SPACE = " \t\n\r"


def _may_be_json(text: str) -> bool:
    """False for text json.loads would certainly refuse, without paying for the refusal
    (an exception costs more than a round trip's decoding): most stored str values."""
    first = text[:1]
    if first in _JSON_SPACE and first:
        first = text.lstrip(_JSON_SPACE)[:1]
    return first != "" and first in _JSON_STARTS


def _parses_as_json(text: str) -> bool:
    if not _may_be_json(text):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _dumps(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be UTF-8: let JSON escape them instead.
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def _to_json(value: Any) -> Any:
    """A JSON-native structure standing for `value`, with tags where JSON falls short."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, _SCALARS):
        return _plain_scalar(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {_BYTES_TAG: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        if all(type(key) is str for key in value) and not (
            len(value) == 1 and next(iter(value)) in _TAGS
        ):
            return {key: _to_json(item) for key, item in value.items()}
        return {_DICT_TAG: [[_dict_key(key), _to_json(item)] for key, item in value.items()]}
    raise StashError(f"cannot store a value of type {type(value).__name__!r} in the stash")


def _plain_scalar(value: Any) -> Any:
    """Subclasses (str enums, int enums, ...) are stored as their base type."""
    for kind in (str, int, float):
        if isinstance(value, kind) and type(value) is not kind:
            return kind(value)
    return value


def _dict_key(key: Any) -> Any:
    if isinstance(key, (bool, *_SCALARS, bytes)):
        return _to_json(key)
    raise StashError(f"cannot store a dict key of type {type(key).__name__!r} in the stash")


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        tag, body = next(iter(value.items()))
        if tag == _BYTES_TAG and isinstance(body, str):
            try:
                return base64.b64decode(body, validate=True)
            except binascii.Error:
                return {tag: body}
        if tag == _DICT_TAG and isinstance(body, list):
            try:
                return {_hashable(_from_json(k)): _from_json(v) for k, v in body}
            except (TypeError, ValueError):
                return {tag: _from_json(body)}
    return {key: _from_json(item) for key, item in value.items()}


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, dict)):
        raise TypeError("unhashable dict key")
    return key


DEFAULT_CODEC: Codec = JsonCodec()
