"""A Flask app on the stash server gunicorn runs: Flask-Caching (`CACHE_TYPE =
"RedisCache"`) in database 1 and Flask-Session (redis) in database 2, through
`gunicorn_ext.redis_url(db=N)`; the stash stays in database 0. Served as
`recipe_flask:app` (WSGI).
"""

from __future__ import annotations

import redis
from flask import Flask, jsonify, request, session
from flask_caching import Cache
from flask_session import Session
from recipe_common import CACHE_OPS, STASH_OPS, answer, call

import gunicorn_ext
from gunicorn_ext import stash

app = Flask(__name__)
app.config.update(
    CACHE_TYPE="RedisCache",
    CACHE_REDIS_URL=gunicorn_ext.redis_url(db=1),
    SESSION_TYPE="redis",
    SESSION_REDIS=redis.Redis.from_url(gunicorn_ext.redis_url(db=2)),
)
cache = Cache(app)
Session(app)


@app.get("/cache")
def cache_call() -> object:
    return jsonify(call(cache, request.args, CACHE_OPS))


@app.get("/backend")
def backend_call() -> object:
    """cachelib's RedisCache itself: `inc` and `dec` are there, not on Flask-Caching's proxy."""
    return jsonify(call(cache.cache, request.args, CACHE_OPS))


@app.get("/stash")
def stash_call() -> object:
    return jsonify(call(stash, request.args, STASH_OPS))


@app.get("/session/set")
def session_set() -> object:
    session[request.args["name"]] = request.args["value"]
    return jsonify(answer(None))


@app.get("/session/get")
def session_get() -> object:
    return jsonify(answer(session.get(request.args["name"])))
