"""gunicorn config (and app) for the start-up benchmark (`bench/gunicorn_startup.py`).

Two sync workers serve a trivial WSGI app over HTTP on a Unix socket in the run's
directory. With `BENCH_STARTUP_STASH=1` the config enables the stash arbiter the way the
README's example does (one `enable_stash` line); otherwise it is plain gunicorn.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

bind = f"unix:{os.environ.get('BENCH_STARTUP_DIR', '.')}/http.sock"
workers = 2
worker_class = "sync"
control_socket_disable = True
pidfile = None
accesslog = None

if os.environ.get("BENCH_STARTUP_STASH") == "1":
    import gunicorn_ext

    gunicorn_ext.enable_stash(globals(), tables=["sessions"])


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A constant page: the benchmark times the start, not the app."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]
