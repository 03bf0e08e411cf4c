"""A password given on the command line, hidden from the process list.

/proc/<pid>/cmdline, and so `ps`, shows a process's arguments to every local user. The
arbiter rewrites its process title with the value of each sensitive option replaced by
`***` (Redis also replaces its arguments, by its title). This runs before the server's
modules are imported, which takes a few hundred milliseconds; the argument is still
visible while the interpreter starts, so a configuration file is the way to keep a
password out of the process list altogether.
"""

from __future__ import annotations

import sys

from .config import SENSITIVE

HIDDEN = "***"


def hidden_argv(argv: list[str]) -> list[str] | None:
    """`argv` with the value of every sensitive option (`--name value` or `--name=value`)
    replaced by HIDDEN; None when there is nothing to hide."""
    shown = list(argv)
    hidden = False
    for i, arg in enumerate(argv):
        name, equals, _ = arg.partition("=")
        if not name.startswith("--") or name[2:] not in SENSITIVE:
            continue
        if equals:
            shown[i] = f"{name}={HIDDEN}"
            hidden = True
        elif i + 1 < len(argv):
            shown[i + 1] = HIDDEN
            hidden = True
    return shown if hidden else None


def hide_secrets() -> None:
    """Set the process title to the command line without its secrets, if it has any."""
    shown = hidden_argv(sys.orig_argv)
    if shown is not None:
        import setproctitle

        setproctitle.setproctitle(" ".join(shown))
