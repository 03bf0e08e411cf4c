"""Protocol-level cases written as raw bytes: inline commands, malformed requests,
limits, and pipelines; a protocol error is answered after the replies owed, then the
connection closes (compared too)."""

from __future__ import annotations

from .harness import Case, case, cmd, encode, raw

PING = encode(["PING"])


def _inline_cases() -> list[Case]:
    return [
        case("inline ping", raw(b"PING\r\n", 1), raw(b"PING\n", 1), raw(b"ping hello\r\n", 1)),
        case("inline empty lines skipped", raw(b"\r\n\n   \r\nPING\r\n", 1)),
        case("inline quoting", raw(b'ECHO "a b"\r\n', 1), raw(b"ECHO 'a b'\r\n", 1),
             raw(b'ECHO "\\x41\\n\\t\\\\"\r\n', 1), raw(b"ECHO 'it\\'s'\r\n", 1),
             raw(b'ECHO "\\xZZ"\r\n', 1), raw(b"HSET h 'f' \"v\"\r\n", 1),
             raw(b"HGETALL h\r\n", 1), raw(b'ECHO ""\r\n', 1), raw(b"ECHO   a   \t\r\n", 1)),
        case("inline unbalanced double quote", raw(b'ECHO "abc\r\n')),
        case("inline unbalanced single quote", raw(b"PING\r\nECHO 'abc\r\nPING\r\n")),
        case("inline quote not followed by space", raw(b'ECHO "a"b\r\n')),
        case("inline too big", raw(b"ECHO " + b"x" * (70 * 1024))),
        case("inline wrong arity and unknown", raw(b"HGET h\r\n", 1), raw(b"NOSUCH a b\r\n", 1)),
    ]


def _multibulk_cases() -> list[Case]:
    return [
        case("empty multibulk skipped", raw(b"*0\r\n" + PING, 1), raw(b"*-1\r\n" + PING, 1)),
        case("multibulk -0 count", raw(b"*-0\r\n" + PING)),
        case("invalid multibulk length", raw(b"*x\r\n")),
        case("multibulk too large", raw(b"*2147483648\r\n")),
        case("multibulk count with plus", raw(b"*+1\r\n$4\r\nPING\r\n")),
        case("invalid bulk length", raw(b"*1\r\n$x\r\n")),
        case("negative bulk length", raw(b"*1\r\n$-1\r\n")),
        case("bulk length -0", raw(b"*1\r\n$-0\r\n")),
        case("bulk too long", raw(b"*1\r\n$536870913\r\n")),
        case("expected dollar", raw(b"*1\r\n:4\r\n")),
        case("expected dollar plus", raw(b"*2\r\n$4\r\nECHO\r\n+hi\r\n")),
        *[case(f"expected dollar got byte {byte:#04x}", raw(b"*1\r\n%c3\r\nfoo\r\n" % byte))
          for byte in (0x80, 0xE9, 0xFF, 0x7F, 0x01)],
        case("nested array refused", raw(b"*1\r\n*1\r\n$4\r\nPING\r\n")),
        case("error after owed replies", raw(PING + PING + b"*1\r\n$x\r\n")),
        case("too big mbulk count string", raw(b"*" + b"1" * (70 * 1024))),
        case("too big bulk count string", raw(b"*1\r\n$" + b"1" * (70 * 1024))),
        case("bulk split across writes", raw(b"*2\r\n$4\r\nECHO\r\n$5\r\nhe", 0),
             raw(b"llo\r\n", 1)),
        case("header split across writes", raw(b"*2\r\n$4\r\nEC", 0), raw(b"HO\r\n$1\r\nx\r\n", 1)),
        case("mixed inline and multibulk", raw(b"PING\r\n" + PING + b"ECHO x\r\n" + PING, 4)),
    ]


def _pipeline_cases() -> list[Case]:
    many = b"".join(encode(["HSET", "h", f"f{i}", f"v{i}"]) for i in range(1000))
    reads = b"".join(encode(["HGET", "h", f"f{i}"]) for i in range(0, 1000, 7))
    return [
        case("pipeline of 1000 writes", raw(many, 1000), raw(reads, len(range(0, 1000, 7))),
             cmd("HLEN", "h")),
        case("pipeline with errors inside", raw(
            encode(["HSET", "h", "f", "v"]) + encode(["NOSUCH"]) + encode(["HGET", "h"])
            + encode(["HINCRBY", "h", "f", "1"]) + encode(["HGET", "h", "f"]), 5)),
        case("pipeline ending in quit", raw(PING + encode(["QUIT"]) + PING)),
    ]


CASES: list[Case] = [*_inline_cases(), *_multibulk_cases(), *_pipeline_cases()]
