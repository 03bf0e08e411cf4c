"""USR2 upgrades hand the running arbiter to the new master: one arbiter, one copy of the
data, for as long as any master that owns it lives."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from gunicorn_procs import LISTEN_RE, Gunicorn, alive, config_text, redis_cli, wait_until

from gunicorn_ext.supervisor import ping


def upgrade(old: Gunicorn) -> int:
    """USR2 the master; the new master's pid, once it has adopted the arbiter and its
    workers answer."""
    old.signal(signal.SIGUSR2)
    wait_until(lambda: f"adopted from master {old.pid}" in old.log(), 30,
               "the new master to adopt the arbiter")
    new = wait_until(lambda: [int(pid) for _, pid in LISTEN_RE.findall(old.log())
                              if int(pid) != old.pid], 30, "the new master to listen")[0]
    old.seen.add(new)
    wait_until(lambda: len(old.workers(new)) == 2, 30, "the new master's workers")
    return new


def owners(sock: str) -> list[int]:
    return sorted(int(line) for line in redis_cli(sock, "STASH.OWNERS").split())


def every_arbiter(master: Gunicorn, *masters: int) -> list[int]:
    return sorted({pid for pid in (master.pid, *masters) if alive(pid)
                   for pid in master.arbiters(pid)})


@pytest.mark.parametrize("persist", [False, True], ids=["memory", "persist_dir"])
def test_usr2_hands_the_arbiter_to_the_new_master(gunicorn: Callable[..., Gunicorn],
                                                  short_dir: Path, persist: bool) -> None:
    # Without socket_path: the private directory is handed over with the arbiter.
    options = "tables=['boot']" + (f", persist_dir={str(short_dir / 'data')!r}"
                                   if persist else "")
    old = gunicorn(config_text(options=options)).wait_ready()
    [(arbiter, sock)] = old.announced()
    old.get("/put", table="t", key="k", value='"before"')

    new = upgrade(old)
    assert every_arbiter(old, new) == [arbiter]
    assert owners(sock) == sorted([old.pid, new])
    # Old and new workers, one arbiter: a write through either is read by the other.
    old.get("/put", table="t", key="k", value='"during"')
    assert {old.get("/get", table="t", key="k")["value"] for _ in range(6)} == {"during"}

    old.signal(signal.SIGTERM)
    assert old.wait_exit() == 0
    assert alive(arbiter) and ping(sock)
    assert owners(sock) == [new]
    assert "stays up for the other master(s) that own it (1)" in old.log()
    answer = old.get("/get", table="t", key="k")
    assert answer["value"] == "during" and answer["pid"] in old.workers(new)

    # The new master supervises it: it restarts it when it dies.
    os.kill(arbiter, signal.SIGKILL)
    restarted = wait_until(lambda: [pid for pid, path in old.announced()
                                    if path == sock and pid != arbiter], 20,
                           "the new master to restart the arbiter")[0]
    assert old.arbiters(new) == [restarted]
    expected = "during" if persist else None
    assert old.get("/get", table="t", key="k")["value"] == expected

    os.kill(new, signal.SIGTERM)
    wait_until(lambda: not alive(new), 30, "the new master to exit")
    wait_until(lambda: not alive(restarted), 10, "the arbiter to stop with its last master")
    assert not os.path.exists(sock)
    assert not os.path.exists(os.path.dirname(sock))  # the private directory too


def test_usr2_under_load_keeps_one_arbiter_and_an_exact_counter(
        gunicorn: Callable[..., Gunicorn], short_dir: Path) -> None:
    """Clients increment a counter through HTTP while the master is upgraded and the old
    one stopped: the workers of both masters count into one arbiter, exactly."""
    sock = str(short_dir / "stash.sock")
    old = gunicorn(config_text(options=f"socket_path={sock!r}")).wait_ready()
    [(arbiter, _)] = old.announced()
    stop = threading.Event()
    counted: list[int] = []
    failed: list[str] = []
    arbiters_seen: set[int] = set()

    def load() -> None:
        while not stop.is_set():
            try:
                old.get("/incr", table="counters", key="hits")
                counted.append(1)
            except Exception as error:  # a failed request is counted and reported
                failed.append(repr(error))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(counted) > 50, 30, "the load to run")
        new = upgrade(old)
        arbiters_seen.update(every_arbiter(old, new))
        wait_until(lambda: len(counted) > 300, 30, "more increments during the overlap")
        arbiters_seen.update(every_arbiter(old, new))
        old.signal(signal.SIGTERM)
        assert old.wait_exit() == 0
        mark = len(counted)
        wait_until(lambda: len(counted) > mark + 100, 30, "increments after the old master")
        arbiters_seen.update(every_arbiter(old, new))
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    final = int(redis_cli(sock, "HGET", "counters", "hits"))
    print(f"{len(counted)} increments acknowledged, {len(failed)} failed, counter {final}, "
          f"arbiters seen {sorted(arbiters_seen)}")
    assert arbiters_seen == {arbiter}
    assert failed == []
    assert final == len(counted)


def test_arbiter_killed_during_the_overlap_is_restarted_once(
        gunicorn: Callable[..., Gunicorn], short_dir: Path) -> None:
    """Both masters own it and both see it die: one restarts it, the other adopts the
    restarted one; never two arbiters."""
    sock = str(short_dir / "stash.sock")
    old = gunicorn(config_text(options=f"socket_path={sock!r}")).wait_ready()
    [(arbiter, _)] = old.announced()
    new = upgrade(old)
    os.kill(arbiter, signal.SIGKILL)
    wait_until(lambda: ping(sock) and len(owners(sock)) == 2, 30,
               "one restarted arbiter owned by both masters")
    assert owners(sock) == sorted([old.pid, new])
    [restarted] = every_arbiter(old, new)
    assert restarted != arbiter
    assert old.get("/incr", table="c", key="n")["value"] == 1

    # The old master killed outright: the new one keeps the arbiter.
    old.signal(signal.SIGKILL)
    old.wait_exit()
    wait_until(lambda: owners(sock) == [new], 10, "the arbiter to forget the old master")
    assert alive(restarted) and old.get("/incr", table="c", key="n")["value"] == 2
