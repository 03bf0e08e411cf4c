"""Reply comparators. `exact` is the rule; the others exist only for replies whose
content is genuinely variable (ids, times, versions, hash order of large hashes,
randomness) and say precisely what is still compared."""

from __future__ import annotations

import re

from .resp import Reply


def exact(redis: Reply, arbiter: Reply) -> bool:
    """Byte for byte."""
    return redis.raw == arbiter.raw


def kind(redis: Reply, arbiter: Reply) -> bool:
    """Same reply type only (MEMORY USAGE's number is an estimate on both sides)."""
    return redis.kind == arbiter.kind and (redis.value is None) == (arbiter.value is None)


def _header(reply: Reply) -> bytes:
    return reply.raw[:reply.raw.index(b"\r\n")]


def unordered(redis: Reply, arbiter: Reply) -> bool:
    """Same aggregate type and size, same elements in any order; maps and RESP2 flat
    field/value arrays (`pairs=True`) as sets of pairs.

    For replies in hash-table order: HGETALL/HKEYS/HVALS of large hashes, KEYS."""
    if _header(redis) != _header(arbiter) or redis.kind not in "*~%":
        return exact(redis, arbiter)
    return _items(redis, redis.kind == "%") == _items(arbiter, arbiter.kind == "%")


def unordered_pairs(redis: Reply, arbiter: Reply) -> bool:
    """HGETALL in RESP2 (a flat field, value, ... array) or RESP3 (a map): the pairs in
    any order."""
    if _header(redis) != _header(arbiter) or redis.kind not in "*%":
        return exact(redis, arbiter)
    return _items(redis, True) == _items(arbiter, True)


def _items(reply: Reply, pairs: bool) -> list[bytes]:
    children = reply.children
    if pairs:
        return sorted(a.raw + b.raw for a, b in zip(children[::2], children[1::2], strict=True))
    return sorted(child.raw for child in children)


def hello(redis: Reply, arbiter: Reply) -> bool:
    """HELLO's map with `id` and `version` masked (client ids and the claimed release
    differ by design); errors compare exactly."""
    if redis.kind == "-" or arbiter.kind == "-":
        return exact(redis, arbiter)
    return _masked(redis, {b"id", b"version"}) == _masked(arbiter, {b"id", b"version"})


def _masked(reply: Reply, names: set[bytes]) -> list[bytes]:
    out = [_header(reply)]
    children = reply.children
    for key, value in zip(children[::2], children[1::2], strict=True):
        out += [key.raw, value.kind.encode() if key.value in names else value.raw]
    return out


def integer_kind(redis: Reply, arbiter: Reply) -> bool:
    """Both integers (client ids): the number itself is per connection."""
    return redis.kind == arbiter.kind == ":"


def time_shape(redis: Reply, arbiter: Reply) -> bool:
    """TIME: two bulk strings of digits, seconds and microseconds."""
    def shape(reply: Reply) -> tuple:
        children = reply.children
        return (_header(reply), tuple(c.kind for c in children),
                all(isinstance(c.value, bytes) and c.value.isdigit() for c in children))
    return shape(redis) == shape(arbiter) and shape(redis)[2]


def random_shape(redis: Reply, arbiter: Reply) -> bool:
    """HRANDFIELD and RANDOMKEY: same type and size; membership is checked by the
    test that knows the data (see `members_of`). Errors compare exactly."""
    if "-" in (redis.kind, arbiter.kind):
        return exact(redis, arbiter)
    if redis.kind != arbiter.kind or (redis.value is None) != (arbiter.value is None):
        return False
    if isinstance(redis.value, list):
        return (_header(redis) == _header(arbiter)
                and [c.kind for c in redis.children] == [c.kind for c in arbiter.children]
                and [_header(c) for c in redis.children if c.kind in "*~%"]
                == [_header(c) for c in arbiter.children if c.kind in "*~%"])
    return True


def members_of(allowed: set[bytes]):
    """HRANDFIELD/RANDOMKEY replies: shape as Redis', every element drawn from `allowed`
    (for WITHVALUES: every field and every value)."""
    def compare(redis: Reply, arbiter: Reply) -> bool:
        return random_shape(redis, arbiter) and all(
            value in allowed for value in _leaves(arbiter)) and all(
            value in allowed for value in _leaves(redis))
    return compare


def _leaves(reply: Reply) -> list[bytes]:
    if isinstance(reply.value, list):
        return [leaf for child in reply.children for leaf in _leaves(child)]
    return [reply.value] if isinstance(reply.value, bytes) and reply.kind in "$" else []


_SUBEXPIRY = re.compile(rb",subexpiry=[0-9]+")


def info_keyspace(redis: Reply, arbiter: Reply) -> bool:
    """INFO keyspace exactly, but for the arbiter's `subexpiry=` count of fields with a
    time to live (a Redis 7.4 field, pinned in test_differential_deliberate.py)."""
    if redis.kind != arbiter.kind or not isinstance(arbiter.value, bytes):
        return False
    return redis.value == _SUBEXPIRY.sub(b"", arbiter.value)
