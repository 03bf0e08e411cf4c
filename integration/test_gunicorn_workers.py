"""Real gunicorn masters: workers of every kind share tables, and redis-cli sees them."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import gunicorn
import pytest
from gunicorn_procs import (
    Gunicorn,
    Server,
    children,
    cmdline,
    config_text,
    is_arbiter,
    redis_cli,
    wait_until,
)

GUNICORN_27 = tuple(int(p) for p in gunicorn.__version__.split(".")[:2]) >= (27, 0)

WORKER_KINDS = [
    pytest.param("sync", 1, "gunicorn_apps:app", id="sync"),
    pytest.param("gthread", 2, "gunicorn_apps:app", id="gthread"),
    # uvicorn is a test dependency: missing, this test fails rather than skips.
    pytest.param("uvicorn.workers.UvicornWorker", 1, "gunicorn_apps:asgi_app", id="uvicorn"),
    pytest.param("asgi", 1, "gunicorn_apps:asgi_app", id="gunicorn-asgi",
                 marks=pytest.mark.skipif(not GUNICORN_27,
                                          reason="gunicorn's own asgi worker needs 27+")),
]


def spread(master: Gunicorn, make_call: Callable[[int], tuple[str, dict]], count: int,
           rounds: int = 20) -> list[dict]:
    """Concurrent requests, repeated until at least two workers have answered."""
    answers: list[dict] = []
    for round_number in range(rounds):
        calls = [make_call(round_number * count + i) for i in range(count)]
        answers += master.concurrently(calls)
        if len({a["pid"] for a in answers}) >= 2:
            return answers
    pytest.fail(f"all {len(answers)} requests landed on one worker")


@pytest.mark.parametrize(("worker_class", "threads", "app"), WORKER_KINDS)
def test_workers_see_each_others_writes(gunicorn: Callable[..., Gunicorn], short_dir: Path,
                                        worker_class: str, threads: int, app: str) -> None:
    sock = str(short_dir / "stash.sock")
    master = gunicorn(config_text(worker_class, workers=2, threads=threads,
                                  options=f"socket_path={sock!r}, tables=['boot']"),
                      app=app).wait_ready()

    writes = spread(master, lambda i: ("/put", {"table": "shared", "key": f"k{i}",
                                                "value": json.dumps({"i": i}), "hold": 0.2}),
                    count=6)
    written = {f"k{i}": {"i": i} for i in range(len(writes))}
    reads = spread(master, lambda i: ("/all", {"table": "shared", "hold": 0.2}), count=6)
    for read in reads:
        assert read["items"] == written
    writers, readers = {w["pid"] for w in writes}, {r["pid"] for r in reads}
    assert len(writers) >= 2 and len(readers) >= 2
    assert set(master.workers()) >= writers | readers

    assert master.get("/tables")["tables"] == ["boot", "shared"]
    assert redis_cli(sock, "HLEN", "shared").strip() == str(len(written))
    assert json.loads(redis_cli(sock, "HGET", "shared", "k0")) == {"i": 0}
    counted = [master.get("/incr", table="counters", key="hits")["value"] for _ in range(5)]
    assert counted == [1, 2, 3, 4, 5]
    assert redis_cli(sock, "HGET", "counters", "hits").strip() == "5"
    redis_cli(sock, "HSET", "shared", "from-cli", "hello")
    assert master.get("/get", table="shared", key="from-cli")["value"] == "hello"


def test_zero_config_module(gunicorn: Callable[..., Gunicorn]) -> None:
    # A short graceful timeout, as the config-file tests have: gunicorn up to 23 makes a
    # TERM that races a booting worker wait for the whole graceful timeout.
    master = gunicorn("python:gunicorn_ext.conf",
                      args=["-w", "2", "-b", "127.0.0.1:0", "--graceful-timeout", "5"])
    master.wait_ready()
    [(arbiter, sock)] = master.announced()
    assert master.arbiters() == [arbiter]
    assert f"inspect it with: redis-cli -s {sock}" in master.log()
    assert master.get("/env")["url"] == f"unix://{sock}"
    master.get("/put", table="t", key="k", value="1")
    assert redis_cli(sock, "HGET", "t", "k").strip() == "1"
    assert oct(os.stat(sock).st_mode & 0o777) == "0o700"
    master.signal(15)
    assert master.wait_exit() == 0
    assert not os.path.exists(sock)


def test_existing_hooks_are_chained_not_replaced(gunicorn: Callable[..., Gunicorn],
                                                 short_dir: Path) -> None:
    marks = short_dir / "marks"
    before = f"""
def on_starting(server):
    from gunicorn_ext import stash
    with open({str(marks)!r}, "a") as f:
        f.write("on_starting %s\\n" % stash.exists("boot"))

when_ready = "gunicorn_apps_hooks.when_ready"

def on_exit(server):
    from gunicorn_ext import stash
    stash.put("boot", "bye", 1)
    with open({str(marks)!r}, "a") as f:
        f.write("on_exit %s\\n" % stash.get("boot", "bye"))
"""
    (short_dir / "gunicorn_apps_hooks.py").write_text(
        f"def when_ready(server):\n    open({str(marks)!r}, 'a').write('when_ready\\n')\n")
    sock = str(short_dir / "stash.sock")
    master = gunicorn(config_text(before=before, options=f"socket_path={sock!r}, "
                                  "tables=['boot'], password='pw:1', socket_perm=0o770"),
                      args=["--chdir", str(short_dir)])
    master.wait_ready()
    assert redis_cli(sock, "EXISTS", "boot", password="pw:1").strip() == "1"
    assert "NOAUTH" in redis_cli(sock, "EXISTS", "boot")
    assert "--askpass" in master.log() and "pw:1" not in master.log()
    arbiters = [pid for pid in children(master.pid) if is_arbiter(pid)]
    assert arbiters and all("pw:1" not in cmdline(pid) for pid in arbiters)
    assert oct(os.stat(sock).st_mode & 0o777) == "0o770"
    master.get("/put", table="t", key="k", value="2")
    master.signal(15)
    assert master.wait_exit() == 0
    assert marks.read_text().splitlines() == ["on_starting True", "when_ready", "on_exit 1"]
    assert not os.path.exists(sock)


def test_preset_url_starts_no_arbiter(gunicorn: Callable[..., Gunicorn],
                                      redis_server: Server) -> None:
    redis_cli(redis_server.socket_path, "FLUSHALL")
    env = dict(os.environ, GUNICORN_STASH_URL=redis_server.url)
    master = gunicorn(config_text(options="tables=['boot']"), env=env).wait_ready()
    assert master.get("/env")["url"] == redis_server.url
    assert not [pid for pid in children(master.pid) if is_arbiter(pid)]
    assert "no arbiter started" in master.log()
    master.get("/put", table="scale", key="out", value='"yes"')
    assert redis_cli(redis_server.socket_path, "HGET", "scale", "out").strip() == "yes"
    master.signal(15)
    assert master.wait_exit() == 0
    wait_until(lambda: not children(master.pid), 5, "workers to go")


def test_unreachable_preset_url_is_reported_once_at_start(gunicorn: Callable[..., Gunicorn]
                                                          ) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"redis://:secret@127.0.0.1:{probe.getsockname()[1]}/0"
    env = dict(os.environ, GUNICORN_STASH_URL=url)
    master = gunicorn(config_text(options="tables=['boot']"), env=env).wait_ready()
    lines = [line for line in master.log().splitlines() if "cannot reach" in line]
    assert len(lines) == 1, master.log()
    assert re.search(r"\[ERROR\] Stash: cannot reach the server at redis://:\*\*\*@127\.0\.0\.1:"
                     r"\d+/0 \(GUNICORN_STASH_URL\): Connection refused; every stash call fails "
                     r"until it answers$", lines[0]), lines[0]
    assert "secret" not in master.log()
    master.signal(15)
    assert master.wait_exit() == 0


def test_the_package_imports_no_redis_py_in_the_master() -> None:
    """redis-py imports redis.asyncio, whose ssl reference makes gevent workers warn."""
    code = ("import sys, gunicorn_ext, gunicorn_ext.hooks, gunicorn_ext.conf; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'redis'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    assert out.strip() == "[]"


def test_gevent_master_boots_without_monkey_patch_warning(gunicorn: Callable[..., Gunicorn]
                                                          ) -> None:
    # gevent is a test dependency: missing, this test fails rather than skips.
    master = gunicorn(config_text("gevent", workers=2)).wait_ready()
    assert [master.get("/incr", table="g", key="n")["value"] for _ in range(3)] == [1, 2, 3]
    master.signal(15)
    assert master.wait_exit() == 0
    log = master.log()
    assert "Booting worker" in log
    assert "MonkeyPatchWarning" not in log and "Traceback" not in log
