"""gunicorn integration: a stash arbiter inside every gunicorn, and the stash API.

In a gunicorn config file::

    import gunicorn_ext
    gunicorn_ext.enable_stash(globals(), tables=["sessions"])

or with no config file at all: `gunicorn -c python:gunicorn_ext.conf myapp:app`.
Then, in any worker::

    from gunicorn_ext import stash        # asyncio code: from gunicorn_ext import astash
    stash.put("sessions", "user:1", {"name": "Alice"})

Importing the package loads only the gunicorn side (hooks, options, supervisor), which
uses no redis-py: `stash` and `astash` load redis-py when a worker first imports them,
so a gevent master never imports `redis.asyncio` before its workers patch ssl.

For a cache or session store on the same server, in a database of its own (so that its
`clear()` never empties the stash's tables): `gunicorn_ext.redis_url(db=1)`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .hooks import URL_ENV, enable_stash, supervisor_for
from .options import StashOptions
from .supervisor import OWNER_ENV
from .wire import redis_url

__all__ = ["OWNER_ENV", "URL_ENV", "StashOptions", "astash", "enable_stash", "redis_url",
           "stash", "supervisor_for"]


def __getattr__(name: str) -> ModuleType:
    """`gunicorn_ext.stash` and `gunicorn_ext.astash`, imported on first use."""
    if name in ("stash", "astash"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
