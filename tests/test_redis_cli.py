"""The real redis-cli against the arbiter: operators inspect live stash tables with it, so
its one-shot output, interactive mode (with hints), and its tools (--scan, --bigkeys,
--memkeys, --stat) must work as they do against redis-server."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from servers import Pair, PairFactory, ServerProcess, require_binary

TIMEOUT = 10.0
PASSWORD = "pw"


def cli(server: ServerProcess, *args: str, stdin: bytes | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    """Runs redis-cli against the server's socket and returns the finished process."""
    argv = [require_binary("redis-cli"), "-s", server.socket_path, *args]
    done = subprocess.run(argv, input=stdin if stdin is not None else b"",
                          capture_output=True, timeout=TIMEOUT)
    if check:
        assert done.returncode == 0, done
    return done


def output(server: ServerProcess, *args: str, stdin: bytes | None = None) -> str:
    return cli(server, *args, stdin=stdin).stdout.decode()


class Terminal:
    """redis-cli on a pseudo-terminal, as an operator runs it: line editing and hints on.

    Reads are driven by a deadline: `expect` returns as soon as the pattern is on screen
    and fails with everything read so far when it is not there in time."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = pty.openpty()
        # linenoise asks the terminal for its width when the pty reports none.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
        env = {**os.environ, "TERM": "xterm", "HOME": str(Path(argv[-1]).parent)}
        env.pop("REDISCLI_HISTFILE", None)
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                        env=env, close_fds=True)
        os.close(slave)
        self.screen = b""

    def expect(self, pattern: bytes, timeout: float = TIMEOUT) -> re.Match:
        """Waits for `pattern` in the output not yet consumed; consumes up to its end."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.screen, re.DOTALL)
            if found:
                self.screen = self.screen[found.end():]
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen; output: {self.screen!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{pattern!r} not seen before EOF: {self.screen!r}")
                self.screen += chunk

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.wait(TIMEOUT)
        os.close(self.master)


@pytest.fixture
def terminal_for() -> Iterator:
    """Starts redis-cli on a pty for a server; every terminal is closed after the test."""
    terminals: list[Terminal] = []

    def start(server: ServerProcess, *args: str) -> Terminal:
        argv = [require_binary("redis-cli"), *args, "-s", server.socket_path]
        terminals.append(Terminal(argv))
        return terminals[-1]

    yield start
    for terminal in terminals:
        terminal.close()


@pytest.fixture(scope="module")
def auth_servers(module_server_pair: PairFactory) -> Pair:
    return module_server_pair("--requirepass", PASSWORD)


def fill(server: ServerProcess, users: int = 300, big: int = 1000) -> None:
    """`users` small hashes, one `big` hash and a medium one, through redis-py."""
    with redis.Redis(unix_socket_path=server.socket_path, protocol=2) as client, \
            client.pipeline(transaction=False) as pipe:
        for n in range(users):
            pipe.hset(f"user:{n}", mapping={"name": f"u{n}", "visits": n})
        pipe.hset("sessions", mapping={f"s{n}": "x" * 40 for n in range(big)})
        pipe.hset("config", mapping={f"k{n}": "v" for n in range(20)})
        pipe.execute()


ONE_SHOT = [
    ["hset", "h", "a", "1", "b", "2", "empty", ""],
    ["hget", "h", "a"],
    ["hget", "h", "missing"],
    ["hget", "nokey", "a"],
    ["hmget", "h", "a", "missing", "b"],
    ["hgetall", "h"],
    ["hgetall", "nokey"],
    ["hkeys", "h"],
    ["hvals", "h"],
    ["hlen", "h"],
    ["hexists", "h", "a"],
    ["hstrlen", "h", "b"],
    ["hincrby", "h", "a", "5"],
    ["hincrby", "h", "empty", "1"],
    ["hincrbyfloat", "h", "b", "0.5"],
    ["hincrbyfloat", "h", "b", "1e3"],
    ["hsetnx", "h", "a", "x"],
    ["hscan", "h", "0"],
    ["hscan", "h", "0", "MATCH", "a*"],
    ["hrandfield", "nokey"],
    ["hrandfield", "nokey", "2", "WITHVALUES"],
    ["hset", "spaced", "field with space", "line\nbreak", "quote", "\"'"],
    ["hgetall", "spaced"],
    ["hset", "bytes", "f", "\x01\xc3\xa9\x7f"],
    ["hget", "bytes", "f"],
    ["type", "h"],
    ["type", "nokey"],
    ["exists", "h", "nokey"],
    ["rename", "spaced", "renamed"],
    ["rename", "nokey", "x"],
    ["renamenx", "renamed", "h"],
    ["dbsize"],
    ["config", "get", "timeout"],
    ["config", "get", "no-such-setting"],
    ["echo", "hello world"],
    ["ping"],
    ["ping", "hi"],
    ["hget", "h"],
    ["nosuchcommand", "x", "y"],
    ["client", "nosuchsub"],
    ["del", "h", "renamed", "nokey"],
    ["hgetall", "h"],
    ["set", "s", "a value"],
    ["get", "s"],
    ["set", "s", "b", "GET"],
    ["mget", "s", "nokey"],
    ["incrbyfloat", "f", "1.5"],
    ["incr", "s"],
    ["getrange", "s", "0", "-1"],
    ["type", "s"],
    ["hget", "s", "x"],
    ["object", "encoding", "f"],
    ["del", "s", "f"],
]


@pytest.mark.parametrize("mode", [[], ["-3"], ["--raw"], ["-3", "--raw"]],
                         ids=["resp2", "resp3", "raw", "resp3-raw"])
def test_one_shot_output_matches_redis(arbiter, redis_server, mode):
    """Every formatting path: integers, (nil), arrays, maps, doubles, errors, escapes."""
    style = mode if "--raw" in mode else [*mode, "--no-raw"]
    for command in ONE_SHOT:
        mine = cli(arbiter, *style, *command, check=False)
        theirs = cli(redis_server, *style, *command, check=False)
        assert (mine.stdout, mine.stderr, mine.returncode) == \
            (theirs.stdout, theirs.stderr, theirs.returncode), command


def test_nil_and_map_formatting(arbiter):
    cli(arbiter, "hset", "h", "a", "1")
    assert output(arbiter, "--no-raw", "hget", "h", "missing") == "(nil)\n"
    assert output(arbiter, "--no-raw", "-3", "hget", "h", "missing") == "(nil)\n"
    assert output(arbiter, "--no-raw", "-3", "hgetall", "h") == '1# "a" => "1"\n'
    assert output(arbiter, "--no-raw", "hgetall", "h") == '1) "a"\n2) "1"\n'
    assert output(arbiter, "--raw", "hgetall", "h") == "a\n1\n"


@pytest.mark.parametrize("index", [0, 1], ids=["arbiter", "redis"])
def test_password_option(auth_servers, index):
    server = auth_servers[index]
    done = cli(server, "-a", PASSWORD, "--no-auth-warning", "--no-raw", "hset", "k", "f", "v")
    assert done.stdout == b"(integer) 1\n"
    assert done.stderr == b""
    done = cli(server, "-a", PASSWORD, "--no-auth-warning", "--no-raw", "hget", "k", "f")
    assert done.stdout == b'"v"\n'
    cli(server, "-a", PASSWORD, "--no-auth-warning", "del", "k")


def test_password_refusals_match_redis(auth_servers):
    mine, theirs = auth_servers
    for args in (["--no-raw", "hget", "k", "f"],
                 ["-a", "wrong", "--no-auth-warning", "--no-raw", "hget", "k", "f"],
                 ["-a", PASSWORD, "--no-raw", "ping"]):
        got, want = cli(mine, *args, check=False), cli(theirs, *args, check=False)
        assert (got.stdout, got.stderr) == (want.stdout, want.stderr), args
    assert b"NOAUTH" in cli(mine, "--no-raw", "hget", "k", "f", check=False).stdout


def test_commands_piped_on_stdin_match_redis(arbiter, redis_server):
    script = (b"hset piped a 1 b 2\n"
              b"hincrby piped a 10\n"
              b"hgetall piped\n"
              b"hget piped \"b\"\n"
              b"hset piped 'quoted field' \"tab\\there\"\n"
              b"hget piped 'quoted field'\n"
              b"hget piped\n"
              b"hlen piped\n")
    mine = output(arbiter, "--no-raw", stdin=script)
    assert mine == output(redis_server, "--no-raw", stdin=script)
    assert '"tab\\there"' in mine
    assert "(integer) 11" in mine


def test_database_option_matches_redis(arbiter, redis_server):
    """`-n 2`: every command runs in db 2, as against redis-server; db 0 stays apart."""
    for server in (arbiter, redis_server):
        cli(server, "-n", "2", "hset", "h", "f", "two")
        cli(server, "hset", "h", "f", "zero")
    for args in (["-n", "2", "--no-raw", "hget", "h", "f"], ["--no-raw", "hget", "h", "f"],
                 ["-n", "2", "--no-raw", "dbsize"], ["-n", "3", "--no-raw", "dbsize"],
                 ["-n", "2", "--scan"], ["-n", "16", "--no-raw", "ping"],
                 ["-n", "2", "--no-raw", "move", "h", "0"]):
        mine, theirs = cli(arbiter, *args, check=False), cli(redis_server, *args,
                                                              check=False)
        assert (mine.stdout, mine.stderr, mine.returncode) == \
            (theirs.stdout, theirs.stderr, theirs.returncode), args
    assert output(arbiter, "-n", "2", "--no-raw", "hget", "h", "f") == '"two"\n'
    # INFO keyspace: Redis 7.0's lines plus the arbiter's `subexpiry` (7.4).
    assert output(arbiter, "-n", "2", "info", "keyspace").splitlines()[1:] == [
        "db0:keys=1,expires=0,avg_ttl=0,subexpiry=0",
        "db2:keys=1,expires=0,avg_ttl=0,subexpiry=0"]


def test_interactive_prompt_shows_the_database(arbiter, terminal_for):
    term = terminal_for(arbiter, "-n", "2")
    prompt = re.escape(f"redis {arbiter.socket_path}[2]> ".encode())
    term.expect(prompt)
    term.type("hset in2 a 1\r")
    term.expect(rb"\r\n\(integer\) 1\r\n" + prompt)
    term.type("select 5\r")
    term.expect(rb"\r\nOK\r\n" + re.escape(f"redis {arbiter.socket_path}[5]> ".encode()))
    term.type("quit\r")
    assert term.process.wait(TIMEOUT) == 0
    assert output(arbiter, "-n", "2", "hget", "in2", "a") == "1\n"


def test_interactive_hints_come_from_command_docs(any_server, terminal_for):
    """Interactive mode reads COMMAND DOCS at start; typing `hset ` then shows HSET's
    arguments as a hint, narrowing as arguments are typed."""
    term = terminal_for(any_server)
    term.expect(re.escape(f"redis {any_server.socket_path}> ".encode()))
    term.type("hset ")
    term.expect(rb"hset \x1b\[[0-9;]*mkey field value \[field value \.\.\.\]")
    term.type("h f ")
    term.expect(rb"hset h f \x1b\[[0-9;]*mvalue \[field value \.\.\.\]")
    term.type("\x15hscan ")
    term.expect(rb"hscan \x1b\[[0-9;]*mkey cursor \[MATCH pattern\] \[COUNT count\]")


def test_interactive_session(arbiter, terminal_for):
    """Commands typed at the prompt (hints on) run and print as redis-cli prints them."""
    term = terminal_for(arbiter)
    prompt = re.escape(f"redis {arbiter.socket_path}> ".encode())
    term.expect(prompt)
    term.type("hset session a 1 b 2\r")
    term.expect(rb"\r\n\(integer\) 2\r\n" + prompt)
    term.type("hgetall session\r")
    term.expect(rb'\r\n1\) "a"\r\n2\) "1"\r\n3\) "b"\r\n4\) "2"\r\n' + prompt)
    term.type("hget session missing\r")
    term.expect(rb"\r\n\(nil\)\r\n" + prompt)
    term.type("hincrby session b x\r")
    term.expect(rb"\r\n\(error\) ERR value is not an integer or out of range\r\n" + prompt)
    term.type("hlen session\r")
    term.expect(rb"\r\n\(integer\) 2\r\n" + prompt)
    term.type("quit\r")
    assert term.process.wait(TIMEOUT) == 0


def test_interactive_resp3_session(arbiter, terminal_for):
    term = terminal_for(arbiter, "-3")
    prompt = re.escape(f"redis {arbiter.socket_path}> ".encode())
    term.expect(prompt)
    term.type("hset m x 1\r")
    term.expect(rb"\(integer\) 1\r\n" + prompt)
    term.type("hgetall m\r")
    term.expect(rb'\r\n1# "x" => "1"\r\n' + prompt)
    term.type("hincrbyfloat m x 0.5\r")
    term.expect(rb'\r\n"1.5"\r\n' + prompt)
    term.type("quit\r")
    assert term.process.wait(TIMEOUT) == 0


def test_scan_returns_each_matching_key_once(arbiter):
    fill(arbiter)
    keys = output(arbiter, "--scan", "--pattern", "user:*").splitlines()
    assert len(keys) == len(set(keys)) == 300
    assert set(keys) == {f"user:{n}" for n in range(300)}
    everything = output(arbiter, "--scan").splitlines()
    assert sorted(everything) == sorted([*keys, "sessions", "config"])


def summary(text: str) -> list[str]:
    """The lines of a --bigkeys/--memkeys report from its final summary on."""
    lines = text.splitlines()
    return lines[lines.index("-------- summary -------"):]


def test_bigkeys_finds_the_biggest_hash(arbiter, redis_server):
    fill(arbiter)
    fill(redis_server)
    mine = output(arbiter, "--bigkeys")
    assert "error" not in mine.lower()
    assert "Biggest   hash found '\"sessions\"' has 1000 fields" in mine
    assert "302 hashs with 1620 fields" in mine
    assert summary(mine) == summary(output(redis_server, "--bigkeys"))


def test_bigkeys_reports_strings_as_redis_does(arbiter, redis_server):
    for server in (arbiter, redis_server):
        with redis.Redis(unix_socket_path=server.socket_path) as client:
            client.mset({f"cache:{n}": "v" * n for n in range(50)})
            client.set("largest", "x" * 5000)
            client.hset("h", mapping={"a": "1"})
    mine = output(arbiter, "--bigkeys")
    assert "error" not in mine.lower()
    assert "Biggest string found '\"largest\"' has 5000 bytes" in mine
    assert summary(mine) == summary(output(redis_server, "--bigkeys"))


def test_memkeys_reports_sizes(arbiter):
    fill(arbiter)
    report = output(arbiter, "--memkeys")
    assert "error" not in report.lower()
    assert "Sampled 302 keys in the keyspace!" in report
    assert re.search(r"Biggest   hash found '\"sessions\"' has \d+ bytes", report)
    found = re.search(r"^302 hashs with (\d+) bytes", report, re.MULTILINE)
    assert found and int(found.group(1)) > 40 * 1000


def test_stat_prints_numeric_rows(arbiter, terminal_for):
    fill(arbiter, users=5, big=10)
    term = terminal_for(arbiter, "--stat", "-i", "0.1")
    term.expect(rb"keys +mem +clients +blocked +requests +connections *\r\n")
    rows = [term.expect(rb"([^\r\n]*)\r\n").group(1).decode() for _ in range(4)]
    for row in rows:
        found = re.fullmatch(r"(\d+) +([\d.]+[BKMG]?) +(\d+) +(\d+) +(\d+) \(\+\d+\) +(\d+) *",
                             row)
        assert found, rows
        assert int(found.group(1)) == 7
        assert int(found.group(3)) >= 1
        assert int(found.group(4)) == 0
    assert "error" not in term.screen.decode(errors="replace").lower()


def test_info_lines_end_in_crlf(arbiter, redis_server):
    raw = cli(arbiter, "--no-raw", "info").stdout
    assert raw.startswith(b"# Server\r\n")
    assert raw.endswith(b"\r\n")
    for line in raw.split(b"\r\n")[:-1]:
        assert b"\n" not in line and b"\r" not in line, line
        assert line == b"" or line.startswith(b"# ") or b":" in line, line
    for server in (arbiter, redis_server):
        cli(server, "hset", "k", "f", "v")
    for section in ("keyspace", "clients", "persistence"):
        mine = output(arbiter, "--no-raw", "info", section)
        theirs = output(redis_server, "--no-raw", "info", section)
        assert mine.splitlines()[0] == theirs.splitlines()[0]
        assert mine.endswith("\r\n")
    # The fields redis-cli --stat and redis-py read, in Redis' order; Redis 7.4 appends
    # `,subexpiry=N` (hash field expiry), which readers of these fields ignore.
    mine = output(arbiter, "--no-raw", "info", "keyspace").split("\n")
    assert mine[0] == "# Keyspace\r"
    assert mine[1].startswith("db0:keys=1,expires=0,avg_ttl=0")
    assert mine[1].endswith("\r")
    assert output(redis_server, "--no-raw", "info", "keyspace").split("\n")[1] == \
        "db0:keys=1,expires=0,avg_ttl=0\r"
