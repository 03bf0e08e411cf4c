"""The documented framework recipes, run by each library's own code inside real gunicorn
workers: Django's RedisCache, django-redis, Django sessions on the cache, Flask-Caching,
Flask-Session and aiocache, each in a database of its own next to the stash (db 0).

Every test runs on the arbiter gunicorn starts (`enable_stash`), on a redis-server named
by `GUNICORN_STASH_URL=redis://127.0.0.1:PORT/0`, and on a redis-server named by a
`unix://:PASSWORD@/path.sock?db=0` URL. The applications find their URL with
`gunicorn_ext.redis_url(db=N)` in every case (`unix://...?db=N` on the arbiter and the
socket, `redis://.../N` by TCP).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import redis
from gunicorn_procs import Gunicorn, config_text, free_port, start_redis, wait_until
from packaging.version import Version
from servers import ServerProcess

from gunicorn_ext import URL_ENV, redis_url

#: The arbiter gunicorn starts; redis-server by TCP; redis-server by a Unix socket with a
#: password (so each library reads a `unix://:password@/path?db=N` URL, as on the arbiter).
SERVERS = ["arbiter", "redis-server", "redis-unix-auth"]
PASSWORD = "pa/ss@word"
EXPIRY_WAIT = 15.0


@dataclass(frozen=True)
class Kind:
    """One framework recipe: its app, its worker class, its cache and its sessions."""

    app: str
    worker_class: str = "sync"
    cache: str = ""            # RECIPE_CACHE for the Django app
    session_cookie: str = ""   # empty: the recipe has no sessions
    session_db: int = 0


KINDS = {
    "django": Kind("recipe_django:application", cache="django", session_cookie="sessionid",
                   session_db=1),
    "django-redis": Kind("recipe_django:application", cache="django-redis",
                         session_cookie="sessionid", session_db=1),
    "flask": Kind("recipe_flask:app", session_cookie="session", session_db=2),
    "aiocache": Kind("recipe_aiocache:app", worker_class="uvicorn.workers.UvicornWorker"),
}


class CacheFailed(Exception):
    """The framework's cache call raised in the worker (its type and message)."""


@dataclass
class Recipe:
    """A running gunicorn serving one recipe, and direct clients of its server's dbs."""

    kind: str
    master: Gunicorn
    base_url: str

    def admin(self, db: int) -> redis.Redis:
        return redis.Redis.from_url(redis_url(db, url=self.base_url))

    def remote(self, path: str, op: str, *args: Any, **kwargs: Any) -> Any:
        """Call `op` on the app's cache (`/cache`) or stash (`/stash`) in a worker."""
        body = self.master.get(path, op=op, args=json.dumps(args), kwargs=json.dumps(kwargs))
        if "error" in body:
            raise CacheFailed(f"{body['error']}: {body['message']}")
        return body["result"]

    def stash(self, op: str, *args: Any) -> Any:
        return self.remote("/stash", op, *args)


class CacheApi:
    """The Django cache API (Django's RedisCache and django-redis), called in a worker."""

    has_touch = True
    incr_creates = False   # Django's incr of a missing key raises ValueError
    incr_after_set = True  # incr works on an int stored by set

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe

    def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        return self.recipe.remote("/cache", op, *args, **kwargs)

    def set(self, key: str, value: Any, timeout: int | None = None) -> None:
        self.call("set", key, value, timeout)

    def get(self, key: str) -> Any:
        return self.call("get", key)

    def add(self, key: str, value: Any, timeout: int | None = None) -> bool:
        return self.call("add", key, value, timeout)

    def delete(self, key: str) -> None:
        self.call("delete", key)

    def incr(self, key: str, delta: int = 1) -> int:
        return self.call("incr", key, delta)

    def decr(self, key: str, delta: int = 1) -> int:
        return self.call("decr", key, delta)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return self.call("get_many", keys)

    def set_many(self, mapping: dict[str, Any], timeout: int | None = None) -> None:
        self.call("set_many", mapping, timeout)

    def delete_many(self, keys: list[str]) -> None:
        self.call("delete_many", keys)

    def touch(self, key: str, timeout: int | None) -> bool:
        return self.call("touch", key, timeout)

    def has(self, key: str) -> bool:
        return self.call("has_key", key)

    def clear(self) -> None:
        self.call("clear")


class FlaskCachingApi(CacheApi):
    """Flask-Caching: `has`, variadic *_many, no touch; `inc`/`dec` on its backend
    (`cache.cache`, cachelib's RedisCache)."""

    has_touch = False
    incr_creates = True
    incr_after_set = Version(version("cachelib")) >= Version("0.16")

    def set(self, key: str, value: Any, timeout: int | None = None) -> None:
        self.call("set", key, value, timeout=timeout)

    def add(self, key: str, value: Any, timeout: int | None = None) -> bool:
        return self.call("add", key, value, timeout=timeout)

    def incr(self, key: str, delta: int = 1) -> int:
        return self.recipe.remote("/backend", "inc", key, delta)

    def decr(self, key: str, delta: int = 1) -> int:
        return self.recipe.remote("/backend", "dec", key, delta)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return dict(zip(keys, self.call("get_many", *keys), strict=True))

    def set_many(self, mapping: dict[str, Any], timeout: int | None = None) -> None:
        self.call("set_many", mapping, timeout=timeout)

    def delete_many(self, keys: list[str]) -> None:
        self.call("delete_many", *keys)

    def has(self, key: str) -> bool:
        return self.call("has", key)


class AiocacheApi(CacheApi):
    """aiocache's RedisCache: `ttl=`, `increment`, `multi_get`/`multi_set`, `expire`,
    `exists`; `add` raises ValueError for an existing key."""

    incr_creates = True

    def set(self, key: str, value: Any, timeout: int | None = None) -> None:
        self.call("set", key, value, ttl=timeout)

    def add(self, key: str, value: Any, timeout: int | None = None) -> bool:
        try:
            self.call("add", key, value, ttl=timeout)
        except CacheFailed as error:
            if str(error).startswith("ValueError"):
                return False
            raise
        return True

    def incr(self, key: str, delta: int = 1) -> int:
        return self.call("increment", key, delta)

    def decr(self, key: str, delta: int = 1) -> int:
        return self.call("increment", key, -delta)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return dict(zip(keys, self.call("multi_get", keys), strict=True))

    def set_many(self, mapping: dict[str, Any], timeout: int | None = None) -> None:
        self.call("multi_set", list(mapping.items()), ttl=timeout)

    def delete_many(self, keys: list[str]) -> None:
        for key in keys:
            self.call("delete", key)

    def touch(self, key: str, timeout: int | None) -> bool:
        return self.call("expire", key, timeout or 0)

    def has(self, key: str) -> bool:
        return self.call("exists", key)


APIS: dict[str, type[CacheApi]] = {"django": CacheApi, "django-redis": CacheApi,
                                   "flask": FlaskCachingApi, "aiocache": AiocacheApi}


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def external_redis(module_dir: Path) -> Iterator[dict[str, str]]:
    """redis-server on a loopback port, and one on a Unix socket with a password; the
    GUNICORN_STASH_URL of each."""
    port = free_port()
    by_tcp: ServerProcess = start_redis(module_dir, "--port", str(port), "--bind",
                                        "127.0.0.1", name="recipes-redis")
    try:
        with start_redis(module_dir, "--requirepass", PASSWORD, name="recipes-auth") as auth:
            yield {"redis-server": f"redis://127.0.0.1:{port}/0",
                   "redis-unix-auth": f"unix://:{quote(PASSWORD, safe='')}@"
                                      f"{auth.socket_path}?db=0"}
    finally:
        by_tcp.stop()


@pytest.fixture(scope="module")
def recipes(module_dir: Path, external_redis: dict[str, str]) -> Iterator[
        Callable[[str, str], Recipe]]:
    """`recipes(kind, server)`: that recipe's gunicorn (two workers), started on first use
    and stopped at the end of the module."""
    started: dict[tuple[str, str], Recipe] = {}

    def get(kind: str, server: str) -> Recipe:
        if (kind, server) not in started:
            spec = KINDS[kind]
            directory = module_dir / f"{kind}-{server}"
            directory.mkdir()
            config = config_text(spec.worker_class, workers=2,
                                 before=f"raw_env = ['RECIPE_CACHE={spec.cache}']")
            url = external_redis.get(server, "")
            env = None if server == "arbiter" else {**os.environ, URL_ENV: url}
            master = Gunicorn(directory, config, app=spec.app, env=env)
            recipe = Recipe(kind, master, url)
            started[(kind, server)] = recipe
            master.wait_ready()
            if server == "arbiter":
                [(_, socket_path)] = master.announced()
                recipe.base_url = f"unix://{socket_path}"
        recipe = started[(kind, server)]
        for db in (0, 1, 2):
            with recipe.admin(db) as admin:
                admin.flushdb()
        return recipe

    yield get
    for recipe in started.values():
        recipe.master.stop()


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=list(KINDS))
def recipe(request: pytest.FixtureRequest, recipes: Callable[[str, str], Recipe],
           server: str) -> Recipe:
    return recipes(request.param, server)


@pytest.fixture
def cache(recipe: Recipe) -> CacheApi:
    return APIS[recipe.kind](recipe)


def scripting(recipe: Recipe) -> bool:
    """Whether the recipe's server runs Lua scripts (redis-server does, the arbiter not)."""
    admin = recipe.admin(0)
    try:
        admin.execute_command("EVAL", "return 1", 0)
    except redis.ResponseError as error:
        return "unknown command" not in str(error)
    finally:
        admin.close()
    return True


# --- the cache API ---------------------------------------------------------------------------


def test_set_get_add_delete(cache: CacheApi) -> None:
    assert cache.get("missing") is None
    cache.set("user", {"name": "Ada", "langs": ["en", "fr"]})
    assert cache.get("user") == {"name": "Ada", "langs": ["en", "fr"]}
    assert cache.add("user", "other") is False
    assert cache.get("user") == {"name": "Ada", "langs": ["en", "fr"]}
    assert cache.add("fresh", 7) is True
    assert cache.get("fresh") == 7
    cache.delete("user")
    assert cache.get("user") is None
    assert cache.add("user", "again") is True
    assert cache.get("user") == "again"


def test_timeouts_expire_and_keys_without_timeout_stay(cache: CacheApi) -> None:
    cache.set("long", "stays", 600)
    cache.set("forever", "stays")
    cache.set("short", "goes", 1)
    cache.add("short-add", "goes", 1)
    wait_until(lambda: cache.get("short") is None and cache.get("short-add") is None,
               EXPIRY_WAIT, "keys set with a 1 s timeout to expire")
    assert not cache.has("short")
    assert cache.get("long") == "stays"
    assert cache.get("forever") == "stays"
    assert cache.add("short", "back") is True


def test_incr_and_decr(cache: CacheApi) -> None:
    if not cache.incr_after_set:
        # cachelib before 0.16 (Python 3.10 stops at 0.14) pickles every value, ints too.
        cache.set("pickled", 10)
        with pytest.raises(CacheFailed, match="not an integer"):
            cache.incr("pickled")
        assert cache.incr("hits", 10) == 10   # a counter made by incr itself
    else:
        cache.set("hits", 10)
    assert cache.incr("hits") == 11
    assert cache.incr("hits", 5) == 16
    assert cache.decr("hits", 3) == 13
    assert cache.decr("hits") == 12
    assert cache.get("hits") == 12
    if cache.incr_creates:
        assert cache.incr("new-counter", 2) == 2
    else:
        # django-redis increments with EVAL; without scripting (the arbiter) it takes its
        # GET-then-SET fallback, which adds to the None of a missing key: a TypeError
        # where Django (and django-redis on Redis) raise ValueError.
        fallback = cache.recipe.kind == "django-redis" and not scripting(cache.recipe)
        with pytest.raises(CacheFailed, match="TypeError" if fallback else "ValueError"):
            cache.incr("new-counter")
        assert cache.get("new-counter") is None


def test_get_many_set_many_delete_many(cache: CacheApi) -> None:
    cache.set_many({"a": 1, "b": [2], "c": {"three": 3}})
    assert cache.get_many(["a", "b", "c"]) == {"a": 1, "b": [2], "c": {"three": 3}}
    got = cache.get_many(["a", "nope"])
    assert got.get("a") == 1
    assert got.get("nope") is None
    cache.delete_many(["a", "b"])
    assert cache.get("a") is None
    assert cache.get("b") is None
    assert cache.get("c") == {"three": 3}
    cache.set_many({"t1": "x", "t2": "y"}, 1)
    wait_until(lambda: cache.get("t1") is None and cache.get("t2") is None, EXPIRY_WAIT,
               "set_many's keys with a 1 s timeout to expire")
    assert cache.get("c") == {"three": 3}


def test_has_key(cache: CacheApi) -> None:
    assert cache.has("k") is False
    cache.set("k", 0)
    assert cache.has("k") is True
    cache.delete("k")
    assert cache.has("k") is False


def test_touch_extends_a_timeout(cache: CacheApi) -> None:
    if not cache.has_touch:
        # Flask-Caching (cachelib) has no touch, as the recipe says: set the value again.
        with pytest.raises(CacheFailed, match="AttributeError"):
            cache.call("touch", "kept", 600)
        return
    cache.set("kept", "v", 1)
    assert cache.touch("kept", 600) is True
    cache.set("clock", "v", 1)  # set after "kept": once it has expired, so had "kept"
    wait_until(lambda: cache.get("clock") is None, EXPIRY_WAIT, "the clock key to expire")
    assert cache.get("kept") == "v"
    assert cache.touch("absent", 600) is False


def test_clear_empties_the_cache_database_only(recipe: Recipe, cache: CacheApi) -> None:
    recipe.stash("put", "recipes", "kept", {"n": 1})
    cache.set("c1", 1)
    cache.set("c2", "two", 600)
    with recipe.admin(0) as db0, recipe.admin(1) as db1:
        assert db0.keys() == [b"recipes"]   # the cache wrote nothing into the stash's db
        assert db1.dbsize() == 2
        cache.clear()
        assert db1.dbsize() == 0
        assert db0.hgetall("recipes") == {b"kept": b'{"n":1}'}
    assert cache.get("c1") is None
    assert recipe.stash("get", "recipes", "kept") == {"n": 1}
    assert recipe.stash("tables") == ["recipes"]


# --- sessions ------------------------------------------------------------------------------


def request(recipe: Recipe, path: str, cookie: str = "", **params: str) -> tuple[
        dict[str, Any], str]:
    """GET with a cookie; the JSON body and the Set-Cookie header (if any)."""
    conn = http.client.HTTPConnection("127.0.0.1", recipe.master.port, timeout=20)
    try:
        conn.request("GET", f"{path}?{urlencode(params)}",
                     headers={"Cookie": cookie, "Connection": "close"})
        response = conn.getresponse()
        body = json.loads(response.read())
        assert response.status == 200, body
        return body, response.getheader("Set-Cookie") or ""
    finally:
        conn.close()


@contextlib.contextmanager
def worker_held(recipe: Recipe) -> Iterator[None]:
    """Keep one sync worker busy with a request that has not finished arriving, so the
    next request goes to the other. Without it, which worker accepts is the kernel's
    choice, and on a loaded machine one worker can win every accept."""
    with socket.create_connection(("127.0.0.1", recipe.master.port), timeout=20) as held:
        held.sendall(b"GET /session/get HTTP/1.1\r\n")
        yield


@pytest.mark.parametrize("kind", [kind for kind, spec in KINDS.items() if spec.session_cookie])
def test_sessions_are_shared_by_workers(recipes: Callable[[str, str], Recipe], server: str,
                                        kind: str) -> None:
    recipe = recipes(kind, server)
    spec = KINDS[kind]
    body, set_cookie = request(recipe, "/session/set", name="user", value="ada")
    assert "error" not in body, body
    writer = body["pid"]
    assert set_cookie.startswith(f"{spec.session_cookie}=")
    cookie = set_cookie.split(";")[0]
    with recipe.admin(spec.session_db) as sessions:
        assert sessions.dbsize() == 1   # the session is in its own database
    readers: set[int] = set()
    for attempt in range(200):
        with contextlib.ExitStack() as stack:
            if attempt % 2:
                stack.enter_context(worker_held(recipe))
            body, _ = request(recipe, "/session/get", cookie, name="user")
        assert body.get("result") == "ada", body
        readers.add(body["pid"])
        if len(readers | {writer}) == 2 and readers - {writer}:
            break
    served = readers | {writer}
    assert len(served) == 2, f"one worker served every request: {served}"
    assert readers - {writer}, "no other worker read the session"
    body, _ = request(recipe, "/session/get", "", name="user")
    assert body.get("result") is None   # without the cookie, no session
