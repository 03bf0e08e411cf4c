"""What the framework recipe apps share: one way to call a cache API from a request.

`/cache?op=NAME&args=JSON&kwargs=JSON` calls `cache.NAME(*args, **kwargs)` with the
framework's own cache object, `/stash?...` the same on `gunicorn_ext.stash`, and the
answer is `{"result": ...}` or `{"error": exception type, "message": text}` plus the
worker's pid, so a test drives each library's code inside real gunicorn workers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

#: The operations a test may call, per kind of target (the framework's cache or the stash).
CACHE_OPS = frozenset({
    "set", "get", "add", "delete", "incr", "decr", "get_many", "set_many", "delete_many",
    "touch", "has_key", "clear", "inc", "dec", "has", "increment", "multi_get", "multi_set",
    "exists", "expire",
})
STASH_OPS = frozenset({"put", "get", "tables", "keys"})


def parse(query: Mapping[str, str], allowed: frozenset[str]) -> tuple[str, list[Any],
                                                                       dict[str, Any]]:
    """The operation, its positional and its keyword arguments, from a request's query."""
    op = query["op"]
    if op not in allowed:
        raise LookupError(f"operation {op!r} is not offered")
    return op, json.loads(query.get("args", "[]")), json.loads(query.get("kwargs", "{}"))


def call(target: Any, query: Mapping[str, str], allowed: frozenset[str]) -> dict[str, Any]:
    """Run one operation on `target`; its result or the exception it raised, as JSON."""
    op, args, kwargs = parse(query, allowed)
    try:
        return answer(getattr(target, op)(*args, **kwargs))
    except Exception as error:
        return failed(error)


def answer(result: Any) -> dict[str, Any]:
    return {"result": result, "pid": os.getpid()}


def failed(error: Exception) -> dict[str, Any]:
    return {"error": type(error).__name__, "message": str(error), "pid": os.getpid()}
