"""gunicorn config (and apps) that bring up gunicorn's own stash for the benchmark.

gunicorn 25+ keeps its stash tables in the dirty arbiter, which it only starts when
`dirty_workers > 0` and `dirty_apps` is not empty; so this config declares one idle dirty
app and one dirty worker. HTTP goes to a Unix socket in the run directory (nothing
listens on TCP), and `when_ready` reports where the dirty arbiter listens, since the
benchmark client is not a gunicorn worker and cannot inherit `GUNICORN_DIRTY_SOCKET`.
"""

from __future__ import annotations

import json
import os

try:
    from gunicorn.dirty import DirtyApp
except ImportError:  # gunicorn before 25 has no dirty arbiter: the benchmark says so.
    DirtyApp = object

_DIRECTORY = os.environ.get("BENCH_GUNICORN_DIR", ".")

bind = f"unix:{_DIRECTORY}/gunicorn-http.sock"
workers = 1
dirty_workers = 1
dirty_apps = ["bench.gunicorn_stash:IdleDirtyApp"]
control_socket_disable = True
pidfile = None
accesslog = None
loglevel = "warning"


class IdleDirtyApp(DirtyApp):
    """A dirty app that does nothing: it exists so that the dirty arbiter starts."""

    def __call__(self, action, *args, **kwargs):
        return None


def app(environ, start_response):
    """The HTTP side is never called by the benchmark; gunicorn needs an app to run."""
    start_response("204 No Content", [])
    return [b""]


def when_ready(server) -> None:
    """Write the dirty arbiter's socket and PID where the benchmark looks for them."""
    path = os.path.join(_DIRECTORY, "gunicorn-stash.json")
    info = {"socket": os.environ.get("GUNICORN_DIRTY_SOCKET", ""),
            "pid": getattr(server, "dirty_arbiter_pid", 0)}
    with open(path + ".tmp", "w") as handle:
        json.dump(info, handle)
    os.replace(path + ".tmp", path)
