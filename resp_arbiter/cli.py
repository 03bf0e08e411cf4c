"""`resp-arbiter` / `python -m resp_arbiter`: options named as redis-server names them.

`resp-arbiter [CONFIG_FILE] [--option value ...]`: a configuration file in redis.conf
syntax (`-` reads standard input), then command-line options, which override it. Every
problem with either is one line on standard error and exit code 1, as redis-server exits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import NoReturn

from . import __version__, commands  # noqa: F401  (registers the commands)
from .conffile import ConfigFileError, format_value, load, shorten
from .config import SENSITIVE, SETTINGS, Config, ConfigError, Setting, is_memory
from .logs import LOG_LEVELS, NOTICE
from .owners import die_with_parent
from .proctitle import HIDDEN
from .server import Server, StartupError

try:  # here, before any configuration is read: see new_event_loop
    import uvloop
except ImportError:
    uvloop = None

log = logging.getLogger("resp_arbiter")
# Exit codes: 0 after a clean stop, 1 for any failure to start (redis-server's code for a
# bad option, a bad configuration file or a failed bind). Never 3 or 4: gunicorn up to
# 26.0 reads those from a child as a failed boot.
EXIT_OK = 0
EXIT_FAILURE = 1
_METAVARS = {"unixsocket": "PATH", "logfile": "PATH", "unixsocketperm": "OCTAL",
             "bind": "ADDRESSES", "requirepass": "PASSWORD", "timeout": "SECONDS"}
_EMPTY_DEFAULTS = {"logfile": "standard output"}  # what an empty default means


class _Parser(argparse.ArgumentParser):
    """argparse with redis-server's exit code and a one-line error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_FAILURE, f"{self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="resp-arbiter", allow_abbrev=False,
        usage="%(prog)s [CONFIG_FILE] [--option value ...]",
        description="A Redis-protocol server for gunicorn stash tables (hashes). "
                    "CONFIG_FILE, when given, comes first: a configuration file in "
                    "redis.conf syntax (one 'name value' directive a line, '#' comments, "
                    "'include PATH'; '-' reads standard input) with the options below as "
                    "directives. Options on the command line override it.",
        epilog="Options are redis-server's, with its parsing rules and errors; a value may "
               "start with '-'. Put the password in the configuration file rather than on "
               "the command line, where other local users can see it until the arbiter "
               "hides it from the process list.")
    for setting in SETTINGS.values():
        if setting.on_command_line:
            parser.add_argument(f"--{setting.name}", dest=setting.name,
                                metavar=_metavar(setting), help=_help(setting))
    parser.add_argument("--parent-pid", type=int, default=0, metavar="PID",
                        help="exit (removing the socket) as soon as this process is no "
                             "longer the parent")
    parser.add_argument("--version", action="version", version=f"resp-arbiter {__version__}")
    return parser


def _metavar(setting: Setting) -> str:
    if setting.choices:
        return "{" + ",".join(setting.choices) + "}"
    if is_memory(setting):
        return "BYTES"
    return _METAVARS.get(setting.name, "N" if isinstance(setting.default, int) else "VALUE")


def _help(setting: Setting) -> str:
    """The setting's help with its default as a configuration file would spell it."""
    default = format_value(setting, setting.default)
    if setting.default == "":
        default = _EMPTY_DEFAULTS.get(setting.name, "none")
    extra = "; units b, k, kb, m, mb, g, gb" if is_memory(setting) else ""
    # argparse formats help with %: a literal percent sign must be doubled.
    return f"{setting.help} (default: {default}{extra})".replace("%", "%%")


def _attach_values(argv: list[str]) -> list[str]:
    """`--name value` as `--name=value` for every setting, so that a value may start with
    '-' (argparse would take it for an option; redis-server takes it as the value)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and arg[2:] in SETTINGS and i + 1 < len(argv):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
        else:
            out.append(arg)
            i += 1
    return out


class OptionError(Exception):
    """A command-line option the arbiter cannot start with; the text is one line."""


def load_config(argv: list[str] | None = None) -> Config:
    """The configuration file (if any), then the command-line options over it. Raises
    ConfigFileError or OptionError; exits (code 1) on a malformed command line."""
    argv = sys.argv[1:] if argv is None else argv
    # As redis-server: a configuration file is the first argument, if that is no option.
    config_file = argv[0] if argv and (argv[0] == "-" or argv[0][:1] != "-") else None
    if config_file is not None:
        argv = argv[1:]
    args = build_parser().parse_args(_attach_values(argv))
    config = Config(parent_pid=args.parent_pid)
    if config_file is not None:
        load(config, config_file)
    for name in SETTINGS:
        value = getattr(args, name, None)
        if value is not None:
            try:
                config.set(name, value)
            except ConfigError as exc:
                shown = HIDDEN if name in SENSITIVE else shorten(value)
                raise OptionError(f"resp-arbiter: --{name} {shown}: {exc}") from None
    return config


def setup_logging(config: Config) -> None:
    path = config["logfile"]
    handler = logging.FileHandler(path) if path else logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(
        f"{os.getpid()}:M %(asctime)s.%(msecs)03d %(levelname)s %(message)s",
        "%d %b %Y %H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(LOG_LEVELS[config["loglevel"]])
    log.propagate = False


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when it is installed, the standard loop otherwise. (uvloop is imported with
    this module: an arbiter that reads its configuration from standard input, as one
    gunicorn starts early does, has imported it by the time the configuration comes.)"""
    if uvloop is None:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _run(server: Server) -> None:
    await server.start()
    config = server.config
    where = []
    if config["unixsocket"]:
        where.append(f"redis-cli -s {config['unixsocket']}")
    if config["port"]:
        where.append(f"redis-cli -h {str(config['bind']).split()[0]} -p {config['port']}")
    log.log(NOTICE, "resp-arbiter %s ready (pid %d); connect with: %s",
            __version__, os.getpid(), " or ".join(where))
    await server.serve()


def main(argv: list[str] | None = None) -> int:
    """Run the arbiter until SIGTERM/SIGINT; the exit code (EXIT_OK or EXIT_FAILURE).
    `argv` (without the program name) is for tests; by default the process's own."""
    try:
        config = load_config(argv)
    except (ConfigFileError, OptionError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILURE
    try:
        setup_logging(config)
    except OSError as exc:
        print(f"resp-arbiter: Can't open the log file {config['logfile']}: {exc.strerror}",
              file=sys.stderr)
        return EXIT_FAILURE
    die_with_parent(config.parent_pid)
    loop = new_event_loop()
    try:
        loop.run_until_complete(_run(Server(config)))
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        return EXIT_FAILURE
    finally:
        loop.close()
    return EXIT_OK
