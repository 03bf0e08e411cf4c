"""Prometheus' redis exporter (Debian package prometheus-redis-exporter) scraping the
arbiter over its Unix socket: keys, memory, commands, hits and errors come out as
metrics, and the exporter logs no error (it gets an answer to everything it sends:
CLIENT SETNAME, CONFIG GET *, INFO ALL, LATENCY LATEST, SLOWLOG LEN, SLOWLOG GET 1)."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from differential.session import session
from servers import ServerProcess, poll_until, require_binary, start_arbiter


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Exporter(ServerProcess):
    """A prometheus-redis-exporter process on a loopback port, ready once it answers."""

    def __init__(self, redis_url: str, log_path: Path, *options: str) -> None:
        self.port = _free_port()
        super().__init__([require_binary("prometheus-redis-exporter"), "-redis.addr",
                          redis_url, "-web.listen-address", f"127.0.0.1:{self.port}",
                          "-redis-only-metrics", *options], "", log_path)

    def ready(self) -> bool:
        return self.answering()

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode()

    def answering(self) -> bool:
        assert self.process.poll() is None, self.log_path.read_text()
        try:
            return "redis_up" in self.metrics()
        except (urllib.error.URLError, ConnectionError):
            return False


@pytest.fixture
def scraped(tmp_path: Path) -> Iterator[tuple[ServerProcess, Exporter]]:
    with start_arbiter(tmp_path, name="scraped") as server:
        exporter = Exporter(f"unix://{server.socket_path}", tmp_path / "exporter.log")
        try:
            assert poll_until(exporter.answering, 15), exporter.log_path.read_text()
            yield server, exporter
        finally:
            exporter.stop()


def _value(metrics: str, name: str) -> float:
    """The value of one sample, `name` including its labels."""
    match = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert match, f"{name} not exported"
    return float(match.group(1))


def test_exporter_reports_keys_memory_commands_and_hits(
        scraped: tuple[ServerProcess, Exporter]) -> None:
    server, exporter = scraped
    with session(server.socket_path) as s:
        for key in ("a", "b", "c"):
            s.call("HSET", key, "f", "v")
        s.call("HGET", "a", "f")
        s.call("HGETALL", "b")
        s.call("HGET", "missing", "f")
        s.call("NOSUCH")
        s.call("HINCRBY", "a", "f", "1")  # WRONG value: a failed call
    metrics = exporter.metrics()
    assert _value(metrics, "redis_up") == 1
    assert _value(metrics, 'redis_db_keys{db="db0"}') == 3
    assert _value(metrics, 'redis_commands_total{cmd="hset"}') == 3
    assert _value(metrics, 'redis_commands_total{cmd="hget"}') == 2
    assert _value(metrics, 'redis_commands_failed_calls_total{cmd="hincrby"}') == 1
    assert _value(metrics, 'redis_commands_duration_seconds_total{cmd="hset"}') > 0
    assert _value(metrics, "redis_keyspace_hits_total") == 2
    assert _value(metrics, "redis_keyspace_misses_total") == 1
    assert _value(metrics, 'redis_errors_total{err="ERR"}') == 2
    assert _value(metrics, "redis_total_error_replies") == 2
    assert _value(metrics, "redis_memory_used_bytes") > 1_000_000
    assert _value(metrics, "redis_connected_clients") >= 1
    assert _value(metrics, "redis_slowlog_length") == 0
    assert _value(metrics, 'redis_latency_percentiles_usec_count{cmd="hset"}') == 3
    assert 'redis_instance_info{' in metrics and 'redis_mode="standalone"' in metrics
    # Every command the exporter sent was answered: it logs nothing but its start.
    lines = exporter.log_path.read_text().splitlines()
    assert lines and all("level=info" in line for line in lines), lines


def test_exporter_sees_the_slow_log(scraped: tuple[ServerProcess, Exporter]) -> None:
    server, exporter = scraped
    with session(server.socket_path) as s:
        s.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        s.call("HSET", "k", "f", "v")
        slow_id = int(s.call("SLOWLOG", "GET", "1").children[0].children[0].value)
        s.call("CONFIG", "SET", "slowlog-log-slower-than", "-1")  # the scrape stays out
    metrics = exporter.metrics()
    assert _value(metrics, "redis_slowlog_length") >= 2
    assert _value(metrics, "redis_slowlog_last_id") >= slow_id
    lines = exporter.log_path.read_text().splitlines()
    assert all("level=info" in line for line in lines), lines
