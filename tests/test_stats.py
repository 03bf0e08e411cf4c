"""In-process checks of what `Server.execute` counts: error replies from every origin,
failed and rejected calls, keyspace hits, the slow log's cuts and bounds, the latency
histogram, and MONITOR's quoting."""

from __future__ import annotations

import time

import pytest

from resp_arbiter import commands  # noqa: F401  (registers the commands)
from resp_arbiter.client import Client
from resp_arbiter.config import Config
from resp_arbiter.protocol import sdscatrepr
from resp_arbiter.registry import Command, lookup
from resp_arbiter.server import Server
from resp_arbiter.stats import CommandStats, ErrorStats, SlowLog, monitor_line


def _server(**settings: str) -> tuple[Server, Client]:
    config = Config()
    for name, value in settings.items():
        config.set(name.replace("_", "-"), value)
    server = Server(config)
    return server, Client(server)


def _stats(server: Server, name: str) -> CommandStats:
    parent, _, sub = name.partition("|")
    spec = lookup(parent.encode())
    assert spec is not None
    return server.command_stats[spec.subcommands[sub.encode()] if sub else spec]


def test_every_error_reply_is_counted_once_where_it_is_written() -> None:
    server, client = _server(requirepass="pw")
    server.call(client, [b"NOSUCH"])  # unknown command
    server.call(client, [b"PING"])  # NOAUTH: a rejected call
    server.call(client, [b"AUTH", b"pw"])
    server.call(client, [b"HSET", b"k"])  # wrong arity: rejected
    server.call(client, [b"CLIENT", b"NOSUCH"])  # unknown subcommand
    server.call(client, [b"HSET", b"k", b"f", b"v"])
    server.call(client, [b"HINCRBY", b"k", b"f", b"1"])  # the command's own error
    server.call(client, [b"SLOWLOG", b"GET", b"x"])  # errors.CommandError
    server.call(client, [b"MULTI"])
    server.call(client, [b"NOSUCH"])
    server.call(client, [b"EXEC"])  # EXECABORT
    client.data_received(b"*1\r\n$x\r\n")  # a protocol error, answered in turn
    assert server.error_stats.total == 9
    assert server.error_stats.by_code == {"ERR": 7, "NOAUTH": 1, "EXECABORT": 1}
    assert bytes(client.out).count(b"\r\n-") + bytes(client.out).startswith(b"-") == 9
    assert _stats(server, "ping").rejected == 1 and _stats(server, "ping").calls == 0
    assert _stats(server, "hset").rejected == 1 and _stats(server, "hset").calls == 1
    assert _stats(server, "hincrby").failed == 1
    assert _stats(server, "slowlog|get").failed == 1
    assert _stats(server, "exec").failed == 1
    assert _stats(server, "auth").failed == 0 and _stats(server, "auth").calls == 1


def test_a_command_failing_inside_exec_fails_alone() -> None:
    server, client = _server()
    for argv in ([b"HSET", b"k", b"f", b"v"], [b"MULTI"], [b"HINCRBY", b"k", b"f", b"1"],
                 [b"HINCRBY", b"k", b"n", b"1"], [b"EXEC"]):
        server.call(client, argv)
    assert bytes(client.out).endswith(
        b"*2\r\n-ERR hash value is not an integer\r\n:1\r\n")
    assert _stats(server, "hincrby").failed == 1 and _stats(server, "hincrby").calls == 2
    assert _stats(server, "exec").failed == 0 and _stats(server, "exec").calls == 1


def _broken(c: Client, argv: list[bytes]) -> None:
    c.reply.error("ERR first")
    raise RuntimeError("bug")


def test_a_crash_after_an_error_is_one_failed_call() -> None:
    server, client = _server()
    broken = Command(name="broken", handler=_broken, arity=1, flags=(), categories=(),
                     full_name="broken")
    server.execute(broken, client, [b"broken"])
    assert server.command_stats[broken].failed == 1
    assert server.command_stats[broken].calls == 1
    assert server.error_stats.total == 2  # the partial reply's error was written too


def test_read_commands_count_hits_and_misses_writes_do_not() -> None:
    server, client = _server()
    for argv in ([b"HSET", b"k", b"f", b"v"], [b"HGET", b"k", b"f"], [b"HGET", b"x", b"f"],
                 [b"EXISTS", b"k", b"x", b"y"], [b"HINCRBY", b"k", b"n", b"1"],
                 [b"DEL", b"x"], [b"KEYS", b"*"], [b"SCAN", b"0"], [b"RANDOMKEY"],
                 [b"MEMORY", b"USAGE", b"k"], [b"WATCH", b"k"], [b"HLEN", b"k"]):
        server.call(client, argv)
    assert server.lookups == [3, 3]
    server.call(client, [b"CONFIG", b"RESETSTAT"])
    assert server.lookups == [0, 0] and server.error_stats.total == 0
    assert _stats(server, "config|resetstat").calls == 1  # counted after its own reset
    assert _stats(server, "hget").calls == 0


def test_slow_log_cuts_arguments_as_redis() -> None:
    log = SlowLog()
    argv = [b"HMGET", b"k" * 1000, *[b"f%d" % i for i in range(40)]]
    log.push(argv, 1, 2, "/s:0", b"name", max_len=128)
    entry_id, unix_time, micros, args, peer, name = log.entries[0]
    assert (entry_id, unix_time, micros, peer, name) == (0, 1, 2, b"/s:0", b"name")
    assert len(args) == 32
    assert args[1] == b"k" * 128 + b"... (872 more bytes)"
    assert args[-1] == b"... (11 more arguments)"
    assert args[-2] == b"f28"  # HMGET, the key and f0..f28: 31 shown, 11 counted
    log.push([b"X"] * 32, 1, 2, "/s:0", b"", max_len=128)
    assert log.entries[0][3] == [b"X"] * 32  # 32 arguments fit as they are


def test_slow_log_keeps_max_len_entries_newest_first() -> None:
    server, client = _server(slowlog_log_slower_than="0", slowlog_max_len="3")
    for i in range(10):
        server.call(client, [b"ECHO", b"%d" % i])
    entries = server.slowlog.entries
    assert [entry[3] for entry in entries] == [[b"ECHO", b"9"], [b"ECHO", b"8"],
                                               [b"ECHO", b"7"]]
    assert [entry[0] for entry in entries] == [9, 8, 7]
    server.call(client, [b"CONFIG", b"SET", b"slowlog-max-len", b"1"])
    assert len(entries) == 1 and entries[0][3][:2] == [b"CONFIG", b"SET"]


def test_hostile_slow_log_sizes_stay_bounded() -> None:
    """A 16 MiB argument and 100,000 arguments cost the slow log 32 short strings."""
    server, client = _server(slowlog_log_slower_than="0")
    server.call(client, [b"ECHO", b"x" * (16 << 20)])
    server.call(client, [b"HMGET", b"k", *[b"f"] * 100_000])
    sizes = [sum(map(len, entry[3])) for entry in server.slowlog.entries]
    assert all(size < 32 * 160 for size in sizes), sizes
    server.call(client, [b"SLOWLOG", b"GET", b"9223372036854775807"])
    assert bytes(client.out).count(b"*6\r\n") >= 2


def test_passwords_never_reach_the_slow_log() -> None:
    server, client = _server(slowlog_log_slower_than="0")
    server.call(client, [b"AUTH", b"user", b"secret"])
    server.call(client, [b"HELLO", b"2", b"AUTH", b"default", b"secret"])
    server.call(client, [b"CONFIG", b"SET", b"requirepass", b"secret"])
    logged = [arg for entry in server.slowlog.entries for arg in entry[3]]
    assert b"secret" not in logged and logged.count(b"(redacted)") == 5


def test_durations_land_in_whole_microsecond_slots() -> None:
    stats = CommandStats()
    for micros in (0, 3, 3, 3, 5, 1023):
        stats.histogram[micros] += 1
    stats.record_long(1500)
    stats.record_long(2_000_000)  # past 1 s: clamped, as Redis' histogram does
    assert stats.calls == 8
    assert stats.usec == 0 + 9 + 5 + 1023 + 1500 + 2_000_000
    assert dict(stats.percentiles()) == {50.0: 3.0, 99.0: 1_000_000.0, 99.9: 1_000_000.0}
    lone = CommandStats()
    lone.histogram[0] += 1
    assert dict(lone.percentiles())[50.0] == 0.001  # Redis' 1 ns floor, in microseconds


def test_error_codes_are_taken_as_redis_takes_them() -> None:
    errors = ErrorStats()
    for message in ("ERR syntax error", "WRONGTYPE Operation against a key",
                    "NOAUTH Authentication required.", "NOSPACEINTHEFIRST32CHARACTERS_x",
                    "EXECABORT Transaction discarded because of previous errors."):
        errors.count(message)
    assert errors.by_code == {"ERR": 2, "WRONGTYPE": 1, "NOAUTH": 1, "EXECABORT": 1}


@pytest.mark.parametrize(("arg", "quoted"), [
    (b"plain", b'"plain"'), (b"", b'""'), (b'say "hi"', b'"say \\"hi\\""'),
    (b"a\\b", b'"a\\\\b"'), (b"\r\n\t\x07\x08", b'"\\r\\n\\t\\a\\b"'),
    (b"\x00\x1f\x7f\x80\xff", b'"\\x00\\x1f\\x7f\\x80\\xff"'), (b"\xc3\xa9", b'"\\xc3\\xa9"'),
    (b" ~!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}", b"\" ~!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}\""),
])
def test_monitor_quotes_arguments_like_sdscatrepr(arg: bytes, quoted: bytes) -> None:
    assert sdscatrepr(arg) == quoted


def test_monitor_line_format() -> None:
    line = monitor_line(1_700_000_000_123_456_789, 0, "127.0.0.1:5555", [b"HSET", b"k"])
    assert line == b'+1700000000.123456 [0 127.0.0.1:5555] "HSET" "k"\r\n'


def test_per_command_accounting_stays_small() -> None:
    """Not a benchmark: a generous bound proving the accounting has no per-call loop
    (100,000 commands well within a few seconds even on a loaded machine)."""
    server, client = _server()
    argv = [b"HSET", b"k", b"f", b"v"]
    start = time.perf_counter()
    for _ in range(100_000):
        server.call(client, argv)
        client.out.clear()
    assert time.perf_counter() - start < 20
    assert _stats(server, "hset").calls == 100_000
