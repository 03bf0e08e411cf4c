"""Runs one case against a server over a raw Unix socket and compares two transcripts.

A case is a list of steps; each step is one write (one command, a pipeline, or
hand-written protocol bytes) and the number of replies it is owed, or "until the server
closes". After the last step a sync `ECHO` proves that nothing more was owed. Both
servers get the same bytes; each reply pair is compared by the step's comparator
(`exact` unless the reply is genuinely variable, see `compare`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from servers import encode_request

from . import compare as cmp
from .resp import Reply, split_replies

Arg = bytes | str | int
Comparator = Callable[[Reply, Reply], bool]

READ_TIMEOUT = 10.0
SYNC_MARKER = b"differential-sync"
UNTIL_CLOSE = None


def encode(argv: Sequence[Arg]) -> bytes:
    """A request as a RESP multibulk, the way every client library sends it."""
    return encode_request(*argv)


@dataclass(frozen=True)
class Step:
    """One write and the replies it is owed (None: read until the server closes)."""

    payload: bytes
    replies: int | None
    compare: Comparator = cmp.exact
    label: str = ""


def cmd(*argv: Arg, compare: Comparator = cmp.exact) -> Step:
    return Step(encode(argv), 1, compare, " ".join(map(_label, argv)))


def pipeline(*argvs: Sequence[Arg], compare: Comparator = cmp.exact) -> Step:
    """Many commands in one write, each owed one reply."""
    return Step(b"".join(map(encode, argvs)), len(argvs), compare,
                f"pipeline of {len(argvs)}")


def raw(payload: bytes, replies: int | None = UNTIL_CLOSE,
        compare: Comparator = cmp.exact) -> Step:
    """Hand-written protocol bytes (inline commands, malformed requests)."""
    return Step(payload, replies, compare, repr(payload[:60]))


def _label(arg: Arg) -> str:
    text = arg if isinstance(arg, str) else str(arg) if isinstance(arg, int) \
        else arg.decode("utf-8", "backslashreplace")
    return text if len(text) <= 40 else f"{text[:37]}..."


@dataclass(frozen=True)
class Case:
    """A named sequence of steps, run over RESP2 and again after `HELLO 3`."""

    name: str
    steps: tuple[Step, ...]
    protocols: tuple[int, ...] = (2, 3)
    known_mismatch: str = ""  # why the arbiter still differs (the test is a strict xfail)


def case(name: str, *steps: Step, protocols: tuple[int, ...] = (2, 3),
         known_mismatch: str = "") -> Case:
    return Case(name, steps, protocols, known_mismatch)


def params(cases: Sequence[Case]) -> list:
    """pytest parameters: every case once per protocol, known mismatches as strict
    xfails (so fixing the arbiter turns them into failures to clean up)."""
    import pytest

    return [pytest.param(case, protocol, id=f"{case.name}-resp{protocol}",
                         marks=[pytest.mark.xfail(strict=True, reason=case.known_mismatch)]
                         if case.known_mismatch else [])
            for case in cases for protocol in case.protocols]


@dataclass
class Transcript:
    """What one server answered: replies per step, and how the connection ended."""

    replies: list[list[Reply]] = field(default_factory=list)
    closed: bool = False
    timed_out: bool = False
    trailing: bytes = b""


class RawConnection:
    """A Unix-socket connection that reads replies as raw framed bytes."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(READ_TIMEOUT)
        self.sock.connect(path)
        self.buffer = b""
        self.closed = False

    def send(self, payload: bytes) -> None:
        try:
            self.sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def read(self, count: int | None) -> list[Reply]:
        """`count` replies, or every reply until the server closes (count None).

        Stops early when the connection closes; raises TimeoutError when the server
        neither answers nor closes."""
        replies: list[Reply] = []
        while True:
            more, self.buffer = split_replies(
                self.buffer, None if count is None else count - len(replies))
            replies += more
            if count is not None and len(replies) == count:
                return replies
            if self.closed:
                return replies
            try:
                chunk = self.sock.recv(1 << 20)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
            self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def run(path: str, steps: Sequence[Step], protocol: int) -> Transcript:
    """Send `steps` to the server at `path` and record everything it answers."""
    transcript = Transcript()
    conn = RawConnection(path)
    try:
        all_steps = list(steps)
        if protocol == 3:
            all_steps.insert(0, cmd("HELLO", "3", compare=cmp.hello))
        for step in all_steps:
            if conn.closed:
                transcript.replies.append([])
                continue
            conn.send(step.payload)
            transcript.replies.append(conn.read(step.replies))
        if not conn.closed:
            conn.send(encode(["ECHO", SYNC_MARKER]))
            transcript.replies.append(conn.read(1))
        transcript.closed = conn.closed
        transcript.trailing = conn.buffer
    except TimeoutError:
        transcript.timed_out = True
        transcript.trailing = conn.buffer
    finally:
        conn.close()
    return transcript


def differences(steps: Sequence[Step], protocol: int, expected: Transcript,
                actual: Transcript) -> list[str]:
    """Every way the arbiter's transcript differs from redis-server's, as text."""
    all_steps = list(steps)
    if protocol == 3:
        all_steps.insert(0, cmd("HELLO", "3", compare=cmp.hello))
    all_steps.append(cmd("ECHO", SYNC_MARKER))
    found = []
    for attribute in ("closed", "timed_out", "trailing"):
        if getattr(expected, attribute) != getattr(actual, attribute):
            found.append(f"{attribute}: redis {getattr(expected, attribute)!r}, "
                         f"arbiter {getattr(actual, attribute)!r}")
    for index, step in enumerate(all_steps):
        want = expected.replies[index] if index < len(expected.replies) else []
        got = actual.replies[index] if index < len(actual.replies) else []
        if len(want) != len(got):
            found.append(f"step {index} ({step.label}): redis sent {len(want)} replies "
                         f"{_show(want)}, arbiter {len(got)} {_show(got)}")
            continue
        for number, (redis_reply, arbiter_reply) in enumerate(zip(want, got, strict=True)):
            if not step.compare(redis_reply, arbiter_reply):
                found.append(f"step {index} ({step.label}) reply {number}:\n"
                             f"  redis   {redis_reply.raw[:400]!r}\n"
                             f"  arbiter {arbiter_reply.raw[:400]!r}")
    return found


def _show(replies: list[Reply]) -> str:
    return repr(b"".join(reply.raw for reply in replies)[:300])


@contextmanager
def counted() -> Iterator[None]:
    """Count the enclosed comparison as one case: agreed unless an assertion fails."""
    from . import plugin

    try:
        yield
    except AssertionError:
        plugin.record(False)
        raise
    plugin.record(True)


def check(case: Case, protocol: int, redis_path: str, arbiter_path: str) -> None:
    """Run `case` on both servers; count it, and fail with every difference found."""
    from . import plugin

    expected = run(redis_path, case.steps, protocol)
    actual = run(arbiter_path, case.steps, protocol)
    found = differences(case.steps, protocol, expected, actual)
    plugin.record(not found)
    assert not found, f"{case.name} over RESP{protocol}:\n" + "\n".join(found)
