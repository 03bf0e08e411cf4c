"""An asyncio (ASGI) app with aiocache's RedisCache in database 1 of the stash server
gunicorn runs, and `gunicorn_ext.astash` in database 0. Served as
`recipe_aiocache:app` under an ASGI worker.

aiocache 0.12 builds its connection pool from host and port and cannot reach a Unix
socket; its `connection_pool_class` argument builds the pool from the URL instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import redis.asyncio
from aiocache import RedisCache
from gunicorn_apps import accept_lifespan
from recipe_common import CACHE_OPS, STASH_OPS, answer, failed, parse

import gunicorn_ext
from gunicorn_ext import astash


def pool_from_url(url: str) -> Callable[..., redis.asyncio.ConnectionPool]:
    """For aiocache's `connection_pool_class`: a pool for `url` (Unix socket, password and
    database included), keeping only the pool options aiocache adds to its own."""
    def make(host: Any = None, port: Any = None, db: Any = None, password: Any = None,
             **options: Any) -> redis.asyncio.ConnectionPool:
        return redis.asyncio.ConnectionPool.from_url(url, **options)
    return make


_caches: dict[int, RedisCache] = {}


def cache() -> RedisCache:
    """One cache per event loop (its pool's connections belong to that loop)."""
    loop = id(asyncio.get_running_loop())
    if loop not in _caches:
        _caches[loop] = RedisCache(
            connection_pool_class=pool_from_url(gunicorn_ext.redis_url(db=1)))
    return _caches[loop]


async def run(target: Any, query: dict[str, str], allowed: frozenset[str]) -> dict[str, Any]:
    op, args, kwargs = parse(query, allowed)
    try:
        return answer(await getattr(target, op)(*args, **kwargs))
    except Exception as error:
        return failed(error)


async def app(scope: dict[str, Any], receive: Callable[..., Any],
              send: Callable[..., Any]) -> None:
    """ASGI (HTTP; lifespan accepted and ignored)."""
    if scope["type"] == "lifespan":
        await accept_lifespan(receive, send)
        return
    query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
    if scope["path"] == "/cache":
        body = await run(cache(), query, CACHE_OPS)
    elif scope["path"] == "/stash":
        body = await run(astash, query, STASH_OPS)
    else:
        body = failed(LookupError(scope["path"]))
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
