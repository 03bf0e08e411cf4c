"""A small WSGI app whose workers share sessions, a counter and feature flags.

Run it from the repository root (see the README):

    gunicorn -c examples/gunicorn.conf.py examples.app:app

Reload the page a few times: the worker pid changes, the counters and your session do
not. The page prints the `redis-cli -s ...` line that shows the same tables live.
"""

from __future__ import annotations

import html
import os
import secrets
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gunicorn_ext import stash

FLAGS = ("dark_mode", "new_checkout")


def _redis_cli() -> str:
    """The command that opens the stash this worker uses."""
    url = urlsplit(os.environ.get("GUNICORN_STASH_URL", ""))
    if url.scheme == "unix":
        return f"redis-cli -s {url.path}"
    return f"redis-cli -u {url.scheme}://{url.hostname}:{url.port or 6379}"


def _session_id(environ: dict[str, Any]) -> str | None:
    cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    return cookie["sid"].value if "sid" in cookie else None


def _form(environ: dict[str, Any]) -> dict[str, str]:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size).decode() if size else ""
    return {k: v[0] for k, v in parse_qs(body).items()}


def _page(sid: str | None) -> str:
    pid = os.getpid()
    visits = stash.incr("counters", "visits")
    stash.incr("counters", f"served_by:{pid}")
    session = stash.get("sessions", sid) if sid else None
    seen = stash.incr("session_visits", sid) if session is not None else 0
    flags = stash.get_many("flags", FLAGS, False)
    per_worker = {k.split(":", 1)[1]: v for k, v in stash.table("counters").items()
                  if k.startswith("served_by:")}
    who = (f"Signed in as <b>{html.escape(session['name'])}</b> "
           f"({seen} visits in this session, on any worker). "
           "<form method=post action=/logout><button>Sign out</button></form>"
           if session else
           "<form method=post action=/login>Name: <input name=name> "
           "<button>Sign in</button></form>")
    flag_rows = "".join(
        f"<li>{name}: <b>{'on' if on else 'off'}</b> "
        f"<form method=post action=/flags/{name} style=display:inline>"
        f"<button>toggle</button></form></li>" for name, on in flags.items())
    workers = "".join(f"<li>worker {p}: {n} request{'' if n == 1 else 's'}</li>"
                      for p, n in sorted(per_worker.items()))
    dark = "background:#222;color:#eee;" if flags["dark_mode"] else ""
    cli = _redis_cli()
    return f"""<!doctype html><html><body style="font-family:sans-serif;{dark}">
<h1>Served by worker pid {pid}</h1>
<p>{visits} visits in total, counted atomically by every worker.</p>
<ul>{workers}</ul>
<h2>Session</h2>{who}
<h2>Feature flags</h2><ul>{flag_rows}</ul>
<h2>Inspect the tables live</h2>
<pre>{html.escape(cli)} hgetall counters
{html.escape(cli)} hgetall sessions
{html.escape(cli)} hset flags new_checkout true</pre>
</body></html>"""


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Routes: GET /, POST /login, POST /logout, POST /flags/<name>."""
    path, method = environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"]
    sid = _session_id(environ)
    headers = [("Location", "/")]
    if method == "POST" and path == "/login":
        name = _form(environ).get("name", "").strip() or "anonymous"
        sid = secrets.token_urlsafe(16)
        stash.put("sessions", sid, {"name": name})
        headers.append(("Set-Cookie", f"sid={sid}; HttpOnly; SameSite=Lax; Path=/"))
    elif method == "POST" and path == "/logout":
        if sid:
            stash.delete("sessions", sid)
            stash.delete("session_visits", sid)
        headers.append(("Set-Cookie", "sid=; Max-Age=0; Path=/"))
    elif method == "POST" and path.startswith("/flags/") and path[7:] in FLAGS:
        flag = path[7:]
        stash.put("flags", flag, not stash.get("flags", flag, False))
    elif method == "GET" and path == "/":
        body = _page(sid).encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    start_response("303 See Other", headers)
    return [b""]
