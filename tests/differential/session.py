"""A small request/reply helper over `RawConnection` for tests that inspect one
server's replies themselves (shapes of variable replies, deliberate differences)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from .harness import Arg, RawConnection, encode
from .resp import Reply


class Session:
    """One connection; `call` sends a command and returns its framed reply."""

    def __init__(self, path: str) -> None:
        self.conn = RawConnection(path)

    def call(self, *argv: Arg) -> Reply:
        self.conn.send(encode(argv))
        replies = self.conn.read(1)
        assert replies, f"connection closed on {argv!r}"
        return replies[0]

    def calls(self, argvs: Sequence[Sequence[Arg]]) -> list[Reply]:
        return [self.call(*argv) for argv in argvs]


@contextmanager
def session(path: str, protocol: int = 2) -> Iterator[Session]:
    """A session, switched to RESP3 first when asked."""
    s = Session(path)
    try:
        if protocol == 3:
            assert s.call("HELLO", "3").kind == "%"
        yield s
    finally:
        s.conn.close()
