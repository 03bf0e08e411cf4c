"""Glob patterns match the same names in the arbiter as in redis-server, for any pattern.

Patterns and names are drawn from a tiny alphabet rich in the pattern syntax
(`* ? [ ] ^ - \\`, a byte above 0x7f for C's signed chars, a capital for case), so that
classes, ranges, escapes, unterminated classes and trailing backslashes come up often.
KEYS and HSCAN MATCH are case-sensitive; CONFIG GET and COMMAND LIST FILTERBY PATTERN
fold case, and are checked on names both servers have.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from differential.session import Session, session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import Pair, ServerProcess

from resp_arbiter.config import SETTINGS as ARBITER_SETTINGS

SYNTAX = b"ab*?[]^-\\\xe9A"
names = st.lists(st.sampled_from(list(SYNTAX.replace(b"*", b""))), max_size=6).map(bytes)
patterns = st.lists(st.sampled_from(list(SYNTAX)), max_size=12).map(bytes)

SETTINGS_ = settings(max_examples=400, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def both(arbiter: ServerProcess, redis_server: ServerProcess
         ) -> Iterator[tuple[Session, Session]]:
    with session(arbiter.socket_path) as ours, session(redis_server.socket_path) as theirs:
        yield ours, theirs


def _strings(session: Session, *argv: bytes | str | int) -> list[bytes]:
    """A command's reply, an array of bulk strings."""
    reply = session.call(*argv)
    assert reply.kind == "*", reply.raw
    return [child.value for child in reply.children]


def _load(session: Session, keys: set[bytes]) -> None:
    session.call("FLUSHALL")
    for key in keys:
        session.call("HSET", key, "f", "v")
        session.call("HSET", b"\x00fields", key, "v")


def _matched(session: Session, pattern: bytes) -> tuple[set[bytes], set[bytes]]:
    keys = set(_strings(session, "KEYS", pattern))
    reply = session.call("HSCAN", b"\x00fields", 0, "MATCH", pattern, "COUNT", 1000)
    assert reply.children[0].value == b"0"
    return keys, {field.value for field in reply.children[1].children[::2]}


@SETTINGS_
@given(keys=st.sets(names, min_size=1, max_size=8), pattern=patterns)
def test_keys_and_hscan_match_like_redis(both: tuple[Session, Session],
                                         keys: set[bytes], pattern: bytes) -> None:
    ours, theirs = both
    _load(ours, keys)
    _load(theirs, keys)
    assert _matched(ours, pattern) == _matched(theirs, pattern)


@st.composite
def folded_patterns(draw: st.DrawFn, pool: list[bytes]) -> bytes:
    """A pattern made from one of `pool`'s names, each byte kept, re-cased, or replaced
    by `?`, `*`, an escape, a class, a negated class or a range around it."""
    name = draw(st.sampled_from(pool))
    out = bytearray()
    letters = b"aAzZmMhH_-"
    for byte in name:
        other = draw(st.sampled_from(list(letters)))
        kind = draw(st.integers(0, 7))
        if kind == 0:
            out.append(byte)
        elif kind == 1:
            out += bytes([byte]).upper()
        elif kind == 2:
            out += b"?"
        elif kind == 3:
            out += b"*"
        elif kind == 4:
            out += b"\\" + bytes([byte]).upper()
        elif kind == 5:
            out += b"[" + bytes([other, byte]).upper() + b"]"
        elif kind == 6:
            out += b"[^" + bytes([other]) + b"]"
        else:
            out += b"[" + bytes([other]) + b"-" + bytes([byte]).upper() + b"]"
    return bytes(out)


@pytest.fixture(scope="module")
def config_names(session_pair: Pair) -> list[bytes]:
    with session(session_pair.redis.socket_path) as theirs_session:
        theirs = set(_strings(theirs_session, "CONFIG", "GET", "*")[::2])
    return sorted(name.encode() for name in ARBITER_SETTINGS if name.encode() in theirs)


@SETTINGS_
@given(data=st.data())
def test_config_get_folds_case_like_redis(both: tuple[Session, Session],
                                          config_names: list[bytes],
                                          data: st.DataObject) -> None:
    pattern = data.draw(folded_patterns(config_names))
    common = set(config_names)
    ours, theirs = (
        {name.lower() for name in _strings(session, "CONFIG", "GET", pattern)[::2]
         if name.lower() in common} for session in both)
    assert ours == theirs


@pytest.fixture(scope="module")
def command_names(session_pair: Pair) -> list[bytes]:
    names = []
    for server in (session_pair.arbiter, session_pair.redis):
        with session(server.socket_path) as one:
            names.append(set(_strings(one, "COMMAND", "LIST")))
    return sorted(names[0] & names[1])


@SETTINGS_
@given(data=st.data())
def test_command_list_pattern_folds_case_like_redis(both: tuple[Session, Session],
                                                    command_names: list[bytes],
                                                    data: st.DataObject) -> None:
    pattern = data.draw(folded_patterns(command_names))
    common = set(command_names)
    ours, theirs = (
        {name for name in _strings(session, "COMMAND", "LIST", "FILTERBY", "PATTERN", pattern)
         if name in common} for session in both)
    assert ours == theirs
