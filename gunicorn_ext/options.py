"""The options of `enable_stash`, each declared once.

An option that becomes an arbiter setting names it (`setting="timeout"`): its help text,
its check (the arbiter's own, with redis-server's error texts, so a bad value is refused
when gunicorn reads the config file rather than when the arbiter starts) and its
command-line flag (`--timeout VALUE`) all come from `resp_arbiter.config.SETTINGS`.
`StashOptions`, its docstring, the flags and the table in docs/gunicorn_ext.md (printed
by `python -m gunicorn_ext.options`) are all made from `OPTIONS`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from resp_arbiter.config import SETTINGS, ConfigError


@dataclass(frozen=True)
class Option:
    """One option: its default, what it means, and what makes a value acceptable."""

    name: str
    default: Any
    help: str = ""
    setting: str | None = None
    check: Callable[[Any], Any] | None = None

    @property
    def description(self) -> str:
        if self.help or self.setting is None:
            return self.help
        return SETTINGS[self.setting].help

    @property
    def shown_default(self) -> str:
        if self.check is _mode:
            return oct(self.default)
        return repr(self.default)

    @property
    def flag(self) -> str | None:
        return f"--{self.setting}" if self.setting else None

    def accept(self, value: Any) -> Any:
        """The value to keep; TypeError or ValueError (naming the option) if refused."""
        if value is None or value == self.default:
            return value
        try:
            if self.check is not None:
                return self.check(value)
            if self.setting is not None:
                SETTINGS[self.setting].convert(str(value))
        except (ConfigError, ValueError) as error:
            raise ValueError(f"enable_stash({self.name}={value!r}): {error}") from None
        except TypeError as error:
            raise TypeError(f"enable_stash({self.name}={value!r}): {error}") from None
        return value


def _text(value: Any) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"a str is needed, not {type(value).__name__}")
    return value


def _directory(value: Any) -> str:
    # Absolute now: gunicorn's `chdir` setting may move the master before the arbiter starts.
    path = _text(value)
    if not path:
        raise ValueError("a directory is needed")
    return os.path.abspath(path)


def _mode(value: Any) -> int:
    mode = SETTINGS["unixsocketperm"].convert(value) if isinstance(value, str) else value
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise TypeError(f"an int (0o700) or an octal str ('700') is needed, not "
                        f"{type(value).__name__}")
    if not 0 <= mode <= 0o777:
        raise ValueError("permissions are between 0o000 and 0o777")
    return mode


def table_name(value: Any) -> str:
    """A table name as the stash accepts it: a non-empty str."""
    if not isinstance(value, str):
        raise TypeError(f"a table name is a str, not {type(value).__name__}")
    if not value:
        raise ValueError("a table name cannot be empty")
    return value


def _tables(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError("a list of table names is needed")
    return tuple(table_name(name) for name in value)


def _arguments(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError("a list of command-line arguments is needed")
    return tuple(str(argument) for argument in value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"True or False is needed, not {type(value).__name__}")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"a number of seconds is needed, not {type(value).__name__}")
    if not value > 0:
        raise ValueError("a positive number of seconds is needed")
    return float(value)


OPTIONS: tuple[Option, ...] = (
    Option("socket_path", None, "where the arbiter listens (default: `stash.sock` in a "
           "private directory the master makes, and removes at exit)", check=_text),
    Option("socket_perm", 0o700, "permissions of the socket once the arbiter is ready "
           "(default: the workers' user only)", check=_mode),
    Option("password", None, "clients must AUTH with it; given to the arbiter on its "
           "standard input, never on its command line (workers find it in "
           "GUNICORN_STASH_URL)",
           check=_text),
    Option("maxclients", None, setting="maxclients"),
    Option("idle_timeout", None, setting="timeout"),
    Option("proto_max_bulk_len", None, setting="proto-max-bulk-len"),
    Option("client_query_buffer_limit", None, setting="client-query-buffer-limit"),
    Option("loglevel", "warning", setting="loglevel"),
    Option("logfile", None, "the arbiter's log file (default: gunicorn's standard output)",
           setting="logfile"),
    Option("persist_dir", None, "keep the tables in append-only files in this directory "
           "(created owner-only if missing), reloaded by every start of the arbiter; the "
           "arbiter's `--appendonly yes --dir`", check=_directory),
    Option("appendfsync", "everysec", setting="appendfsync"),
    Option("tables", (), "tables created at start and after every restart",
           check=_tables),
    Option("url", None, "use this server (a redis-py URL, or `redis+cluster://` for a "
           "Redis Cluster) and start no arbiter; GUNICORN_STASH_URL, when set, wins",
           check=_text),
    Option("ready_timeout", 10.0, "seconds the master waits for the arbiter to accept "
           "connections (then it waits for the answer while the arbiter reloads "
           "`persist_dir`, unless the arbiter uses no CPU time for this long)",
           check=_seconds),
    Option("extra_args", (), "more arbiter command-line options, passed as given",
           check=_arguments),
    Option("client_cache", False, "workers answer repeated `get`, `get_many`, `get_item` "
           "and `exists(table, key)` of unchanged fields from their own memory, kept "
           "fresh by the server's CLIENT TRACKING (a worker's `stash.configure(client_"
           "cache=...)` overrides it); see \"Client cache\" below", check=_flag),
)
BY_NAME = {option.name: option for option in OPTIONS}


def _post_init(self: Any) -> None:
    for option in OPTIONS:
        object.__setattr__(self, option.name, option.accept(getattr(self, option.name)))


StashOptions = dataclasses.make_dataclass(
    "StashOptions",
    [(o.name, Any, dataclasses.field(default=o.default)) for o in OPTIONS],
    frozen=True,
    namespace={"__post_init__": _post_init},
)
StashOptions.__module__ = __name__
StashOptions.__doc__ = "What `enable_stash(...)` accepts (all optional):\n\n" + "\n".join(
    f"    {o.name} (default {o.shown_default}): {o.description}." for o in OPTIONS)


def stash_options(options: dict[str, Any]) -> Any:
    """`StashOptions(**options)`, where an unknown name suggests the nearest known one."""
    for name in options:
        if name not in BY_NAME:
            import difflib  # (only for a mistake: gunicorn's start does not wait for it)

            close = difflib.get_close_matches(name, BY_NAME, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else (
                f"; the options are {', '.join(BY_NAME)}")
            raise TypeError(f"enable_stash() got an unknown option {name!r}{hint}")
    return StashOptions(**options)


def arbiter_flags(options: Any) -> list[str]:
    """The arbiter command-line options that `options` asks for."""
    flags: list[str] = []
    for option in OPTIONS:
        value = getattr(options, option.name)
        if option.name == "appendfsync" and options.persist_dir is None:
            continue
        if option.flag and value is not None:
            flags += [option.flag, str(value)]
    if options.persist_dir is not None:
        flags += ["--appendonly", "yes", "--dir", options.persist_dir]
    return flags


def markdown_table() -> str:
    """The options table of docs/gunicorn_ext.md."""
    rows = ["| option | default | meaning |", "| --- | --- | --- |"]
    for o in OPTIONS:
        default = "" if o.default in (None, ()) else f"`{o.shown_default}`"
        flag = f"; the arbiter's `{o.flag}`" if o.flag else ""
        rows.append(f"| `{o.name}` | {default} | {o.description}{flag} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
