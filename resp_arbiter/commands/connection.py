"""Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT."""

from __future__ import annotations

import time

from .. import REDIS_VERSION, errors
from ..client import Client
from ..limits import INT_MAX, INT_MIN, LONG_MAX, ULONG_LIMIT
from ..registry import Family
from ..server import PAUSE_ALL, PAUSE_WRITE
from ._args import int_arg, parse_int, text

CONN = "connection"
FAMILY = Family(CONN, categories=CONN)
command = FAMILY.command
container = FAMILY.container
CONN_FLAGS = "noscript loading stale fast no_auth allow_busy"


@command("ping", -1, "fast",
         syntax="[message]", since="1.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Returns the server's liveliness response.")
def ping(c: Client, argv: list[bytes]) -> None:
    if len(argv) > 2:
        raise errors.CommandError(errors.WRONG_ARITY.format("ping"))
    if c.subscriptions is not None and c.resp == 2:  # Pub/Sub mode's shape (RESP2)
        c.reply.array_len(2)
        c.reply.bulk(b"pong")
        c.reply.bulk(argv[1] if len(argv) == 2 else b"")
    elif len(argv) == 2:
        c.reply.bulk(argv[1])
    else:
        c.reply.status(b"PONG")


@command("echo", 2, "loading stale fast",
         syntax="message", since="1.0.0",
         summary="Returns the given string.")
def echo(c: Client, argv: list[bytes]) -> None:
    c.reply.bulk(argv[1])


def _password_matches(c: Client, user: bytes, password: bytes) -> bool:
    """Only the `default` user exists; with no requirepass it accepts any password."""
    if user != b"default":
        return False
    required = str(c.server.config["requirepass"]).encode("utf-8", "surrogateescape")
    import hmac  # (at the first AUTH: the import costs every start a few milliseconds)

    return not required or hmac.compare_digest(password, required)


@command("auth", -2, CONN_FLAGS, syntax="[username] password",
         since="1.0.0",
         complexity="O(N) where N is the number of passwords defined for the user",
         summary="Authenticates the connection.")
def auth(c: Client, argv: list[bytes]) -> None:
    if len(argv) > 3:
        raise errors.CommandError(errors.SYNTAX)
    for index in range(1, len(argv)):  # MONITOR and the slow log never show passwords
        c.redact(argv, index)
    if len(argv) == 2:
        if not c.server.config["requirepass"]:
            raise errors.CommandError(errors.AUTH_NO_PASSWORD)
        user, password = b"default", argv[1]
    else:
        user, password = argv[1], argv[2]
    if not _password_matches(c, user, password):
        raise errors.CommandError(errors.WRONGPASS)
    c.set_authenticated(True)
    c.reply.ok()


def _valid_name(name: bytes) -> bool:
    return all(33 <= b <= 126 for b in name)


@command("hello", -1, CONN_FLAGS,
         syntax="[(protover:integer [(AUTH:username password)] [SETNAME:clientname])]",
         since="6.0.0",
         summary="Handshakes with the Redis server.")
def hello(c: Client, argv: list[bytes]) -> None:
    version = c.resp
    if len(argv) >= 2:
        version = int_arg(argv[1], errors.PROTOCOL_VERSION_NOT_INTEGER)
        if version < 2 or version > 3:
            raise errors.CommandError(errors.NOPROTO)
    # Options take effect one by one, as in Redis: a name set before a failing option
    # stays set, and only the AUTH arguments read so far are hidden from MONITOR.
    i = 2
    while i < len(argv):
        option = argv[i].lower()
        more = len(argv) - 1 - i
        if option == b"auth" and more >= 2:
            c.redact(argv, i + 1)
            c.redact(argv, i + 2)
            if not _password_matches(c, argv[i + 1], argv[i + 2]):
                raise errors.CommandError(errors.WRONGPASS)
            c.set_authenticated(True)
            i += 3
        elif option == b"setname" and more >= 1:
            if not _valid_name(argv[i + 1]):
                raise errors.CommandError(errors.CLIENT_NAME_SPACES)
            c.name = argv[i + 1]
            i += 2
        else:
            raise errors.CommandError(errors.HELLO_SYNTAX.format(text(argv[i])))
    if not c.authenticated:
        raise errors.CommandError(errors.NOAUTH_HELLO)
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
         syntax="index:integer", since="1.0.0",
         summary="Changes the selected database.")
def select(c: Client, argv: list[bytes]) -> None:
    index = int_arg(argv[1], errors.SELECT_NOT_INTEGER)
    if not INT_MIN <= index <= INT_MAX:  # Redis reads the index as a C int
        raise errors.CommandError(errors.SELECT_OUT_OF_RANGE)
    db = c.server.databases.get(index)
    if db is None:
        raise errors.CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    c.db = db
    c.reply.ok()


@command("quit", -1, CONN_FLAGS, since="1.0.0",
         summary="Closes the connection.")
def quit_(c: Client, argv: list[bytes]) -> None:
    c.reply.ok()
    c.close_after_reply = True


@command("reset", 1, CONN_FLAGS, since="6.2.0",
         summary="Resets the connection.")
def reset(c: Client, argv: list[bytes]) -> None:
    if c.monitor:  # RESET also ends MONITOR mode (and is not fed to the monitors)
        c.server.remove_monitor(c)
    c.reset_transaction()
    c.server.tracking.disable(c)
    c.server.leave_pubsub(c)
    c.db = c.server.databases[0]
    c.set_protocol(2)
    c.name = b""
    c.set_authenticated(not c.server.config["requirepass"])
    c.reply.status(b"RESET")


# -- CLIENT ---------------------------------------------------------------------------

container("client", since="2.4.0",
          summary="A container for client connection commands.")
CLIENT_FLAGS = "noscript loading stale"
CLIENT_ADMIN = "admin noscript loading stale"


@command("id", 2, CLIENT_FLAGS, since="5.0.0",
         parent="client", summary="Returns the unique client ID of the connection.")
def client_id(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(c.id)


@command("getname", 2, CLIENT_FLAGS, since="2.6.9",
         parent="client", summary="Returns the name of the connection.")
def client_getname(c: Client, argv: list[bytes]) -> None:
    c.reply.bulk_or_null(c.name or None)


@command("setname", 3, CLIENT_FLAGS, syntax="connection-name",
         since="2.6.9",
         parent="client", summary="Sets the connection name.")
def client_setname(c: Client, argv: list[bytes]) -> None:
    if not _valid_name(argv[2]):
        raise errors.CommandError(errors.CLIENT_NAME_SPACES)
    c.name = argv[2]
    c.reply.ok()


@command("setinfo", 4, CLIENT_FLAGS, syntax="LIB-NAME:libname|LIB-VER:libver",
         since="7.2.0",
         parent="client", summary="Sets information specific to the client or connection.")
def client_setinfo(c: Client, argv: list[bytes]) -> None:
    attribute = argv[2].lower()
    if attribute not in (b"lib-name", b"lib-ver"):
        raise errors.CommandError(errors.CLIENT_SETINFO_ATTR.format(text(argv[2])))
    if not _valid_name(argv[3]):
        raise errors.CommandError(errors.CLIENT_INFO_SPACES.format(text(attribute)))
    if attribute == b"lib-name":
        c.lib_name = argv[3]
    else:
        c.lib_ver = argv[3]
    c.reply.ok()


@command("info", 2, CLIENT_FLAGS, since="6.2.0",
         parent="client", tips="nondeterministic_output",
         summary="Returns information about the connection.")
def client_info(c: Client, argv: list[bytes]) -> None:
    c.reply.verbatim(c.describe(argv))


# Redis' client types; a client of the arbiter is "pubsub" while subscribed, else
# "normal" (MONITOR clients too).
_CLIENT_TYPES = {b"normal": "normal", b"slave": "replica", b"replica": "replica",
                 b"pubsub": "pubsub", b"master": "master"}


def client_type(c: Client) -> str:
    """Redis' getClientType, for the kinds of client the arbiter has."""
    return "pubsub" if c.subscriptions is not None else "normal"


def _client_type(name: bytes) -> str:
    kind = _CLIENT_TYPES.get(name.lower())
    if kind is None:
        raise errors.CommandError(errors.UNKNOWN_CLIENT_TYPE.format(text(name)))
    return kind


@command("list", -2, CLIENT_ADMIN, since="2.4.0",
         parent="client", tips="nondeterministic_output", complexity="O(N)",
         summary="Lists open connections.")
def client_list(c: Client, argv: list[bytes]) -> None:
    clients = list(c.server.clients.values())
    if len(argv) == 4 and argv[2].lower() == b"type":
        kind = _client_type(argv[3])
        clients = [other for other in clients if client_type(other) == kind]
    elif len(argv) > 3 and argv[2].lower() == b"id":
        by_id = c.server.clients
        wanted = []
        for arg in argv[3:]:  # in the order asked, repeats included, as Redis
            client_id = int_arg(arg, errors.INVALID_CLIENT_ID)
            if client_id in by_id:
                wanted.append(by_id[client_id])
        clients = wanted
    elif len(argv) != 2:
        raise errors.CommandError(errors.SYNTAX)
    c.reply.verbatim(b"".join(other.describe(argv if other is c else None)
                              for other in clients))


@command("kill", -3, CLIENT_ADMIN, since="2.4.0",
         parent="client", complexity="O(N) where N is the number of client connections",
         syntax="[old-format] [ID:client-id:integer] [TYPE:type] [USER:username] "
                "[ADDR:addr] [LADDR:laddr] [SKIPME:skipme] [MAXAGE:maxage:integer]",
         summary="Terminates open connections.")
def client_kill(c: Client, argv: list[bytes]) -> None:
    """The old form (one address: OK or an error) and the filters (a count); the
    caller is spared unless SKIPME no, or the old form names it."""
    addr = laddr = kind = None
    client_id = max_age = 0
    skip_me = len(argv) != 3
    if len(argv) == 3:
        addr = text(argv[2])
    else:
        i = 2
        while i < len(argv):
            option = argv[i].lower()
            if i + 1 >= len(argv):
                raise errors.CommandError(errors.SYNTAX)
            value = argv[i + 1]
            if option == b"id":
                client_id = parse_int(value) or 0
                if client_id < 1:
                    raise errors.CommandError(errors.CLIENT_ID_POSITIVE)
            elif option == b"maxage":
                age = int_arg(value, errors.MAXAGE_NOT_INTEGER)
                if age <= 0:
                    raise errors.CommandError(errors.MAXAGE_POSITIVE)
                max_age = age
            elif option == b"type":
                kind = _client_type(value)
            elif option == b"addr":
                addr = text(value)
            elif option == b"laddr":
                laddr = text(value)
            elif option == b"user":
                if value != b"default":
                    raise errors.CommandError(errors.NO_SUCH_USER.format(text(value)))
            elif option == b"skipme":
                if value.lower() not in (b"yes", b"no"):
                    raise errors.CommandError(errors.SYNTAX)
                skip_me = value.lower() == b"yes"
            else:
                raise errors.CommandError(errors.SYNTAX)
            i += 2
    now = time.monotonic()
    killed = 0
    for other in list(c.server.clients.values()):
        if (addr is not None and other.address != addr) \
                or (laddr is not None and other.local_address != laddr) \
                or (kind is not None and kind != client_type(other)) \
                or (client_id and other.id != client_id) \
                or (other is c and skip_me) \
                or (max_age and now - other.created < max_age):
            continue
        if other is c:
            c.close_after_reply = True  # after this reply, as Redis
        else:
            other.kill()
        killed += 1
    if len(argv) != 3:
        c.reply.integer(killed)
    elif not killed:
        raise errors.CommandError(errors.NO_SUCH_CLIENT)
    else:
        c.reply.ok()


@command("pause", -3, CLIENT_ADMIN, since="2.9.50",
         parent="client", syntax="timeout:integer [WRITE|ALL]",
         summary="Suspends commands processing.")
def client_pause(c: Client, argv: list[bytes]) -> None:
    """Hold every client's commands (ALL) or only writes (WRITE) for `timeout` ms; held
    commands run, in order, when the pause ends (time, or CLIENT UNPAUSE)."""
    if len(argv) > 4:
        raise errors.CommandError(errors.SUBCOMMAND_SYNTAX.format(
            text(argv[1][:128]), "CLIENT"))
    kind = PAUSE_ALL
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode not in (b"write", b"all"):
            raise errors.CommandError(errors.PAUSE_MODE)
        kind = PAUSE_WRITE if mode == b"write" else PAUSE_ALL
    timeout = int_arg(argv[2], errors.TIMEOUT_NOT_INTEGER)
    if timeout < 0:
        raise errors.CommandError(errors.TIMEOUT_NEGATIVE)
    end = 0
    if timeout:
        # Redis adds the time in ms to a signed 64-bit integer: past its range the end
        # wraps around into the past, and the pause is over at once.
        end = timeout + time.time_ns() // 1_000_000
        if end > LONG_MAX:
            end -= ULONG_LIMIT
    c.server.pause(end, kind)
    c.reply.ok()


@command("unpause", 2, CLIENT_ADMIN, since="6.2.0",
         parent="client", complexity="O(N) Where N is the number of paused clients",
         summary="Resumes processing of clients that were paused.")
def client_unpause(c: Client, argv: list[bytes]) -> None:
    c.server.unpause()
    c.reply.ok()


@command("no-evict", 3, CLIENT_ADMIN, syntax="ON|OFF",
         since="7.0.0", parent="client",
         summary="Sets the client eviction mode of the connection.")
def client_no_evict(c: Client, argv: list[bytes]) -> None:
    """Only recorded (flag `e` in CLIENT LIST): the arbiter evicts no clients."""
    mode = argv[2].lower()
    if mode not in (b"on", b"off"):
        raise errors.CommandError(errors.SYNTAX)
    c.no_evict = mode == b"on"
    c.reply.ok()


@command("no-touch", 3, "noscript loading stale", syntax="ON|OFF",
         since="7.2.0", parent="client",
         summary="Controls whether commands sent by the client affect the LRU/LFU of "
                 "accessed keys.")
def client_no_touch(c: Client, argv: list[bytes]) -> None:
    """Accepted: the arbiter keeps no LRU/LFU data to leave untouched."""
    if argv[2].lower() not in (b"on", b"off"):
        raise errors.CommandError(errors.SYNTAX)
    c.reply.ok()


_CLIENT_HELP = (
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME", "    Return the name of the current connection.",
    "ID", "    Return the ID of the current connection.",
    "INFO", "    Return information about the current client connection.",
    "KILL <ip:port>", "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Kill connections by type.",
    "    * USER <username>", "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)", "      Skip killing current connection (default: yes).",
    "    * ID <client-id>", "      Kill connections by client id.",
    "    * MAXAGE <maxage>", "      Kill connections older than the specified age.",
    "LIST [options ...]", "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Return clients of specified type.",
    "UNPAUSE", "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "SETNAME <name>", "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>", "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.", "    * LIB-VER: the client lib version.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]", "    Control server assisted client side caching.",
    "TRACKINGINFO", "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)", "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP", "    Prints this help.",
)


@command("help", 2, "loading stale", since="5.0.0",
         parent="client", summary="Returns helpful text about the different subcommands.")
def client_help(c: Client, argv: list[bytes]) -> None:
    help_reply(c, _CLIENT_HELP)


def help_reply(c: Client, lines: tuple[str, ...]) -> None:
    """A HELP subcommand's reply: one status line per line of text."""
    c.reply.array_len(len(lines))
    for line in lines:
        c.reply.status(line.encode())
