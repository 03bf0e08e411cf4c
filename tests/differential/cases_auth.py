"""Cases for servers started with --requirepass: what an unauthenticated client may do,
AUTH and HELLO AUTH, and the stricter request limits before authentication."""

from __future__ import annotations

from . import compare as cmp
from .harness import Case, case, cmd, encode, raw

PASSWORD = "s3cret"

CASES: list[Case] = [
    case("noauth before auth", cmd("PING"), cmd("HGET", "h", "f"), cmd("HGET", "h"),
         cmd("NOSUCH", "x"), cmd("CLIENT", "ID"), cmd("ECHO", "x"), cmd("SELECT", "0")),
    case("auth wrong then right", cmd("AUTH", "wrong"), cmd("PING"), cmd("AUTH", PASSWORD),
         cmd("PING"), cmd("AUTH", "wrong"), cmd("PING")),
    case("auth with user", cmd("AUTH", "default", PASSWORD), cmd("HSET", "h", "f", "v"),
         cmd("HGETALL", "h"), cmd("DEL", "h")),
    case("auth unknown user", cmd("AUTH", "nobody", PASSWORD), cmd("AUTH", "default", "x"),
         cmd("AUTH", "a", "b", "c"), cmd("AUTH")),
    case("hello without auth", cmd("HELLO"), cmd("HELLO", "3"), cmd("HELLO", "2"),
         cmd("HELLO", "4"), cmd("HELLO", "x"), cmd("HELLO", "3", "SETNAME", "n")),
    case("hello with auth", cmd("HELLO", "3", "AUTH", "default", "wrong"),
         cmd("HELLO", "3", "AUTH", "nobody", PASSWORD),
         cmd("HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "w1", compare=cmp.hello),
         cmd("CLIENT", "GETNAME"), cmd("HGET", "h", "f"),
         cmd("HELLO", "2", "AUTH", "default", PASSWORD, compare=cmp.hello)),
    case("exec refused before auth", cmd("EXEC"), cmd("EXEC", "x"), cmd("MULTI")),
    case("reset deauthenticates", cmd("AUTH", PASSWORD), cmd("RESET"), cmd("PING")),
    case("quit without auth", cmd("QUIT")),
    case("unauthenticated multibulk limit", raw(encode(["PING"] * 11))),
    case("unauthenticated bulk limit", raw(encode(["ECHO", "x" * 16385]))),
    case("unauthenticated limits are exact", raw(encode(["HSET", "h", *["x"] * 8]), 1),
         raw(encode(["ECHO", "x" * 16384]), 1)),
    case("authenticated lifts the limits", cmd("AUTH", PASSWORD),
         raw(encode(["HMGET", "h", *["x"] * 20]), 1), raw(encode(["ECHO", "x" * 20000]), 1)),
    case("inline auth", raw(f"AUTH {PASSWORD}\r\nPING\r\n".encode(), 2)),
    # Before AUTH, at most 16 KiB of replies may wait: 481 NOAUTH errors are 16,354
    # bytes, 482 are 16,388 and close the connection with nothing written.
    case("unauthenticated replies fill the reply buffer", raw(b"PING\r\n" * 481, 481)),
    case("unauthenticated replies overflow the reply buffer", raw(b"PING\r\n" * 482)),
    case("authenticated replies are not limited so",
         raw(f"AUTH {PASSWORD}\r\n".encode() + b"PING\r\n" * 2000, 2001)),
]
