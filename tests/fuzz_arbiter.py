"""A fuzzer of the arbiter's parser and of every command's arguments, against a real process.

Each input goes to a real arbiter over its Unix socket: either a mutated byte stream (the
parser) or one well-formed request whose arguments are drawn from values that stress
parsers (huge and signed numbers, floats, options of every command, globs, binary and
long strings). After every input a second client must get PONG at once and read its
sentinel table intact, and no reply may be `ERR internal error`. At the end the arbiter's
log must hold no traceback.

    python tests/fuzz_arbiter.py --inputs 1000000 --seed 1

The suite runs a small size of it (`tests/test_fuzz.py`); the same seed gives the same
inputs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import hiredis
from servers import ServerProcess, encode_request, start_arbiter

from resp_arbiter import commands  # noqa: F401  (registers the commands)
from resp_arbiter.registry import COMMANDS, Command, parse_syntax

# Commands whose purpose is to end, silence or reconfigure the server or its clients:
# they would stop the fuzzing itself rather than find a fault in it.
EXCLUDED = frozenset((
    "shutdown", "debug", "monitor", "subscribe", "psubscribe", "ssubscribe",
    "flushall", "flushdb", "swapdb", "select", "move", "config|set", "config|rewrite",
    "config|resetstat", "client|kill", "client|pause", "client|reply", "client|no-evict",
    "client|tracking", "auth", "hello", "quit", "reset", "save", "bgsave", "bgrewriteaof",
    "slaveof", "replicaof", "failover", "sync", "psync",
))
SENTINEL = b"fuzz-sentinel"
SENTINEL_FIELDS = {b"f%d" % i: b"v%d" % i for i in range(20)}
CHECK_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
MAX_LEFT_OPEN = 16
KEYS = [b"fz:%d" % i for i in range(6)]
FIELDS = [b"f%d" % i for i in range(6)]
NUMBERS = [b"0", b"1", b"-1", b"2", b"10", b"100", b"-100", b"2147483647", b"2147483648",
           b"4294967296", b"9223372036854775807", b"9223372036854775808",
           b"-9223372036854775808", b"-9223372036854775809", b"18446744073709551615",
           b"18446744073709551616", b"4611686018427387903", b"4611686018427387904",
           b"-4611686018427387904", b"281474976710655", b"281474976710656", b"+1", b"01",
           b" 1", b"1 ", b"0x10", b"1e3", b"-0", b"", b"9" * 5000, b"-" + b"9" * 5000]
FLOATS = [b"1.5", b"-1.5", b"inf", b"-inf", b"+inf", b"nan", b"1e308", b"1e309", b"-1e309",
          b".5", b"5.", b"1e-400", b"0.1e", b"1" * 400 + b".5"]
GLOBS = [b"*", b"fz:*", b"*0", b"?", b"[", b"[^a]", b"[a-]", b"\\", b"*" * 200 + b"x",
         b"[" * 50, b"a\\*", b"[z-a]*"]
WORDS = [b"EX", b"PX", b"EXAT", b"PXAT", b"NX", b"XX", b"GT", b"LT", b"KEEPTTL", b"FNX",
         b"FXX", b"FIELDS", b"GET", b"MATCH", b"COUNT", b"TYPE", b"hash", b"string",
         b"WITHVALUES", b"NOVALUES", b"SAMPLES", b"ASYNC", b"SYNC", b"REPLACE", b"DB",
         b"PERSIST", b"ID", b"ADDR", b"LADDR", b"USER", b"SKIPME", b"MAXAGE", b"ON", b"OFF",
         b"yes", b"no", b"FILTERBY", b"PATTERN", b"ACLCAT", b"MODULE", b"HELP", b"RESET",
         b"LEN"]


def all_commands() -> list[Command]:
    """Every command and subcommand the arbiter declares, but the excluded ones."""
    found = []
    for top in COMMANDS.values():
        for spec in (top, *top.subcommands.values()):
            if spec.handler is not None and spec.full_name not in EXCLUDED:
                found.append(spec)
    return found


def syntax_tokens(spec: Command) -> list[bytes]:
    """The option words a command's declared syntax names (EX, FIELDS, MATCH, ...)."""
    tokens: list[bytes] = []
    stack = parse_syntax(spec.syntax) if spec.syntax else []
    while stack:
        argument = stack.pop()
        if argument.token:
            tokens.append(argument.token.encode())
        stack.extend(argument.arguments)
    return tokens


def shown(value: object, limit: int = 300) -> str:
    """A repr short enough for a failure message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


@dataclass
class Generator:
    """Draws inputs from a seeded random source, so a seed reproduces a run."""

    rng: random.Random
    specs: list[Command] = field(default_factory=all_commands)

    def value(self, tokens: list[bytes]) -> bytes:
        rng = self.rng
        kind = rng.random()
        if kind < 0.2:
            return rng.choice(KEYS)
        if kind < 0.3:
            return rng.choice(FIELDS)
        if kind < 0.5:
            return rng.choice(NUMBERS)
        if kind < 0.58:
            return rng.choice(FLOATS)
        if kind < 0.66:
            return rng.choice(GLOBS)
        if kind < 0.85:
            word = rng.choice(tokens or WORDS) if rng.random() < 0.7 else rng.choice(WORDS)
            return word.lower() if rng.random() < 0.3 else word
        if kind < 0.95:
            return rng.randbytes(rng.randrange(0, 12))
        return rng.randbytes(rng.choice((65, 200, 5000)))

    def command(self) -> list[bytes]:
        """One well-formed request: a command, often a valid arity, random arguments."""
        rng = self.rng
        spec = rng.choice(self.specs)
        name = spec.full_name.split("|")
        prefix = [part.encode() for part in name]
        if rng.random() < 0.2:
            prefix = [part.upper() for part in prefix]
        arity = abs(spec.arity)
        count = max(arity - len(prefix), 0) + rng.choice((0, 0, 0, 1, 2, 3, 4, 6, -1))
        tokens = syntax_tokens(spec)
        return prefix + [self.value(tokens) for _ in range(max(count, 0))]

    def stream(self) -> bytes:
        """A byte stream: valid requests, then mutated (bytes flipped, cut, spliced)."""
        rng = self.rng
        parts = []
        for _ in range(rng.randrange(1, 4)):
            argv = self.command()
            parts.append(encode_request(*argv) if rng.random() < 0.8
                         else b" ".join(argv) + b"\r\n")
        data = bytearray(b"".join(parts))
        for _ in range(rng.randrange(1, 6)):
            action = rng.random()
            position = rng.randrange(len(data) + 1)
            if action < 0.4 and data:
                data[min(position, len(data) - 1)] = rng.randrange(256)
            elif action < 0.6:
                data[position:position] = rng.choice(
                    (b"*", b"$", b"\r\n", b"-1", b"*99999\r\n", b"$-1\r\n", b"\"", b"'",
                     b"$2147483648\r\n", b"*1\r\n$3\r\n", b"\x00", b"+OK\r\n", b":1\r\n"))
            elif action < 0.8:
                del data[position:position + rng.randrange(1, 8)]
            else:
                data = data[:position]
        return bytes(data)


class Connection:
    """A raw client connection that reads replies with hiredis."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(READ_TIMEOUT)
        self.sock.connect(path)
        self.reader = hiredis.Reader()
        self.closed = False

    def replies(self, count: int) -> Iterator[object]:
        """Read `count` replies (fewer if the server closes the connection)."""
        while count:
            reply = self.reader.gets()
            if reply is False:
                data = self.sock.recv(1 << 16)
                if not data:
                    self.closed = True
                    return
                self.reader.feed(data)
                continue
            count -= 1
            yield reply

    def drain(self) -> list[object]:
        """Whatever replies have arrived, without waiting."""
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    self.closed = True
                    break
                self.reader.feed(data)
        except (BlockingIOError, ConnectionResetError):
            pass
        finally:
            self.sock.settimeout(READ_TIMEOUT)
        found = []
        try:
            while (reply := self.reader.gets()) is not False:
                found.append(reply)
        except hiredis.ProtocolError:
            pass
        return found

    def close(self) -> None:
        self.sock.close()


class FuzzFailure(AssertionError):
    """The arbiter misbehaved; the message holds the input that did it."""


def _internal_errors(replies: list[object]) -> list[object]:
    found = []
    stack = list(replies)
    while stack:
        reply = stack.pop()
        if isinstance(reply, hiredis.ReplyError) and "internal error" in str(reply):
            found.append(reply)
        elif isinstance(reply, list):
            stack.extend(reply)
    return found


@dataclass
class Report:
    inputs: int = 0
    commands: int = 0
    streams: int = 0
    seconds: float = 0.0
    worst_check: float = 0.0


class Fuzzer:
    """Feeds inputs to a running arbiter and checks it after each one."""

    def __init__(self, server: ServerProcess, seed: int) -> None:
        self.server = server
        self.generator = Generator(random.Random(seed))
        self.checker = Connection(server.socket_path)
        self.checker.sock.sendall(encode_request(b"HSET", SENTINEL, *(
            item for pair in SENTINEL_FIELDS.items() for item in pair)))
        list(self.checker.replies(1))
        self.client = Connection(server.socket_path)
        self.left_open: list[Connection] = []
        self.report = Report()

    def run(self, inputs: int, stream_share: float = 0.3) -> Report:
        start = time.perf_counter()
        rng = self.generator.rng
        for _ in range(inputs):
            if rng.random() < stream_share:
                self._stream()
            else:
                self._command()
            self._check()
            self.report.inputs += 1
        self.report.seconds = time.perf_counter() - start
        for connection in (self.client, self.checker, *self.left_open):
            connection.close()
        return self.report

    def _fresh_client(self) -> None:
        self.client.close()
        self.client = Connection(self.server.socket_path)

    def _command(self) -> None:
        """One request, then an ECHO marker; read until the marker (or the close)."""
        argv = self.generator.command()
        self.report.commands += 1
        if self.client.closed:
            self._fresh_client()
        try:
            self.client.sock.sendall(encode_request(*argv)
                                     + encode_request(b"ECHO", b"fuzz-marker"))
            replies = list(self.client.replies(2))
        except (BrokenPipeError, ConnectionResetError):
            self._fresh_client()
            return
        except TimeoutError:
            raise FuzzFailure(f"no reply within {READ_TIMEOUT}s to {shown(argv)}") from None
        except hiredis.ProtocolError as exc:
            raise FuzzFailure(f"unparsable reply to {shown(argv)}: {exc}") from None
        bad = _internal_errors(replies)
        if bad:
            raise FuzzFailure(f"{shown(argv)} answered {shown(bad[0])}")
        if replies and replies[-1] in (b"QUEUED", "QUEUED") and self.generator.rng.random() < 0.5:
            self._fresh_client()  # leave MULTI now and then, so commands run

    def _stream(self) -> None:
        """A mutated byte stream on a connection of its own, closed at once or left open
        (perhaps mid-request) among the last few such connections."""
        data = self.generator.stream()
        self.report.streams += 1
        connection = Connection(self.server.socket_path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sock.sendall(data)
        replies = connection.drain()
        bad = _internal_errors(replies)
        if bad:
            raise FuzzFailure(f"{shown(data)} answered {shown(bad[0])}")
        if self.generator.rng.random() < 0.5:
            connection.close()
            return
        self.left_open.append(connection)
        if len(self.left_open) > MAX_LEFT_OPEN:
            self.left_open.pop(0).close()

    def _check(self) -> None:
        """A second client gets PONG at once and reads the sentinel table intact."""
        began = time.perf_counter()
        checker = self.checker
        try:
            checker.sock.sendall(encode_request(b"PING") + encode_request(b"HGETALL", SENTINEL))
            pong, table = checker.replies(2)
        except (OSError, ValueError) as exc:
            raise FuzzFailure(f"the checking client failed after input "
                              f"{self.report.inputs}: {exc!r}") from None
        elapsed = time.perf_counter() - began
        self.report.worst_check = max(self.report.worst_check, elapsed)
        if pong != b"PONG":
            raise FuzzFailure(f"PING answered {pong!r} after input {self.report.inputs}")
        if elapsed > CHECK_TIMEOUT:
            raise FuzzFailure(f"PING took {elapsed:.2f}s after input {self.report.inputs}")
        if isinstance(table, dict):
            table = [item for pair in table.items() for item in pair]
        if dict(zip(table[::2], table[1::2], strict=True)) != SENTINEL_FIELDS:
            raise FuzzFailure(f"sentinel table changed after input {self.report.inputs}")


def tracebacks(log_path: Path) -> str:
    text = log_path.read_text(errors="replace")
    return text if "Traceback" in text else ""


def fuzz(directory: Path, inputs: int, seed: int) -> Report:
    """Start an arbiter in `directory`, fuzz it, stop it; raises FuzzFailure on a fault."""
    with start_arbiter(directory, "--loglevel", "warning", name=f"fuzz-{seed}") as server:
        report = Fuzzer(server, seed).run(inputs)
        if server.process.poll() is not None:
            raise FuzzFailure(f"the arbiter exited with {server.process.returncode}")
    found = tracebacks(server.log_path)
    if found:
        raise FuzzFailure(f"the arbiter logged a traceback:\n{found[-4000:]}")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "big"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ra-fuzz-") as directory:
        try:
            report = fuzz(Path(directory), args.inputs, args.seed)
        except FuzzFailure as exc:
            print(f"seed {args.seed}: FAILED: {exc}")
            return 1
    print(f"seed {args.seed}: {report.inputs} inputs ({report.commands} commands, "
          f"{report.streams} byte streams) in {report.seconds:.1f}s, "
          f"{report.inputs / report.seconds:.0f}/s; slowest check "
          f"{report.worst_check * 1000:.1f} ms; no fault")
    return 0


if __name__ == "__main__":
    sys.exit(main())
