"""`gunicorn_ext.redis_url(db=N)`: the stash server's URL for another database, read as
redis-py reads it (every framework recipe passes it to redis-py), and used for real."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from gunicorn_procs import start_redis
from redis.connection import SSLConnection, UnixDomainSocketConnection, parse_url

from gunicorn_ext import URL_ENV, redis_url


def test_reads_gunicorn_stash_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, "unix:///run/stash/stash.sock")
    assert redis_url(db=1) == "unix:///run/stash/stash.sock?db=1"
    assert redis_url() == "unix:///run/stash/stash.sock?db=0"


def test_without_gunicorn_stash_url_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    with pytest.raises(LookupError, match="GUNICORN_STASH_URL is not set"):
        redis_url(db=1)


@pytest.mark.parametrize(("url", "db", "expected"), [
    ("unix://:p%40ss%2Fw@/tmp/d/stash.sock", 1,
     {"path": "/tmp/d/stash.sock", "password": "p@ss/w", "db": 1}),
    ("unix://user:pw@/tmp/d/stash.sock?db=0&socket_timeout=3", 5,
     {"path": "/tmp/d/stash.sock", "username": "user", "password": "pw", "db": 5,
      "socket_timeout": 3.0}),
    ("redis://:pw@10.0.0.5:6380/0", 2, {"host": "10.0.0.5", "port": 6380, "password": "pw",
                                        "db": 2}),
    ("redis://cache.internal?db=4", 3, {"host": "cache.internal", "db": 3}),
    ("rediss://u:pw@h:6390/0?ssl_cert_reqs=none", 15,
     {"host": "h", "port": 6390, "username": "u", "password": "pw", "db": 15,
      "ssl_cert_reqs": "none"}),
])
def test_keeps_everything_but_the_database(url: str, db: int,
                                           expected: dict[str, object]) -> None:
    options = parse_url(redis_url(db, url=url))
    kinds = {"unix": UnixDomainSocketConnection, "redis": None, "rediss": SSLConnection}
    assert options.pop("connection_class", None) is kinds[url.split(":")[0]]
    assert options == expected


def test_cluster_has_database_zero_only() -> None:
    assert redis_url(0, url="redis+cluster://h:7000") == "redis+cluster://h:7000"
    with pytest.raises(ValueError, match="database 0 only"):
        redis_url(1, url="redis+cluster://h:7000")


@pytest.mark.parametrize("db", [-1, True, 1.0, "1"])
def test_refuses_what_is_not_a_database_number(db: object) -> None:
    with pytest.raises(ValueError, match="database number"):
        redis_url(db, url="redis://h")  # type: ignore[arg-type]


def test_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="unsupported URL scheme 'http'") as refused:
        redis_url(1, url="http://:secret@h/")
    assert "secret" not in str(refused.value)


def test_a_client_of_the_url_works_in_that_database(short_dir: Path) -> None:
    with start_redis(short_dir, "--requirepass", "s3cr/t") as server:
        base = f"unix://:s3cr%2Ft@{server.socket_path}"
        with redis.Redis.from_url(redis_url(3, url=base)) as db3:
            db3.set("where", "three")
        with redis.Redis.from_url(redis_url(0, url=base)) as db0:
            assert db0.get("where") is None
            assert db0.execute_command("SELECT", 3)
            assert db0.get("where") == b"three"
