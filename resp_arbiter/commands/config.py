"""CONFIG GET, SET, RESETSTAT, REWRITE and HELP, over the settings declared in
`resp_arbiter.config`."""

from __future__ import annotations

import logging

from .. import errors
from ..client import Client
from ..conffile import rewrite
from ..config import SETTINGS, ConfigError
from ..listeners import fit_open_files
from ..registry import Family
from ..server import NOTICE
from ._args import compile_glob, text
from .connection import help_reply

log = logging.getLogger("resp_arbiter")
FAMILY = Family("server")
command = FAMILY.command
container = FAMILY.container
ADMIN = "admin noscript loading stale"

container("config", since="2.0.0",
          summary="A container for server configuration commands.")


@command("get", -3, ADMIN, since="2.0.0", parent="config",
         complexity="O(N) when N is the number of configuration parameters provided",
         summary="Returns the effective values of configuration parameters.")
def config_get(c: Client, argv: list[bytes]) -> None:
    # Like Redis: a name without glob characters is looked up (any case) and answered
    # with the spelling asked for; a pattern answers canonical names. Each setting once.
    matched: dict[str, bytes] = {}
    for pattern in argv[2:]:
        if not any(char in pattern for char in b"[*?"):
            name = text(pattern).lower()
            if name in SETTINGS and name not in matched:
                matched[name] = pattern
            continue
        match = compile_glob(pattern, nocase=True)
        for name in SETTINGS:
            if name not in matched and match(name.encode()):
                matched[name] = name.encode()
    c.reply.pairs([(spelling, c.server.config.render(name))
                   for name, spelling in matched.items()])


@command("set", -4, ADMIN, since="2.0.0", parent="config",
         tips="request_policy:all_nodes response_policy:all_succeeded",
         complexity="O(N) when N is the number of configuration parameters provided",
         summary="Sets configuration parameters in-flight.")
def config_set(c: Client, argv: list[bytes]) -> None:
    if len(argv) % 2:
        raise errors.CommandError(errors.SYNTAX)
    config = c.server.config
    for i in range(2, len(argv) - 1, 2):  # the slow log never shows a password
        if argv[i].lower() == b"requirepass":
            c.redact(argv, i + 1)
    # As Redis: every name is checked first (the first problem, named as typed, wins),
    # then the values are parsed in order (a bad value names the canonical setting).
    names: list[str] = []
    for i in range(2, len(argv), 2):
        name = text(argv[i]).lower()
        setting = SETTINGS.get(name)
        if setting is None:
            raise errors.CommandError(errors.CONFIG_UNKNOWN_OPTION.format(text(argv[i])))
        if not setting.mutable:
            raise errors.CommandError(errors.CONFIG_SET_FAILED.format(
                text(argv[i]), errors.CONFIG_IMMUTABLE))
        if setting.protected:
            raise errors.CommandError(errors.CONFIG_SET_FAILED.format(
                text(argv[i]), errors.CONFIG_PROTECTED))
        if name in names:
            raise errors.CommandError(errors.CONFIG_SET_FAILED.format(
                text(argv[i]), errors.CONFIG_DUPLICATE))
        names.append(name)
    changes: dict[str, object] = {}
    for name, value in zip(names, argv[3::2], strict=True):
        try:
            changes[name] = SETTINGS[name].convert(text(value), config.values[name])
        except ConfigError as exc:
            raise errors.CommandError(errors.CONFIG_SET_FAILED.format(name, exc)) from None
    if "maxclients" in changes:
        fitting = fit_open_files(changes["maxclients"])
        if fitting != changes["maxclients"]:
            log.warning("Failed applying new configuration. Possibly related to new "
                        "maxclients setting. Restoring previous settings.")
            raise errors.CommandError(errors.CONFIG_SET_FAILED.format(
                "maxclients", errors.CONFIG_MAXCLIENTS_OS.format(fitting)))
    previous = {name: config.values[name] for name in changes}
    config.values.update(changes)
    refused = c.server.aof.config_changed(changes)
    if refused is not None:
        config.values.update(previous)
        raise errors.CommandError(errors.CONFIG_SET_FAILED.format("appendonly", refused))
    c.server.apply_config()
    c.reply.ok()


@command("resetstat", 2, ADMIN, since="2.0.0", parent="config",
         summary="Resets the server's statistics.")
def config_resetstat(c: Client, argv: list[bytes]) -> None:
    c.server.reset_stats()
    c.reply.ok()


@command("rewrite", 2, ADMIN, since="2.8.0", parent="config",
         summary="Persists the effective configuration to file.")
def config_rewrite(c: Client, argv: list[bytes]) -> None:
    if not c.server.config.config_file:
        raise errors.CommandError(errors.CONFIG_NO_FILE)
    try:
        rewrite(c.server.config)
    except OSError as exc:
        log.warning("CONFIG REWRITE failed: %s", exc.strerror or exc)
        raise errors.CommandError(
            errors.CONFIG_REWRITE_FAILED.format(exc.strerror or exc)) from None
    log.log(NOTICE, "CONFIG REWRITE executed with success.")
    c.reply.ok()


@command("help", 2, "loading stale", since="5.0.0", parent="config",
         summary="Returns helpful text about the different subcommands.")
def config_help(c: Client, argv: list[bytes]) -> None:
    help_reply(c, (
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
        "RESETSTAT", "    Reset statistics reported by the INFO command.",
        "REWRITE", "    Rewrite the configuration file.",
        "HELP", "    Prints this help.",
    ))
