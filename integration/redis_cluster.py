"""A real Redis Cluster for tests: three redis-server primaries on loopback.

Each node listens on a free TCP port (its cluster bus on another, `cluster-port`), keeps
its files in a directory of its own, and is stopped by its PID; `redis-cli --cluster
create` assigns the slots, and the cluster is ready once every node's `CLUSTER INFO`
says `cluster_state:ok`. A missing redis-server or redis-cli fails the test.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import redis
from gunicorn_procs import free_port, require_binary, wait_until
from servers import ServerProcess, start_redis

READY_TIMEOUT = 30.0


@dataclass
class Cluster:
    """The running nodes, their client ports and the password they share."""

    nodes: list[ServerProcess]
    ports: list[int]
    password: str

    @property
    def url(self) -> str:
        """The stash URL of the cluster (its first node; the others are discovered)."""
        return f"redis+cluster://:{quote(self.password, safe='')}@127.0.0.1:{self.ports[0]}"

    def node(self, index: int) -> redis.Redis:
        """A plain client of one node (commands on other nodes' slots answer MOVED)."""
        return redis.Redis(host="127.0.0.1", port=self.ports[index], password=self.password)

    def client(self) -> redis.RedisCluster:
        return redis.RedisCluster(host="127.0.0.1", port=self.ports[0], password=self.password)

    def state_ok(self, nodes: int | None = None) -> bool:
        """Whether the first `nodes` nodes (all by default) say `cluster_state:ok`."""
        for index in range(len(self.nodes) if nodes is None else nodes):
            with self.node(index) as node:
                if node.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
                    return False
        return True

    def flush(self) -> None:
        """Empty every primary."""
        for index in range(len(self.nodes)):
            with self.node(index) as node:
                node.flushall()


@contextlib.contextmanager
def start_cluster(directory: Path, size: int = 3, password: str = "clu/ster") -> Iterator[
        Cluster]:
    """Start `size` primaries sharing every slot; stop them all (by PID) afterwards."""
    require_binary("redis-server")
    cli = require_binary("redis-cli")
    nodes: list[ServerProcess] = []
    ports: list[int] = []
    try:
        for index in range(size):
            home = directory / f"node{index}"
            home.mkdir()
            port, bus = free_port(), free_port()
            nodes.append(start_redis(
                home, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-port", str(bus), "--cluster-config-file", str(home / "nodes.conf"),
                "--cluster-node-timeout", "5000", "--requirepass", password,
                "--masterauth", password, name="node"))
            ports.append(port)
        subprocess.run([cli, "--cluster", "create",
                        *(f"127.0.0.1:{port}" for port in ports),
                        "--cluster-replicas", "0", "--cluster-yes"],
                       env={**os.environ, "REDISCLI_AUTH": password}, check=True,
                       capture_output=True, timeout=60)
        cluster = Cluster(nodes, ports, password)
        wait_until(cluster.state_ok, READY_TIMEOUT, "the cluster to say cluster_state:ok")
        yield cluster
    finally:
        for node in nodes:
            node.stop()
