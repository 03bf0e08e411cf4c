"""Connection and server command cases: PING ... RESET, CLIENT, COMMAND, CONFIG, INFO,
TIME, and the dispatch errors (unknown command, unknown subcommand, arity)."""

from __future__ import annotations

from . import compare as cmp
from .harness import Case, case, cmd

# Every command both servers implement; COMMAND INFO must match for each, exactly.
COMMON_COMMANDS = [
    "ping", "echo", "hello", "auth", "select", "quit", "reset", "client", "client|id",
    "client|setname", "client|getname", "client|list", "client|info", "client|no-evict",
    "client|help", "command", "command|count", "command|info", "command|docs",
    "command|list", "command|help", "info", "config", "config|get", "config|set",
    "config|resetstat", "config|rewrite", "config|help", "dbsize", "time", "flushdb",
    "flushall", "memory", "memory|usage", "memory|help", "del", "unlink", "exists", "type",
    "keys", "scan", "rename", "renamenx", "randomkey", "hset", "hsetnx", "hmset", "hget",
    "hmget", "hgetall", "hkeys", "hvals", "hlen", "hexists", "hdel", "hstrlen", "hincrby",
    "hincrbyfloat", "hrandfield", "hscan", "multi", "exec", "discard", "watch", "unwatch",
    "expire", "pexpire", "expireat", "pexpireat", "ttl", "pttl", "expiretime",
    "pexpiretime", "persist", "object", "object|encoding", "object|freq", "object|idletime",
    "object|refcount", "object|help", "move", "swapdb", "copy", "get", "set", "setnx",
    "setex", "psetex", "getex", "getdel", "getset", "mget", "mset", "msetnx", "incr", "decr",
    "incrby", "decrby", "incrbyfloat", "append", "strlen", "getrange", "setrange", "substr",
]
# Containers whose subcommand set differs by design (CLIENT: SETINFO/NO-TOUCH are 7.2,
# and Redis has many the arbiter leaves out); only their own row is compared, elsewhere.
CONTAINERS = {"client", "command", "config", "memory", "object"}

HUGE = "9" * 5000
CONFIG_NAMES = ["requirepass", "maxclients", "timeout", "proto-max-bulk-len",
                "client-query-buffer-limit", "loglevel", "maxmemory", "maxmemory-policy",
                "maxmemory-samples", "lfu-log-factor", "lfu-decay-time", "databases"]


def _connection_cases() -> list[Case]:
    return [
        case("ping", cmd("PING"), cmd("ping", "hello"), cmd("PING", ""),
             cmd("PING", "a", "b"), cmd("PiNg")),
        case("echo", cmd("ECHO", "hi"), cmd("ECHO", ""), cmd("ECHO", b"\x00\xff\r\n"),
             cmd("ECHO"), cmd("ECHO", "a", "b")),
        case("select", cmd("SELECT", "0"), cmd("SELECT", "16"), cmd("SELECT", "-1"),
             cmd("SELECT", "x"), cmd("SELECT", "0.5"), cmd("SELECT", ""),
             cmd("SELECT", "99999999999999999999"), cmd("SELECT"), cmd("SELECT", "0", "1"),
             cmd("SELECT", "99999999999"), cmd("SELECT", "2147483647"),
             cmd("SELECT", "2147483648"), cmd("SELECT", "-2147483648"),
             cmd("SELECT", "-2147483649"), cmd("SELECT", "-9223372036854775808")),
        case("quit", cmd("HSET", "h", "f", "v"), cmd("QUIT"), cmd("PING")),
        case("quit with args", cmd("QUIT", "now")),
        case("reset", cmd("CLIENT", "SETNAME", "me"), cmd("RESET"), cmd("CLIENT", "GETNAME"),
             cmd("HELLO", compare=cmp.hello), cmd("RESET", "x")),
        case("hello versions", cmd("HELLO", "2", compare=cmp.hello),
             cmd("HELLO", "3", compare=cmp.hello), cmd("HGETALL", "nokey"),
             cmd("HELLO", "2", compare=cmp.hello), cmd("HGET", "nokey", "f"),
             cmd("HELLO", compare=cmp.hello)),
        case("hello errors", cmd("HELLO", "1"), cmd("HELLO", "4"), cmd("HELLO", "x"),
             cmd("HELLO", "-1"), cmd("HELLO", ""), cmd("HELLO", "3.0"), cmd("HELLO", " 3"),
             cmd("HELLO", "2", "FOO"), cmd("HELLO", "2", "AUTH", "default"),
             cmd("HELLO", "2", "SETNAME"), cmd("HELLO", "9", "FOO"),
             cmd("HELLO", "99999999999999999999")),
        case("hello setname", cmd("HELLO", "2", "SETNAME", "myname", compare=cmp.hello),
             cmd("CLIENT", "GETNAME"), cmd("HELLO", "2", "SETNAME", "bad name"),
             cmd("HELLO", "2", "setname", "a", "SETNAME", "b", compare=cmp.hello),
             cmd("CLIENT", "GETNAME"), cmd("HELLO", "2", "SETNAME", "", compare=cmp.hello),
             cmd("CLIENT", "GETNAME")),
        case("hello auth without requirepass",
             cmd("HELLO", "2", "AUTH", "default", "anything", compare=cmp.hello),
             cmd("HELLO", "2", "AUTH", "nobody", "anything"),
             cmd("HELLO", "3", "AUTH", "default", "x", "SETNAME", "n", compare=cmp.hello),
             cmd("CLIENT", "GETNAME")),
        case("auth without requirepass", cmd("AUTH", "pw"), cmd("AUTH", "default", "pw"),
             cmd("AUTH", "nobody", "pw"), cmd("AUTH"), cmd("AUTH", "a", "b", "c")),
        case("client setname getname", cmd("CLIENT", "GETNAME"),
             cmd("CLIENT", "SETNAME", "worker-1"), cmd("CLIENT", "GETNAME"),
             cmd("CLIENT", "SETNAME", "has space"), cmd("CLIENT", "SETNAME", "nl\n"),
             cmd("CLIENT", "SETNAME", b"\x7f"), cmd("CLIENT", "SETNAME", "ünï"),
             cmd("CLIENT", "GETNAME"), cmd("CLIENT", "SETNAME", ""), cmd("CLIENT", "GETNAME"),
             cmd("client", "setname"), cmd("CLIENT", "SETNAME", "a", "b"),
             cmd("CLIENT", "GETNAME", "x")),
        case("client id", cmd("CLIENT", "ID", compare=cmp.integer_kind), cmd("CLIENT", "ID", "x"),
             cmd("CLIENT")),
        case("client no-evict", cmd("CLIENT", "NO-EVICT", "on"), cmd("CLIENT", "NO-EVICT", "OFF"),
             cmd("CLIENT", "NO-EVICT", "maybe"), cmd("CLIENT", "NO-EVICT"),
             cmd("CLIENT", "NO-EVICT", "on", "off")),
        case("client unknown subcommand", cmd("CLIENT", "NOSUCH"),
             cmd("CLIENT", "NOSUCH", "arg"), cmd("CLIENT", "help", "x"),
             cmd("CLIENT", "list", "TYPE"), cmd("CLIENT", "LIST", "FOO", "bar"),
             cmd("CLIENT", "LIST", "ID", "x"), cmd("CLIENT", "LIST", "ID", "99999"),
             cmd("CLIENT", "INFO", "x")),
    ]


def _dispatch_cases() -> list[Case]:
    return [
        case("unknown command", cmd("NOSUCH"), cmd("nosuch", "a", "b c", ""),
             cmd("FOO", "x" * 200), cmd("FOO", *["abcdefghij"] * 20),
             cmd("FOO", "'quoted'"), cmd(""), cmd("", "x"), cmd("x" * 300, "y"),
             cmd("FOO", "new\r\nline"), cmd("FOO", b"\xff")),
        # Redis prints the name and arguments with %.*s: each stops at a NUL byte and is
        # cut after 128 bytes, not characters.
        case("unknown command NUL bytes", cmd("FOO", b"a\x00b", "c"), cmd(b"F\x00OO")),
        case("unknown command multibyte", cmd("FOO", "é" * 100, "x"), cmd("é" * 100)),
        case("unknown command with many args", cmd("BAR", *[str(i) for i in range(100)])),
    ]


def _command_cases() -> list[Case]:
    rows = [name for name in COMMON_COMMANDS if name not in CONTAINERS]
    cases = [case(f"command info {name}", cmd("COMMAND", "INFO", name)) for name in rows]
    cases += [
        case("command info several", cmd("COMMAND", "INFO", "hget", "nosuch", "HSET"),
             cmd("COMMAND", "INFO", "nosuch"), cmd("COMMAND", "INFO", "CLIENT|ID"),
             cmd("COMMAND", "INFO", "hget|x"), cmd("COMMAND", "INFO", "")),
        case("command count type", cmd("COMMAND", "COUNT", compare=cmp.integer_kind),
             cmd("COMMAND", "COUNT", "x")),
        case("command list filterby", cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "hs*",
                                          compare=_hash_names),
             cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "hget"),
             cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "HGET"),
             cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "nosuch*"),
             cmd("COMMAND", "LIST", "FILTERBY", "MODULE", "x"),
             cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT", "hash", compare=_hash_names),
             cmd("COMMAND", "LIST", "FILTERBY", "FOO", "x"),
             cmd("COMMAND", "LIST", "FILTERBY", "PATTERN"),
             cmd("COMMAND", "LIST", "FILTER", "PATTERN", "x"), cmd("COMMAND", "LIST", "x"),
             cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "x", "y")),
        case("command info all", cmd("COMMAND", "INFO", compare=_common_rows),
             cmd("COMMAND", compare=_common_rows)),
        case("command errors", cmd("COMMAND", "NOSUCH"),
             cmd("COMMAND", "DOCS", "nosuch"), cmd("COMMAND", "HELP", "x")),
    ]
    return cases


def _common_rows(redis, arbiter) -> bool:
    """COMMAND / COMMAND INFO with no names: the rows of the commands both implement are
    identical (the arbiter lists fewer commands, and STASH.* and 7.4 ones of its own)."""
    def rows(reply) -> dict[bytes, bytes]:
        return {row.children[0].value: row.raw for row in reply.children
                if row.children[0].value.decode() in COMMON_COMMANDS
                and row.children[0].value.decode() not in CONTAINERS}
    expected, actual = rows(redis), rows(arbiter)
    return redis.kind == arbiter.kind == "*" and len(expected) > 50 and expected == actual


_HASH_COMMANDS = {b"hset", b"hsetnx", b"hmset", b"hget", b"hmget", b"hgetall", b"hkeys",
                  b"hvals", b"hlen", b"hexists", b"hdel", b"hstrlen", b"hincrby",
                  b"hincrbyfloat", b"hrandfield", b"hscan"}


def _hash_names(redis, arbiter) -> bool:
    """COMMAND LIST FILTERBY: Redis' 7.0 names restricted to the hash family (7.4 field
    expiry commands exist only in the arbiter) must be the arbiter's, in any order."""
    def names(reply) -> set[bytes]:
        return {c.value for c in reply.children if c.value in _HASH_COMMANDS}
    return redis.kind == arbiter.kind == "*" and names(redis) == names(arbiter) != set()


def _config_cases() -> list[Case]:
    cases = [case(f"config get {name}", cmd("CONFIG", "GET", name))
             for name in CONFIG_NAMES]
    cases += [
        case("config get several",
             cmd("CONFIG", "GET", "timeout", "maxclients", compare=cmp.unordered_pairs),
             cmd("CONFIG", "GET", "MAXCLIENTS"), cmd("CONFIG", "GET", "nosuch"),
             cmd("CONFIG", "GET", "timeout", "timeout"), cmd("CONFIG", "GET"),
             cmd("CONFIG", "GET", "timeout", "TIMEOUT"), cmd("CONFIG", "GET", "TimeOut"),
             cmd("CONFIG", "GET", "PROTO-MAX-BULK-LE?"), cmd("CONFIG", "GET", "maxclient?"),
             cmd("CONFIG", "GET", "maxclients", "maxclient?"),
             cmd("CONFIG", "GET", "nosuch", "loglevel")),
        case("config set restore", cmd("CONFIG", "SET", "timeout", "30"),
             cmd("CONFIG", "GET", "timeout"), cmd("CONFIG", "SET", "timeout", "0"),
             cmd("CONFIG", "SET", "maxclients", "5000", "timeout", "7"),
             cmd("CONFIG", "GET", "maxclients"), cmd("CONFIG", "GET", "timeout"),
             cmd("CONFIG", "SET", "maxclients", "10000", "timeout", "0"),
             cmd("CONFIG", "SET", "loglevel", "WARNING"), cmd("CONFIG", "GET", "loglevel"),
             cmd("CONFIG", "SET", "loglevel", "notice"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "2mb"),
             cmd("CONFIG", "GET", "proto-max-bulk-len"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "512mb"),
             cmd("CONFIG", "SET", "client-query-buffer-limit", "2gb"),
             cmd("CONFIG", "GET", "client-query-buffer-limit"),
             cmd("CONFIG", "SET", "client-query-buffer-limit", "1gb"),
             cmd("CONFIG", "GET", "client-query-buffer-limit")),
        case("config set errors", cmd("CONFIG", "SET", "nosuch", "1"),
             cmd("CONFIG", "SET", "timeout"), cmd("CONFIG", "SET", "timeout", "1", "maxclients"),
             cmd("CONFIG", "SET", "timeout", "x"), cmd("CONFIG", "SET", "timeout", "-1"),
             cmd("CONFIG", "SET", "timeout", "1.5"), cmd("CONFIG", "SET", "timeout", ""),
             cmd("CONFIG", "SET", "maxclients", "0"), cmd("CONFIG", "SET", "loglevel", "loud"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "x"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "1"),
             cmd("CONFIG", "SET", "client-query-buffer-limit", "1k"),
             cmd("CONFIG", "SET", "timeout", "1", "timeout", "2"),
             cmd("CONFIG", "SET", "timeout", "1", "TIMEOUT", "2"),
             cmd("CONFIG", "SET", "timeout", "1", "nosuch", "2"),
             cmd("CONFIG", "SET", "unixsocket", "/x"), cmd("CONFIG", "SET", "databases", "4"),
             cmd("CONFIG", "SET", "logfile", "x"), cmd("CONFIG", "GET", "timeout"),
             cmd("CONFIG", "NOSUCH"), cmd("CONFIG"), cmd("CONFIG", "RESETSTAT", "x"),
             cmd("CONFIG", "SET", "timeout", "99999999999999999999"),
             cmd("CONFIG", "SET", "timeout", "+5"), cmd("CONFIG", "SET", "timeout", "05"),
             cmd("CONFIG", "SET", "timeout", " 5"), cmd("CONFIG", "SET", "timeout", "-0"),
             cmd("CONFIG", "SET", "timeout", "x", "nosuch", "1"),
             cmd("CONFIG", "SET", "logfile", "x", "nosuch", "1"),
             cmd("CONFIG", "SET", "nosuch", "1", "logfile", "x"),
             cmd("CONFIG", "SET", "Timeout", "1", "timeout", "x"),
             cmd("CONFIG", "SET", "maxclients", "4294967296"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "-1mb"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "1.5mb"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "1tb"),
             cmd("CONFIG", "GET", "timeout")),
        case("config set memory units", cmd("CONFIG", "SET", "proto-max-bulk-len", "2097152b"),
             cmd("CONFIG", "GET", "proto-max-bulk-len"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "2048KB"),
             cmd("CONFIG", "GET", "proto-max-bulk-len"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "0536870912"),
             cmd("CONFIG", "GET", "proto-max-bulk-len"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "512Mb"),
             cmd("CONFIG", "GET", "proto-max-bulk-len")),
        case("config resetstat", cmd("CONFIG", "RESETSTAT")),
        case("config rewrite without a config file", cmd("CONFIG", "REWRITE")),
        case("config help", cmd("CONFIG", "HELP")),
        # Past 4300 digits Python's int() refuses a text: each must still get Redis' error.
        case("config set huge numbers", *[
            cmd("CONFIG", "SET", name, value)
            for name in ("maxclients", "timeout", "proto-max-bulk-len",
                         "client-query-buffer-limit")
            for value in (HUGE, "-" + HUGE, HUGE + "kb", "0" * 4999 + "5",
                          "0" * 120 + "2097152", "0" * 128 + "2097152")
        ], cmd("CONFIG", "GET", "maxclients"), cmd("CONFIG", "GET", "timeout"),
             cmd("CONFIG", "GET", "proto-max-bulk-len"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "512mb"),
             cmd("CONFIG", "SET", "client-query-buffer-limit", "1gb")),
        # memtoull: an empty number reads 0, a number past 2**64-1 saturates, the product
        # wraps modulo 2**64 (2**54+1024 kb is 1mb), units in any case, nothing else.
        case("config set memory overflow",
             *[cmd("CONFIG", "SET", "proto-max-bulk-len", value)
               for value in ("", "kb", "18446744073709551616", "18446744073709551615",
                             "9223372036854775808", "18014398509481984kb", "2Gb", " 2mb",
                             "+2mb", "2mb ", "2\u212ab", "0x100000")],
             cmd("CONFIG", "SET", "proto-max-bulk-len", "18014398509483008kb"),
             cmd("CONFIG", "GET", "proto-max-bulk-len"),
             cmd("CONFIG", "SET", "client-query-buffer-limit", "18014398509483008kb"),
             cmd("CONFIG", "GET", "client-query-buffer-limit"),
             cmd("CONFIG", "SET", "proto-max-bulk-len", "512mb"),
             cmd("CONFIG", "SET", "client-query-buffer-limit", "1gb")),
        # A password is bytes: any byte, UTF-8 or not, in AUTH, HELLO AUTH and CONFIG GET.
        case("binary password",
             cmd("CONFIG", "SET", "requirepass", b"\xff\xfe p\x00"),
             cmd("CONFIG", "GET", "requirepass"), cmd("AUTH", b"\xff\xfe"),
             cmd("AUTH", b"\xff\xfe p\x00"), cmd("HELLO", "2", "AUTH", "default", b"\xff"),
             cmd("CONFIG", "SET", "requirepass", "")),
    ]
    return cases


def _folded_pattern_cases() -> list[Case]:
    """CONFIG GET and COMMAND LIST match case-insensitively as Redis' stringmatchlen with
    nocase does: an escaped byte inside a class still compares exactly, and a range's
    ends fold after being ordered ([Z-a] becomes z..a, empty)."""
    configs = ["[\\M]axclients", "[\\m]axclients", "[L-M]axclients", "[Z-a]axclients",
               "[z-A]axclients", "[_-a]axclients", "[A-z]axclients", "MAXCLIEN*", "[^A]axclients",
               "\\MAXCLIENTS", "maxclient[\\S]", "maxclient[S-S]", "maxcl*\\S", "[M]axc*S"]
    commands = ["[\\H]get", "[\\h]get", "HGE?", "H[A-Z]ET", "h[^a-z]et", "[^M]GET",
                "hget[", "[h-]get", "\\Hget", "*[\\T]"]
    return [
        case("config get folds case", *[cmd("CONFIG", "GET", pattern) for pattern in configs]),
        case("command list pattern folds case",
             *[cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", pattern, compare=_hash_names_or_none)
               for pattern in commands]),
    ]


def _hash_names_or_none(redis, arbiter) -> bool:
    """COMMAND LIST FILTERBY PATTERN: the hash commands both servers have, in any order
    (an empty reply compares exactly)."""
    if not redis.children and not arbiter.children:
        return cmp.exact(redis, arbiter)
    return _hash_names(redis, arbiter)


def _transaction_cases() -> list[Case]:
    """EXEC refused at dispatch (arity, in or out of MULTI) aborts: EXECABORT with the
    reason, and the transaction and the watched keys are discarded."""
    return [
        case("exec with arguments outside multi", cmd("EXEC", "x"), cmd("EXEC"),
             cmd("DISCARD", "x"), cmd("MULTI", "x")),
        case("exec with arguments unwatches", cmd("WATCH", "k"), cmd("EXEC", "x"),
             cmd("HSET", "k", "f", "v"), cmd("MULTI"), cmd("HGET", "k", "f"), cmd("EXEC")),
        case("exec with arguments discards the transaction", cmd("MULTI"),
             cmd("HSET", "k", "f", "v"), cmd("EXEC", "x"), cmd("EXEC"), cmd("HGET", "k", "f")),
    ]


def _server_cases() -> list[Case]:
    return [
        case("time", cmd("TIME", compare=cmp.time_shape), cmd("TIME", "x")),
        case("info keyspace", cmd("INFO", "keyspace"), cmd("HSET", "a", "f", "v"),
             cmd("HSET", "b", "f", "v"), cmd("INFO", "keyspace", compare=cmp.info_keyspace),
             cmd("INFO", "KEYSPACE", compare=cmp.info_keyspace),
             cmd("INFO", "nosuchsection")),
    ]


CASES: list[Case] = [*_connection_cases(), *_dispatch_cases(), *_command_cases(),
                     *_config_cases(), *_folded_pattern_cases(), *_transaction_cases(),
                     *_server_cases()]
