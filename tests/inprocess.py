"""For tests that run a Server and its Clients in this process, without sockets."""

from __future__ import annotations


class Transport:
    """Just enough of an asyncio transport to connect a Client and keep what it sends."""

    def __init__(self) -> None:
        self.sent = bytearray()

    def write(self, data: bytes) -> None:
        self.sent += data

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str) -> None:
        return None

    def close(self) -> None:
        pass

    abort = close
