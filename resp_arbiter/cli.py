"""`resp-arbiter` / `python -m resp_arbiter`: options named as redis-server names them."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import sys

from . import __version__, commands  # noqa: F401  (registers the commands)
from .config import SETTINGS, Config, ConfigError
from .server import LOG_LEVELS, NOTICE, Server, StartupError

log = logging.getLogger("resp_arbiter")
PR_SET_PDEATHSIG = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resp-arbiter",
        description="A Redis-protocol server for gunicorn stash tables (hashes).")
    for setting in SETTINGS.values():
        if not setting.on_command_line:
            continue
        parser.add_argument(f"--{setting.name}", dest=setting.name, metavar="VALUE",
                            help=f"{setting.help} (default: {setting.render(setting.default)})")
    parser.add_argument("--parent-pid", type=int, default=0, metavar="PID",
                        help="exit (removing the socket) as soon as this process is no "
                             "longer the parent")
    parser.add_argument("--version", action="version", version=f"resp-arbiter {__version__}")
    return parser


def load_config(argv: list[str] | None = None) -> Config:
    args = build_parser().parse_args(argv)
    config = Config(parent_pid=args.parent_pid)
    for name in SETTINGS:
        value = getattr(args, name, None)
        if value is not None:
            try:
                config.set(name, value)
            except ConfigError as exc:
                raise SystemExit(f"resp-arbiter: --{name} {value}: {exc}") from None
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


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to send SIGTERM when the parent exits; the cron's getppid() check covers
    the other platforms and the race before this call."""
    if not parent_pid or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when it is installed, the standard loop otherwise."""
    try:
        import uvloop
    except ImportError:
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
    """Run the arbiter until SIGTERM/SIGINT. Exit codes: 0 on a clean stop, 1 when it
    cannot start (never 3 or 4, which gunicorn up to 26.0 reads as a failed boot)."""
    config = load_config(argv)
    setup_logging(config)
    _die_with_parent(config.parent_pid)
    loop = new_event_loop()
    try:
        loop.run_until_complete(_run(Server(config)))
    except StartupError as exc:
        log.warning("cannot start: %s", exc)
        return 1
    finally:
        loop.close()
    return 0
