"""The applications the integration tests run under gunicorn: one WSGI, one ASGI.

Both answer JSON with the serving worker's pid, so a test can tell workers apart:

- `/put?table=T&key=K&value=V[&hold=S]`: `stash.put` (a JSON value), then hold S seconds
- `/get?table=T&key=K`, `/all?table=T[&hold=S]`, `/incr?table=T&key=K`
- `/slow-put?table=T&key=K&value=V&hold=S`: mark K:started, hold, then put and read back
- `/tables`, `/env`, `/cache` (the client cache's counters)
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from gunicorn_ext import astash, stash


def _params(query: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(query).items()}


def _handle(path: str, q: dict[str, str]) -> tuple[dict[str, Any], float, float]:
    """The sync handler: (body, seconds to hold before, seconds to hold after)."""
    hold = float(q.get("hold", 0))
    if path == "/put":
        stash.put(q["table"], q["key"], json.loads(q["value"]))
        return {}, 0.0, hold
    if path == "/slow-put":
        stash.put(q["table"], q["key"] + ":started", True)
        time.sleep(hold)
        stash.put(q["table"], q["key"], json.loads(q["value"]))
        return {"value": stash.get(q["table"], q["key"])}, 0.0, 0.0
    if path == "/get":
        return {"value": stash.get(q["table"], q["key"])}, 0.0, 0.0
    if path == "/all":
        return {"items": dict(stash.table(q["table"]).items())}, hold, 0.0
    if path == "/incr":
        return {"value": stash.incr(q["table"], q["key"])}, 0.0, 0.0
    if path == "/tables":
        return {"tables": stash.tables()}, 0.0, 0.0
    if path == "/env":
        return {"url": os.environ.get("GUNICORN_STASH_URL")}, 0.0, 0.0
    if path == "/cache":
        return {"cache": stash.cache_info()}, 0.0, 0.0
    raise LookupError(path)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """WSGI."""
    try:
        body, before, after = _handle(environ["PATH_INFO"],
                                      _params(environ.get("QUERY_STRING", "")))
        time.sleep(before)
        status = "200 OK"
    except Exception as exc:
        body, after, status = {"error": repr(exc)}, 0.0, "500 Internal Server Error"
    body["pid"] = os.getpid()
    data = json.dumps(body).encode()
    time.sleep(after)
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


async def _ahandle(path: str, q: dict[str, str]) -> dict[str, Any]:
    hold = float(q.get("hold", 0))
    if path == "/put":
        await astash.put(q["table"], q["key"], json.loads(q["value"]))
        await asyncio.sleep(hold)
        return {}
    if path == "/slow-put":
        await astash.put(q["table"], q["key"] + ":started", True)
        await asyncio.sleep(hold)
        await astash.put(q["table"], q["key"], json.loads(q["value"]))
        return {"value": await astash.get(q["table"], q["key"])}
    if path == "/get":
        return {"value": await astash.get(q["table"], q["key"])}
    if path == "/all":
        items = dict(await astash.table(q["table"]).items())
        await asyncio.sleep(hold)
        return {"items": items}
    if path == "/incr":
        return {"value": await astash.incr(q["table"], q["key"])}
    if path == "/tables":
        return {"tables": await astash.tables()}
    if path == "/env":
        return {"url": os.environ.get("GUNICORN_STASH_URL")}
    if path == "/cache":
        return {"cache": astash.cache_info()}
    raise LookupError(path)


async def accept_lifespan(receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """Answer an ASGI server's lifespan messages until shutdown: the apps keep no state
    to set up."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def asgi_app(scope: dict[str, Any], receive: Callable[..., Any],
                   send: Callable[..., Any]) -> None:
    """ASGI (HTTP only; lifespan is accepted and ignored)."""
    if scope["type"] == "lifespan":
        await accept_lifespan(receive, send)
        return
    try:
        body = await _ahandle(scope["path"], _params(scope.get("query_string", b"").decode()))
        status = 200
    except Exception as exc:
        body, status = {"error": repr(exc)}, 500
    body["pid"] = os.getpid()
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
