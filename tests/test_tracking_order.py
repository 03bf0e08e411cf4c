"""Invalidations reach the other clients' sockets before the write's reply reaches the
writer: the stash's client cache in another process relies on it (once a write has
returned anywhere, no later read elsewhere may serve the old value). redis-server 7.0
gives that order for BCAST (its invalidations are written in beforeSleep, ahead of the
turn's replies) but not always in the default mode, where the writer's reply may be
written first; the arbiter gives it in both."""

from __future__ import annotations

import select
import socket

import pytest
from servers import encode_request


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def _call(sock: socket.socket, *argv: str) -> bytes:
    sock.sendall(encode_request(*argv))
    return sock.recv(65536)


@pytest.mark.parametrize("mode", [("BCAST",), ()], ids=["bcast", "default"])
def test_the_invalidation_is_in_the_listeners_socket_when_the_writer_is_answered(
        arbiter, mode: tuple[str, ...]) -> None:
    listener, writer = _connect(arbiter.socket_path), _connect(arbiter.socket_path)
    tracker = _connect(arbiter.socket_path)
    try:
        listener_id = _call(listener, "CLIENT", "ID").strip()[1:].decode()
        assert _call(listener, "SUBSCRIBE", "__redis__:invalidate").startswith(b"*3")
        assert _call(tracker, "CLIENT", "TRACKING", "ON", *mode, "REDIRECT",
                     listener_id) == b"+OK\r\n"
        late = 0
        for round_number in range(500):
            key = f"k{round_number}"
            if not mode:  # default mode: the tracker must have read the key
                _call(tracker, "GET", key)
            assert _call(writer, "SET", key, "v") == b"+OK\r\n"
            # The writer has its reply: the listener's invalidation must be there already.
            if not select.select([listener], [], [], 0)[0]:
                late += 1
            data = b""
            while key.encode() not in data:
                data += listener.recv(65536)
        assert late == 0, f"{late} of 500 invalidations came after the write's reply"
    finally:
        for sock in (listener, writer, tracker):
            sock.close()
