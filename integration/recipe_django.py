"""A Django project in one module, on the stash server gunicorn runs: the cache in
database 1 (`gunicorn_ext.redis_url(db=1)`), sessions on the cache, the stash in 0.

`RECIPE_CACHE` chooses the backend: `django` (Django's own RedisCache, the default) or
`django-redis`. Served as `recipe_django:application` (WSGI).
"""

from __future__ import annotations

import os

import django
from django.conf import settings
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, JsonResponse
from django.urls import path
from recipe_common import CACHE_OPS, STASH_OPS, answer, call

import gunicorn_ext
from gunicorn_ext import stash

BACKENDS = {
    "django": "django.core.cache.backends.redis.RedisCache",
    "django-redis": "django_redis.cache.RedisCache",
}

settings.configure(
    DEBUG=False,
    SECRET_KEY="recipe-tests-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.sessions"],
    MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
    CACHES={"default": {"BACKEND": BACKENDS[os.environ.get("RECIPE_CACHE", "django")],
                        "LOCATION": gunicorn_ext.redis_url(db=1)}},
    SESSION_ENGINE="django.contrib.sessions.backends.cache",
)
django.setup()


def cache_call(request: HttpRequest) -> JsonResponse:
    return JsonResponse(call(cache, request.GET, CACHE_OPS))


def stash_call(request: HttpRequest) -> JsonResponse:
    return JsonResponse(call(stash, request.GET, STASH_OPS))


def session_set(request: HttpRequest) -> JsonResponse:
    request.session[request.GET["name"]] = request.GET["value"]
    return JsonResponse(answer(None))


def session_get(request: HttpRequest) -> JsonResponse:
    return JsonResponse(answer(request.session.get(request.GET["name"])))


urlpatterns = [
    path("cache", cache_call),
    path("stash", stash_call),
    path("session/set", session_set),
    path("session/get", session_get),
]

application = WSGIHandler()
