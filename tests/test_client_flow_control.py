"""Flow control, watched from inside: a Server on a real Unix socket in this process,
driven by asyncio clients on the same loop, with a sampler that records every
millisecond the input each Client holds unparsed and how many commands have run.
The end-to-end figures (resident memory, other clients' latency) are in
test_client_limits.py; these tests pin the mechanism's bounds exactly."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from servers import encode_request as command

from resp_arbiter import commands  # noqa: F401  (registers the commands)
from resp_arbiter.config import Config
from resp_arbiter.server import Server

KIB = 1024
# What one socket read may add to held input at once (uvloop and asyncio read 256 KiB).
READ_SIZE = 256 * KIB


class Sampler:
    """The largest held input, and the most commands run, seen while it runs."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.held_input = 0
        self.processed: list[int] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            for client in self.server.clients.values():
                self.held_input = max(self.held_input, len(client.inbox))
            self.processed.append(self.server.commands_processed())
            await asyncio.sleep(0.001)

    def __enter__(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def _serve(scenario: Callable[[Server, str], Awaitable[None]], *options: str) -> None:
    """Run `scenario(server, socket_path)` against a fresh in-process Server."""
    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="ra-") as directory:
            path = str(Path(directory) / "flow.sock")
            config = Config()
            config.set("unixsocket", path)
            for name, value in zip(options[::2], options[1::2], strict=True):
                config.set(name, value)
            server = Server(config)
            await server.start()
            try:
                await scenario(server, path)
            finally:
                server.stop()
                await server.serve()

    asyncio.run(main())


async def _table(path: str, key: bytes, fields: int) -> bytes:
    """Create a table of `fields` fields; returns the exact bytes of its HGETALL."""
    reader, writer = await asyncio.open_unix_connection(path)
    args = [b"HSET", key]
    for i in range(fields):
        args += [b"field%d" % i, b"v" * 20]
    writer.write(command(*args) + command("HGETALL", key) + command("ECHO", "end"))
    data = await reader.readuntil(b"$3\r\nend\r\n")
    writer.close()
    return data[len(b":%d\r\n" % fields):-len(b"$3\r\nend\r\n")]


def test_no_request_runs_while_the_replies_wait_unread() -> None:
    """A client that pipelines and does not read: once its transport is full, its
    requests wait (held, not run) until it reads; then every one runs, in order."""
    count = 5000

    async def scenario(server: Server, path: str) -> None:
        reply = await _table(path, b"t", 200)  # about 7 KB a reply, 35 MB in all
        reader, writer = await asyncio.open_unix_connection(path, limit=1 << 20)
        with Sampler(server) as sampler:
            writer.write(command("HGETALL", "t") * count)
            await writer.drain()
            await asyncio.sleep(0.3)
            run_unread = sampler.processed[-1] - sampler.processed[0]
            assert [client.held for client in server.clients.values()] == [True]
            await asyncio.sleep(0.2)
            assert sampler.processed[-1] - sampler.processed[0] == run_unread
        # Replies that fit the transport and the socket buffers, not the pipeline.
        assert run_unread < count // 10
        for _ in range(count):
            assert await reader.readexactly(len(reply)) == reply
        writer.close()

    _serve(scenario)


def test_held_input_stays_within_its_bound() -> None:
    """A client that reads its replies but writes requests faster than they run: the
    arbiter stops reading from it while the held input is over its bound."""
    count = 60_000  # 1.6 MB of requests, against a bound of 1 MB

    async def scenario(server: Server, path: str) -> None:
        reply = await _table(path, b"t", 30)
        reader, writer = await asyncio.open_unix_connection(path, limit=1 << 20)
        with Sampler(server) as sampler:
            writer.write(command("HGETALL", "t") * count)
            for _ in range(count):
                assert await reader.readexactly(len(reply)) == reply
            await writer.drain()
        assert sampler.held_input > 1024 * KIB  # the bound was reached ...
        assert sampler.held_input <= 1024 * KIB + READ_SIZE  # ... and held
        writer.close()

    _serve(scenario, "client-query-buffer-limit", "1mb")

