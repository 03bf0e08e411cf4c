"""Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT."""

from __future__ import annotations

import hmac
import time

from .. import REDIS_VERSION, errors
from ..client import Client
from ..registry import command, container
from ._args import parse_int, text

CONN = "connection"
CONN_FLAGS = "noscript loading stale fast no_auth allow_busy"


@command("ping", -1, "fast",
         syntax="[message]", categories=CONN, group=CONN, since="1.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Returns the server's liveliness response.")
def ping(c: Client, argv: list[bytes]) -> None:
    if len(argv) > 2:
        c.reply.error(errors.WRONG_ARITY.format("ping"))
    elif len(argv) == 2:
        c.reply.bulk(argv[1])
    else:
        c.reply.status(b"PONG")


@command("echo", 2, "loading stale fast",
         syntax="message", categories=CONN, group=CONN, since="1.0.0",
         summary="Returns the given string.")
def echo(c: Client, argv: list[bytes]) -> None:
    c.reply.bulk(argv[1])


def _password_matches(c: Client, user: bytes, password: bytes) -> bool:
    """Only the `default` user exists; with no requirepass it accepts any password."""
    if user != b"default":
        return False
    required = str(c.server.config["requirepass"]).encode()
    return not required or hmac.compare_digest(password, required)


@command("auth", -2, CONN_FLAGS, syntax="[username] password", categories=CONN,
         group=CONN, since="1.0.0",
         complexity="O(N) where N is the number of passwords defined for the user",
         summary="Authenticates the connection.")
def auth(c: Client, argv: list[bytes]) -> None:
    if len(argv) > 3:
        c.reply.error(errors.SYNTAX)
        return
    if len(argv) == 2:
        if not c.server.config["requirepass"]:
            c.reply.error(errors.AUTH_NO_PASSWORD)
            return
        user, password = b"default", argv[1]
    else:
        user, password = argv[1], argv[2]
    if _password_matches(c, user, password):
        c.set_authenticated(True)
        c.reply.ok()
    else:
        c.reply.error(errors.WRONGPASS)


def _valid_name(name: bytes) -> bool:
    return all(33 <= b <= 126 for b in name)


@command("hello", -1, CONN_FLAGS, categories=CONN,
         syntax="[(protover:integer [(AUTH:username password)] [SETNAME:clientname])]",
         group=CONN, since="6.0.0",
         summary="Handshakes with the Redis server.")
def hello(c: Client, argv: list[bytes]) -> None:
    version = c.resp
    if len(argv) >= 2:
        version = parse_int(argv[1])
        if version is None:
            c.reply.error(errors.PROTOCOL_VERSION_NOT_INTEGER)
            return
        if version < 2 or version > 3:
            c.reply.error(errors.NOPROTO)
            return
    credentials = name = None
    i = 2
    while i < len(argv):
        option = argv[i].lower()
        more = len(argv) - 1 - i
        if option == b"auth" and more >= 2:
            credentials = (argv[i + 1], argv[i + 2])
            i += 3
        elif option == b"setname" and more >= 1:
            name = argv[i + 1]
            i += 2
        else:
            c.reply.error(f"ERR Syntax error in HELLO option '{text(argv[i])}'")
            return
    if credentials is not None:
        if not _password_matches(c, *credentials):
            c.reply.error(errors.WRONGPASS)
            return
        c.set_authenticated(True)
    if not c.authenticated:
        c.reply.error(errors.NOAUTH_HELLO)
        return
    if name is not None:
        if not _valid_name(name):
            c.reply.error(errors.CLIENT_NAME_SPACES)
            return
        c.name = name
    c.set_protocol(version)
    r = c.reply
    r.map_len(7)
    r.bulk(b"server")
    r.bulk(b"redis")
    r.bulk(b"version")
    r.bulk(REDIS_VERSION.encode())
    r.bulk(b"proto")
    r.integer(version)
    r.bulk(b"id")
    r.integer(c.id)
    r.bulk(b"mode")
    r.bulk(b"standalone")
    r.bulk(b"role")
    r.bulk(b"master")
    r.bulk(b"modules")
    r.array_len(0)


@command("select", 2, "loading stale fast",
         syntax="index:integer", categories=CONN, group=CONN, since="1.0.0",
         summary="Changes the selected database.")
def select(c: Client, argv: list[bytes]) -> None:
    index = parse_int(argv[1])
    if index is None:
        c.reply.error(errors.SELECT_NOT_INTEGER)
    elif not -(2**31) <= index < 2**31:  # Redis reads the index as a C int
        c.reply.error(errors.SELECT_OUT_OF_RANGE)
    elif index != 0:
        c.reply.error(errors.DB_INDEX_OUT_OF_RANGE)
    else:
        c.reply.ok()


@command("quit", -1, CONN_FLAGS, categories=CONN, group=CONN, since="1.0.0",
         summary="Closes the connection.")
def quit_(c: Client, argv: list[bytes]) -> None:
    c.reply.ok()
    c.close_after_reply = True


@command("reset", 1, CONN_FLAGS, categories=CONN, group=CONN, since="6.2.0",
         summary="Resets the connection.")
def reset(c: Client, argv: list[bytes]) -> None:
    c.reset_transaction()
    c.set_protocol(2)
    c.name = b""
    c.set_authenticated(not c.server.config["requirepass"])
    c.reply.status(b"RESET")


# -- CLIENT ---------------------------------------------------------------------------

container("client", group=CONN, since="2.4.0",
          summary="A container for client connection commands.")
CLIENT_FLAGS = "noscript loading stale"
CLIENT_ADMIN = "admin noscript loading stale"


@command("id", 2, CLIENT_FLAGS, categories=CONN, group=CONN, since="5.0.0",
         parent="client", summary="Returns the unique client ID of the connection.")
def client_id(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(c.id)


@command("getname", 2, CLIENT_FLAGS, categories=CONN, group=CONN, since="2.6.9",
         parent="client", summary="Returns the name of the connection.")
def client_getname(c: Client, argv: list[bytes]) -> None:
    c.reply.bulk_or_null(c.name or None)


@command("setname", 3, CLIENT_FLAGS, syntax="connection-name", categories=CONN,
         group=CONN, since="2.6.9",
         parent="client", summary="Sets the connection name.")
def client_setname(c: Client, argv: list[bytes]) -> None:
    if not _valid_name(argv[2]):
        c.reply.error(errors.CLIENT_NAME_SPACES)
        return
    c.name = argv[2]
    c.reply.ok()


@command("setinfo", 4, CLIENT_FLAGS, syntax="LIB-NAME:libname|LIB-VER:libver",
         categories=CONN, group=CONN, since="7.2.0",
         parent="client", summary="Sets information specific to the client or connection.")
def client_setinfo(c: Client, argv: list[bytes]) -> None:
    attribute = argv[2].lower()
    if attribute not in (b"lib-name", b"lib-ver"):
        c.reply.error(errors.CLIENT_SETINFO_ATTR.format(text(argv[2])))
        return
    if not _valid_name(argv[3]):
        c.reply.error(errors.CLIENT_INFO_SPACES.format(text(attribute)))
        return
    if attribute == b"lib-name":
        c.lib_name = argv[3]
    else:
        c.lib_ver = argv[3]
    c.reply.ok()


def describe(c: Client) -> bytes:
    """One line of CLIENT LIST / CLIENT INFO, with Redis' field order."""
    now = time.monotonic()
    unix = c.transport is not None and c.address.endswith(":0")
    return (
        f"id={c.id} addr={c.address} laddr={c.local_address} fd=-1 "
        f"name={text(c.name)} age={int(now - c.created)} "
        f"idle={int(now - c.last_interaction)} flags={'U' if unix else 'N'} db=0 sub=0 "
        f"psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 "
        f"obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={c.last_command} user=default "
        f"redir=-1 resp={c.resp} lib-name={text(c.lib_name)} lib-ver={text(c.lib_ver)}\n"
    ).encode()


@command("info", 2, CLIENT_FLAGS, categories=CONN, group=CONN, since="6.2.0",
         parent="client", tips="nondeterministic_output",
         summary="Returns information about the connection.")
def client_info(c: Client, argv: list[bytes]) -> None:
    c.reply.verbatim(describe(c))


@command("list", -2, CLIENT_ADMIN, categories=CONN, group=CONN, since="2.4.0",
         parent="client", tips="nondeterministic_output", complexity="O(N)",
         summary="Lists open connections.")
def client_list(c: Client, argv: list[bytes]) -> None:
    clients = list(c.server.clients.values())
    if len(argv) > 2:
        if len(argv) >= 4 and argv[2].lower() == b"type" and argv[3].lower() == b"normal":
            pass
        elif len(argv) >= 4 and argv[2].lower() == b"id":
            wanted = {parse_int(a) for a in argv[3:]}
            if None in wanted:
                c.reply.error("ERR Invalid client ID")
                return
            clients = [other for other in clients if other.id in wanted]
        else:
            c.reply.error(errors.SYNTAX)
            return
    c.reply.verbatim(b"".join(describe(other) for other in clients))


def _on_off(c: Client, argv: list[bytes]) -> None:
    if argv[2].lower() in (b"on", b"off"):
        c.reply.ok()
    else:
        c.reply.error(errors.SYNTAX)


command("no-evict", 3, CLIENT_ADMIN, categories=CONN, group=CONN, since="7.0.0",
        parent="client", summary="Sets the client eviction mode of the connection.")(_on_off)
command("no-touch", 3, "noscript loading stale", categories=CONN, group=CONN,
        since="7.2.0", parent="client",
        summary="Controls whether commands sent by the client affect the LRU/LFU of "
                "accessed keys.")(_on_off)

_CLIENT_HELP = (
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME", "    Return the name of the current connection.",
    "ID", "    Return the ID of the current connection.",
    "INFO", "    Return information about the current client connection.",
    "LIST [TYPE NORMAL] [ID <id> [<id> ...]]", "    Return information about client connections.",
    "NO-EVICT (ON|OFF)", "    Accepted for compatibility; the arbiter never evicts clients.",
    "NO-TOUCH (ON|OFF)", "    Accepted for compatibility; the arbiter keeps no LRU data.",
    "SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
    "SETNAME <name>", "    Assign the name <name> to the current connection.",
    "HELP", "    Print this help.",
)


@command("help", 2, "loading stale", categories=CONN, group=CONN, since="5.0.0",
         parent="client", summary="Returns helpful text about the different subcommands.")
def client_help(c: Client, argv: list[bytes]) -> None:
    help_reply(c, _CLIENT_HELP)


def help_reply(c: Client, lines: tuple[str, ...]) -> None:
    """A HELP subcommand's reply: one status line per line of text."""
    c.reply.array_len(len(lines))
    for line in lines:
        c.reply.status(line.encode())
