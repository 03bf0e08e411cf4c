"""The stash client's own speed: hot reads from the client cache, and concurrent calls
inside one gunicorn worker. Each figure on redis-server and on the arbiter, side by side.

    python -m bench.stash_client            # full run: about a minute
    python -m bench.stash_client --quick    # smoke run (tests): seconds; figures not comparable

1. `stash.get` of an unchanged key, microseconds a call: without the client cache (one
   round trip) and with it (a hit from the process's memory).
2. One gunicorn worker, stash calls per second inside it: a gthread worker with 8
   threads (8 concurrent requests, each making its `stash.get` calls), and a uvicorn
   worker whose one request runs 100 concurrent tasks (each making its share of
   `astash.get` calls). `before` is `max_connections=1`: every call takes its turn on
   one connection, as the stash did before its pool of connections; `after` is the
   default pool (16). Each on the server's socket directly, and through a proxy (in
   this process, Unix sockets only) that holds every chunk 0.5 ms each way: a server
   1 ms away, as across a network, where round trips rather than CPU set the pace.

Every server listens on a Unix socket in a temporary directory (HTTP too), every loop is
bounded by a count, and every process is stopped by its PID however the run ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/stash_client.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import guarded
from bench.servers import (
    REPO_ROOT,
    ServerProcess,
    accepts_connections,
    start_arbiter,
    start_redis,
)

MAX_CONNECTIONS_ENV = "BENCH_STASH_MAX_CONNECTIONS"
THREADS = 8
TASKS = 100


# --- the worker side: apps gunicorn runs ------------------------------------------------


_configured = threading.Lock()


def _configure_worker() -> None:
    """Once per process: configure() replaces the session, which calls still in flight
    in other threads would see."""
    from gunicorn_ext import stash

    if _configured.acquire(blocking=False):
        stash.configure(max_connections=int(os.environ.get(MAX_CONNECTIONS_ENV, "16")))


def _params(query: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in query.split("&") if "=" in part)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """`/work?calls=N`: N `stash.get` calls."""
    from gunicorn_ext import stash

    _configure_worker()
    query = _params(environ.get("QUERY_STRING", ""))
    calls = int(query.get("calls", "0"))
    started = time.perf_counter()
    status = "200 OK"
    try:
        for _ in range(calls):
            stash.get("bench", "key")
        body = json.dumps({"seconds": time.perf_counter() - started}).encode()
    except stash.StashError as error:  # shown by the benchmark, which then fails
        status, body = "500 Internal Server Error", repr(error).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


async def asgi_app(scope: dict[str, Any], receive: Callable[..., Any],
                   send: Callable[..., Any]) -> None:
    """`/work?calls=N&tasks=T`: T concurrent tasks share N `astash.get` calls."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    from gunicorn_ext import astash

    _configure_worker()
    query = _params(scope.get("query_string", b"").decode())
    calls, tasks = int(query.get("calls", "0")), int(query.get("tasks", "1"))

    async def reader(count: int) -> None:
        for _ in range(count):
            await astash.get("bench", "key")

    started = time.perf_counter()
    await asyncio.gather(*(reader(calls // tasks) for _ in range(tasks)))
    seconds = time.perf_counter() - started
    body = json.dumps({"seconds": seconds}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


# --- the benchmark side ----------------------------------------------------------------


def http_get(path: str, target: str, timeout: float = 120.0) -> dict[str, Any]:
    """GET over a Unix socket (HTTP/1.0: the server closes when done)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(f"GET {target} HTTP/1.0\r\nHost: bench\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(f"{target}: {head[:200]!r} {body[:500]!r}")
    return json.loads(body)


class Worker(ServerProcess):
    """A gunicorn master with one worker running this module's app, HTTP on a Unix
    socket, the stash pointed at `url`."""

    def __init__(self, directory: Path, name: str, worker_class: str, url: str,
                 max_connections: int) -> None:
        http = str(directory / f"{name}.http.sock")
        config = directory / f"{name}.conf.py"
        config.write_text("\n".join([
            f"bind = {'unix:' + http!r}", "workers = 1", f"worker_class = {worker_class!r}",
            f"threads = {THREADS}", "timeout = 120", "loglevel = 'warning'",
            "accesslog = None", "control_socket_disable = True", ""]))
        env = dict(os.environ, GUNICORN_STASH_URL=url,
                   **{MAX_CONNECTIONS_ENV: str(max_connections)})
        app = "bench.stash_client:" + ("asgi_app" if "Uvicorn" in worker_class
                                       else "wsgi_app")
        super().__init__([sys.executable, "-m", "gunicorn", "-c", str(config), app], http,
                         directory / f"{name}.log", cwd=REPO_ROOT, env=env)

    def ready(self) -> bool:
        if not accepts_connections(self.socket_path):
            return False
        try:
            http_get(self.socket_path, "/work?calls=1", timeout=5)
        except (OSError, RuntimeError, ValueError):
            return False
        return True


def _seed(url: str) -> None:
    import redis

    with redis.Redis.from_url(url) as client:
        client.hset("bench", "key", json.dumps({"name": "Alice", "role": "admin"}))


def gthread_rate(worker: Worker, calls: int) -> float:
    """stash.get calls a second in the worker: 8 concurrent requests of `calls` each,
    from the first request sent to the last answer."""
    failures: list[BaseException] = []

    def request() -> None:
        try:
            http_get(worker.socket_path, f"/work?calls={calls}")
        except (OSError, RuntimeError, ValueError) as error:
            failures.append(error)

    threads = [threading.Thread(target=request) for _ in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return THREADS * calls / (time.perf_counter() - started)


def asgi_rate(worker: Worker, calls: int) -> float:
    """astash.get calls a second in the worker: one request, 100 concurrent tasks."""
    total = calls * THREADS // TASKS * TASKS
    return total / http_get(worker.socket_path, f"/work?calls={total}&tasks={TASKS}")[
        "seconds"]


class DelayProxy:
    """Forwards a Unix socket to a server's, holding every chunk `delay` seconds each way
    (order kept): a server that far away. Runs its own event loop in a thread."""

    def __init__(self, listen: str, upstream: str, delay: float) -> None:
        self.listen, self.upstream, self.delay = listen, upstream, delay
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    @property
    def url(self) -> str:
        return f"unix://{self.listen}"

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_unix_server(self._serve, self.listen))
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer),
                             return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                await asyncio.sleep(max(0.0, due - self.loop.time()))
                writer.write(data)
        delivering = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((self.loop.time() + self.delay, data))
        except OSError:
            pass
        queue.put_nowait((0.0, b""))
        await delivering
        writer.close()

    def stop(self) -> None:
        def close() -> None:
            self.server.close()
            self.loop.stop()
        self.loop.call_soon_threadsafe(close)
        self.thread.join(10)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.listen)


def cache_timings(url: str, calls: int) -> tuple[float, float | str]:
    """Microseconds a `stash.get` of an unchanged key: a round trip, and a cache hit
    (or why the cache could not run)."""
    from gunicorn_ext import stash

    timings: list[float | str] = []
    for cached in (False, True):
        stash.configure(url=url, client_cache=cached)
        try:
            stash.get("bench", "key")
        except stash.StashError as error:
            timings.append("refused: no CLIENT TRACKING" if "TRACKING" in str(error)
                           else str(error))
            continue
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(calls):
                stash.get("bench", "key")
            best = min(best, (time.perf_counter() - started) / calls * 1e6)
        timings.append(best)
    stash.close()
    stash.configure(url=None, client_cache=None)
    return float(timings[0]), timings[1]


def run(quick: bool) -> None:
    calls = 25 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="rsc-") as name:
        directory = Path(name)
        servers = {"redis-server": start_redis(directory),
                   "arbiter": start_arbiter(directory)}
        started: list[ServerProcess] = list(servers.values())
        proxies: list[DelayProxy] = []
        try:
            print(", ".join(f"{label} pid {server.pid}" for label, server in servers.items()))
            for server in servers.values():
                _seed(server.url)
            print("\n## stash.get of an unchanged key (microseconds a call)\n")
            print(f"{'server':14} {'round trip':>11} {'client cache':>13}")
            for label, server in servers.items():
                trip, hit = cache_timings(server.url, 2000 if quick else 100_000)
                shown = f"{hit:13.2f}" if isinstance(hit, float) else f"  - ({hit})"
                print(f"{label:14} {trip:11.2f} {shown}")
            print("\n## one gunicorn worker: stash.get calls a second inside it\n")
            print(f"{'worker':24} {'server':26} {'before':>9} {'after':>9} "
                  f"{'after/before':>12}")
            for label, server in list(servers.items()):
                proxy = DelayProxy(str(directory / f"far-{label}.sock"), server.socket_path,
                                   0.0005)
                proxies.append(proxy)
                targets = [(label, server.url), (f"{label}, 1 ms away", proxy.url)]
                for kind, measure, title in (
                        ("gthread", gthread_rate, f"gthread, {THREADS} threads"),
                        ("uvicorn.workers.UvicornWorker", asgi_rate,
                         f"uvicorn, {TASKS} tasks")):
                    for target, url in targets:
                        rates = {}
                        for connections in (1, 16):
                            worker = Worker(directory, f"w{len(started)}", kind, url,
                                            connections)
                            started.append(worker)
                            try:
                                rates[connections] = max(measure(worker, calls)
                                                         for _ in range(1 if quick else 3))
                            finally:
                                worker.stop()
                        print(f"{title:24} {target:26} {rates[1]:9,.0f} {rates[16]:9,.0f} "
                              f"{rates[16] / rates[1]:12.2f}")
        finally:
            for process in reversed(started):
                process.stop()
            for proxy in proxies:
                proxy.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stash_client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    args = parser.parse_args(argv)
    return guarded(lambda: run(args.quick))


if __name__ == "__main__":
    sys.exit(main())
