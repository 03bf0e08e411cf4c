"""The README's example: the command starts it, and its page shows what it promises."""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable

from gunicorn_procs import REPOSITORY, Gunicorn, redis_cli


def fetch(master: Gunicorn, method: str, path: str, cookie: str = "",
          body: str = "") -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", master.port, timeout=20)
    try:
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def test_example_app(gunicorn: Callable[..., Gunicorn]) -> None:
    master = gunicorn(str(REPOSITORY / "examples" / "gunicorn.conf.py"), app="examples.app:app",
                      args=["--chdir", str(REPOSITORY), "-b", "127.0.0.1:0"])
    master.wait_ready()
    [(_, sock)] = master.announced()
    status, headers, _ = fetch(master, "POST", "/login", body="name=Ada")
    assert status == 303
    cookie = headers["Set-Cookie"].split(";")[0]
    fetch(master, "POST", "/flags/new_checkout", cookie)

    served_by, totals = set(), []
    for _ in range(12):
        status, _, page = fetch(master, "GET", "/", cookie)
        assert status == 200
        served_by.add(int(re.search(r"Served by worker pid (\d+)", page).group(1)))
        totals.append(int(re.search(r"(\d+) visits in total", page).group(1)))
        assert "Signed in as <b>Ada</b>" in page
        assert "new_checkout: <b>on</b>" in page
        assert f"redis-cli -s {sock} hgetall counters" in page
    assert totals == list(range(1, 13))
    assert served_by <= set(master.workers())
    assert redis_cli(sock, "HGET", "counters", "visits").strip() == "12"
    assert redis_cli(sock, "HGET", "flags", "new_checkout").strip() == "true"
    assert "Ada" in redis_cli(sock, "HGETALL", "sessions")
