"""Crashes with real processes: SIGKILL during sustained writes from several clients,
and SIGKILL of the arbiter or of its rewrite child at random moments of rewrites.
Nothing acknowledged may be lost; under `everysec` a simulated power loss (the files cut
back to what was fsynced) loses at most about a second of writes."""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import time

import pytest
from aof_helpers import Writers, arbiter_with_aof, connect, kill
from servers import children, poll_until

from resp_arbiter.aof_manifest import Manifest


def _check(client, writers: Writers) -> None:
    """Every acknowledged write is there; beyond them, at most the one write per client
    that was in flight at the kill."""
    assert writers.missing(client) == []
    for number, acked in enumerate(writers.acked):
        present = len(client.hkeys(f"{writers.key}{number}"))
        assert len(acked) <= present <= len(acked) + 1


@pytest.mark.parametrize("policy", ["always", "everysec"])
def test_sigkill_during_writes_loses_no_acknowledged_write(workdir, policy):
    server = arbiter_with_aof(workdir, "--appendfsync", policy)
    with Writers(server, clients=4) as writers:
        assert poll_until(lambda: writers.total() >= 3000, 30)
        kill(server)
    assert writers.total() >= 3000
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        _check(client, writers)
        client.close()


_FSYNC_DONE = re.compile(r"AOF fsync done: (\S+) is on disk up to offset (\d+)")


def test_everysec_loses_at_most_about_a_second_on_power_loss(workdir):
    """SIGKILL, then cut the increment file back to the last offset the arbiter logged
    as fsynced: what a power loss at that moment would leave. The acknowledged writes
    lost must all be younger than about a second."""
    server = arbiter_with_aof(workdir, "--appendfsync", "everysec", "--loglevel", "debug")
    with Writers(server, clients=4) as writers:
        time.sleep(random.uniform(3.0, 4.5))  # several fsync periods, then any moment
        killed_at = time.monotonic()
        kill(server)
    synced = _FSYNC_DONE.findall((workdir / "arbiter.log").read_text())
    manifest = Manifest.parse((workdir / "appendonlydir" / "appendonly.aof.manifest")
                              .read_bytes())
    incr = manifest.incrs[-1].name
    offsets = [int(offset) for name, offset in synced if name == incr]
    assert offsets, "no fsync was logged"
    path = workdir / "appendonlydir" / incr
    written = path.stat().st_size
    os.truncate(path, offsets[-1])
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        lost = writers.missing(client)
        client.close()
    window = killed_at - min(at for _, at in lost) if lost else 0.0
    print(f"\neverysec power-loss simulation: {writers.total()} writes acknowledged, "
          f"{len(lost)} lost ({written - offsets[-1]} bytes not yet fsynced), oldest lost "
          f"write acknowledged {window:.3f} s before the crash")
    assert window <= 2.0


def _kill_during_rewrites(workdir, iteration: int, rng: random.Random,
                          history: list[Writers], child_kills: list[int],
                          kill_child: bool | None = None) -> None:
    policy = rng.choice(["always", "everysec"])
    server = arbiter_with_aof(workdir, "--appendfsync", policy,
                              "--auto-aof-rewrite-percentage", "1",
                              "--auto-aof-rewrite-min-size", "1kb", name=f"run{iteration}")
    client = connect(server)
    for earlier in history:  # everything acknowledged in the earlier runs survived
        _check(client, earlier)
    client.close()
    writers = Writers(server, clients=3, key=f"i{iteration}-", value_size=200)
    with writers:
        time.sleep(rng.uniform(0.1, 0.8))
        rewrite_children: list[int] = []
        assert poll_until(lambda: bool(rewrite_children.extend(children(server.pid))
                                       or rewrite_children), 20), "no rewrite started"
        if kill_child if kill_child is not None else rng.random() < 0.5:
            for pid in rewrite_children:  # at once: a small rewrite takes milliseconds
                if not _zombie(pid):
                    with contextlib.suppress(ProcessLookupError):  # it had just finished
                        os.kill(pid, signal.SIGKILL)
                        child_kills.append(pid)
            # The arbiter reaps it (logging how it ended) and carries on.
            assert poll_until(lambda: not any(os.path.exists(f"/proc/{pid}")
                                              for pid in rewrite_children), 10)
            time.sleep(rng.uniform(0.0, 0.2))
        else:
            time.sleep(rng.uniform(0.0, 0.05))
        kill(server)
    # The child dies with its parent (and never outlives it for long).
    assert poll_until(lambda: all(not os.path.exists(f"/proc/{pid}")
                                  or _zombie(pid) for pid in rewrite_children), 10)
    history.append(writers)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


def test_sigkill_of_the_arbiter_or_its_rewrite_child_at_random_moments(workdir):
    rng = random.Random(os.environ.get("AOF_CRASH_SEED", "aof"))
    history: list[Writers] = []
    iterations = int(os.environ.get("AOF_CRASH_ITERATIONS", "6"))
    child_kills: list[int] = []
    for iteration in range(iterations):
        _kill_during_rewrites(workdir, iteration, rng, history, child_kills)

    def logs() -> str:
        return "".join(path.read_text() for path in workdir.glob("run*.log"))

    # A child that finished just before its SIGKILL is no kill: on a loaded machine the
    # random runs may not catch one alive, so more runs kill the child until one does.
    for extra in range(iterations, iterations + 10):
        if "Background AOF rewrite terminated by signal 9" in logs():
            break
        _kill_during_rewrites(workdir, extra, rng, history, child_kills, kill_child=True)
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        for writers in history:
            _check(client, writers)
        client.close()
    # Both kinds of kill happened, and rewrites did complete between them.
    assert child_kills, "no rewrite child was caught alive"
    assert "Background AOF rewrite terminated by signal 9" in logs()
    assert "Background AOF rewrite finished successfully" in logs()
    leftovers = sorted(p.name for p in (workdir / "appendonlydir").iterdir())
    assert not [name for name in leftovers if name.startswith("temp-")], leftovers
    assert sum(writers.total() for writers in history) > 1000
