"""COMMAND and its subcommands: the command table, answered from the declarations."""

from __future__ import annotations

from .. import errors
from ..client import Client
from ..registry import COMMANDS, Argument, Command, Family, KeySpec, parse_syntax
from ._args import compile_glob
from .connection import help_reply

FAMILY = Family("server")
command = FAMILY.command

def _command_info(c: Client, spec: Command) -> None:
    r = c.reply
    r.array_len(10)
    r.bulk(spec.full_name.encode())
    r.integer(spec.arity)
    _statuses(c, spec.flags)
    r.integer(spec.first_key)
    r.integer(spec.last_key)
    r.integer(spec.step)
    _statuses(c, ["@" + category for category in spec.categories])
    r.set_len(len(spec.tips))
    for tip in spec.tips:
        r.bulk(tip.encode())
    r.set_len(len(spec.key_specs))
    for key_spec in spec.key_specs:
        _key_spec(c, key_spec)
    if spec.subcommands:  # Redis: an array of subcommand rows, or an empty set
        r.array_len(len(spec.subcommands))
    else:
        r.set_len(0)
    for sub in spec.subcommands.values():
        _command_info(c, sub)


def _statuses(c: Client, values) -> None:
    c.reply.set_len(len(values))
    for value in values:
        c.reply.status(value.encode())


def _key_spec(c: Client, spec: KeySpec) -> None:
    r = c.reply
    r.map_len(4 if spec.notes else 3)
    if spec.notes:
        r.bulk(b"notes")
        r.bulk(spec.notes.encode())
    r.bulk(b"flags")
    _statuses(c, spec.flags)
    r.bulk(b"begin_search")
    r.map_len(2)
    r.bulk(b"type")
    r.bulk(b"index")
    r.bulk(b"spec")
    r.map_len(1)
    r.bulk(b"index")
    r.integer(spec.index)
    r.bulk(b"find_keys")
    r.map_len(2)
    r.bulk(b"type")
    r.bulk(b"range")
    r.bulk(b"spec")
    r.map_len(3)
    for name, value in ((b"lastkey", spec.lastkey), (b"keystep", spec.keystep),
                        (b"limit", spec.limit)):
        r.bulk(name)
        r.integer(value)


def _command_docs(c: Client, spec: Command) -> None:
    r = c.reply
    fields = [(b"summary", spec.summary), (b"since", spec.since), (b"group", spec.group),
              (b"complexity", spec.complexity)]
    arguments = parse_syntax(spec.syntax) if spec.syntax else []
    r.map_len(len(fields) + (1 if arguments else 0) + (1 if spec.subcommands else 0))
    for name, value in fields:
        r.bulk(name)
        r.bulk(value.encode())
    if arguments:
        r.bulk(b"arguments")
        _arguments_docs(c, arguments)
    if spec.subcommands:
        r.bulk(b"subcommands")
        r.map_len(len(spec.subcommands))
        for sub in spec.subcommands.values():
            r.bulk(sub.full_name.encode())
            _command_docs(c, sub)


def _arguments_docs(c: Client, arguments: list[Argument]) -> None:
    """COMMAND DOCS' argument maps, which redis-cli turns into its typing hints."""
    r = c.reply
    r.array_len(len(arguments))
    for argument in arguments:
        flags = [flag for flag, on in (("optional", argument.optional),
                                       ("multiple", argument.multiple)) if on]
        entries: list[tuple[bytes, object]] = [(b"name", argument.name.encode()),
                                               (b"type", argument.type.encode())]
        if argument.type == "key":
            entries.append((b"key_spec_index", 0))
        if argument.token:
            entries.append((b"token", argument.token.encode()))
        r.map_len(len(entries) + bool(flags) + bool(argument.arguments))
        for name, value in entries:
            r.bulk(name)
            if isinstance(value, int):
                r.integer(value)
            else:
                r.bulk(value)
        if flags:
            r.bulk(b"flags")
            _statuses(c, flags)
        if argument.arguments:
            r.bulk(b"arguments")
            _arguments_docs(c, argument.arguments)


def _find(name: bytes) -> Command | None:
    """A command or `container|sub` subcommand by name, any case."""
    parent, _, sub = name.lower().partition(b"|")
    spec = COMMANDS.get(parent)
    if spec is not None and sub:
        return spec.subcommands.get(sub)
    return spec


@command("command", -1, "loading stale", categories="connection",
         since="2.8.13", tips="nondeterministic_output_order",
         complexity="O(N) where N is the total number of Redis commands",
         summary="Returns detailed information about all commands.")
def command_all(c: Client, argv: list[bytes]) -> None:
    """COMMAND with no subcommand; the subcommands are declared below."""
    c.reply.array_len(len(COMMANDS))
    for spec in COMMANDS.values():
        _command_info(c, spec)


@command("count", 2, "loading stale", categories="connection",
         since="2.8.13", parent="command", summary="Returns a count of commands.")
def command_count(c: Client, argv: list[bytes]) -> None:
    c.reply.integer(len(COMMANDS))


@command("info", -2, "loading stale",
         syntax="[command-name+]", categories="connection",
         since="2.8.13", parent="command", tips="nondeterministic_output_order",
         complexity="O(N) where N is the number of commands to look up",
         summary="Returns information about one, multiple or all commands.")
def command_info(c: Client, argv: list[bytes]) -> None:
    specs = [_find(name) for name in argv[2:]] if len(argv) > 2 else list(COMMANDS.values())
    c.reply.array_len(len(specs))
    for spec in specs:
        if spec is None:
            c.reply.null()
        else:
            _command_info(c, spec)


@command("docs", -2, "loading stale", categories="connection",
         since="7.0.0", parent="command", tips="nondeterministic_output_order",
         complexity="O(N) where N is the number of commands to look up",
         summary="Returns documentary information about one, multiple or all commands.")
def command_docs(c: Client, argv: list[bytes]) -> None:
    if len(argv) > 2:
        found = [spec for spec in map(_find, argv[2:]) if spec is not None]
    else:
        found = list(COMMANDS.values())
    c.reply.map_len(len(found))
    for spec in found:
        c.reply.bulk(spec.full_name.encode())
        _command_docs(c, spec)


@command("list", -2, "loading stale", categories="connection",
         since="7.0.0", parent="command", tips="nondeterministic_output_order",
         complexity="O(N) where N is the total number of Redis commands",
         summary="Returns a list of command names.")
def command_list(c: Client, argv: list[bytes]) -> None:
    names = [spec.full_name.encode() for top in COMMANDS.values()
             for spec in (top, *top.subcommands.values())]
    if len(argv) > 2:
        if len(argv) != 5 or argv[2].lower() != b"filterby":
            raise errors.CommandError(errors.SYNTAX)
        kind, value = argv[3].lower(), argv[4]
        if kind == b"pattern":
            match = compile_glob(value, nocase=True)
            names = [name for name in names if match(name)]
        elif kind == b"aclcat":
            category = value.lower().decode(errors="replace")
            names = [name for name in names if category in _find(name).categories]
        elif kind == b"module":
            names = []
        else:
            raise errors.CommandError(errors.SYNTAX)
    c.reply.bulks(names)


@command("help", 2, "loading stale", categories="connection",
         since="5.0.0", parent="command",
         summary="Returns helpful text about the different subcommands.")
def command_help(c: Client, argv: list[bytes]) -> None:
    help_reply(c, (
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)", "    Return details about all commands.",
        "COUNT", "    Return the total number of commands in this server.",
        "LIST", "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]", "    Return details about multiple commands.",
        "DOCS [<command-name> ...]", "    Return documentation details about commands.",
        "HELP", "    Print this help.",
    ))
