"""A disk that fails: write commands get Redis' MISCONF error, reads keep working, and
writes resume once the disk works again, with nothing acknowledged lost.

The failing disk is a file-size limit (RLIMIT_FSIZE, lowered on the running arbiter and
raised again: writes past it fail with EFBIG), which needs no privileges; and, as root,
a small tmpfs that fills up (ENOSPC) and is then grown."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
from pathlib import Path

import pytest
import redis
from aof_helpers import arbiter_with_aof, connect, info
from servers import ServerProcess, poll_until, require_binary

MISCONF = "MISCONF Errors writing to the AOF file: "
VALUE = "x" * 1000


def _limit_file_size(server: ServerProcess, limit: int) -> None:
    resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))


def _unlimit(server: ServerProcess) -> None:
    resource.prlimit(server.pid, resource.RLIMIT_FSIZE,
                     (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def _incr_size(workdir: Path) -> int:
    return sum(p.stat().st_size for p in (workdir / "appendonlydir").glob("*.incr.aof"))


def _write_until_refused(client: redis.Redis, key: str = "big") -> list[int]:
    """HSETs until one is refused with MISCONF; returns the acknowledged ones."""
    acked = []
    for i in range(10_000):
        try:
            client.hset(key, f"f{i}", VALUE)
        except redis.ResponseError as exc:
            assert str(exc).startswith(MISCONF), exc
            return acked
        acked.append(i)
    pytest.fail("the disk never failed")


def _writes_again(client: redis.Redis) -> bool:
    try:
        return client.hset("probe", "p", "1") >= 0
    except redis.ResponseError:
        return False


def test_everysec_refuses_writes_while_the_disk_fails_then_recovers(workdir):
    with arbiter_with_aof(workdir, "--auto-aof-rewrite-percentage", "0") as server:
        writer, reader = connect(server), connect(server)
        writer.hset("big", "f-first", VALUE)
        _limit_file_size(server, _incr_size(workdir) + 20_000)
        acked = _write_until_refused(writer)
        assert 10 <= len(acked) <= 30
        state = info(reader)
        assert state["aof_last_write_status"] == "err"
        assert reader.hget("big", "f0") == VALUE.encode()  # reads keep working
        assert reader.hlen("big") == len(acked) + 1
        assert reader.ping() is True  # the supervisor's probe (Redis refuses PING too)
        with pytest.raises(redis.ResponseError, match=MISCONF):
            reader.delete("big")
        with reader.pipeline(transaction=True) as pipe:
            pipe.hget("big", "f0").hset("big", "in-multi", "1")
            with pytest.raises(redis.ResponseError, match=MISCONF):  # refused when queued
                pipe.execute()
        _unlimit(server)
        assert poll_until(lambda: _writes_again(writer), 10)
        assert info(reader)["aof_last_write_status"] == "ok"
        writer.hset("big", "f-after", VALUE)
        writer.close()
        reader.close()
    log = (workdir / "arbiter.log").read_text()
    assert "AOF write error looks solved" in log
    assert "Short write while writing to the AOF file" in log or \
        "Error writing to the AOF file: File too large" in log
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        fields = set(client.hkeys("big"))
        assert {b"f%d" % i for i in acked} | {b"f-first", b"f-after"} <= fields
        assert b"in-multi" not in fields
        client.close()


def _send(sock: socket.socket, *argv: str) -> None:
    sock.sendall(b"*%d\r\n" % len(argv) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in argv))


def _reply(sock: socket.socket, timeout: float) -> bytes | None:
    sock.settimeout(timeout)
    try:
        return sock.recv(4096)
    except TimeoutError:
        return None


def test_always_holds_the_reply_of_a_write_caught_in_the_failure(workdir):
    """Under `always` a reply means "on disk": the write whose log write failed gets its
    reply only once the disk works again (its client is paused meanwhile)."""
    with arbiter_with_aof(workdir, "--appendfsync", "always",
                          "--auto-aof-rewrite-percentage", "0") as server:
        other = connect(server)
        _limit_file_size(server, _incr_size(workdir) + 8_000)
        with socket.socket(socket.AF_UNIX) as held:
            held.connect(server.socket_path)
            for i in range(100):
                _send(held, "HSET", "big", f"f{i}", VALUE)
                reply = _reply(held, 2.0)
                if reply is None:
                    break
                assert reply == b":1\r\n"
            else:
                pytest.fail("the disk never failed")
            assert other.hget("big", "f0") == VALUE.encode()  # reads keep working
            with pytest.raises(redis.ResponseError, match=MISCONF):
                other.hset("big", "refused", "1")
            assert _reply(held, 0.5) is None  # still not acknowledged
            _unlimit(server)
            assert _reply(held, 10.0) == b":1\r\n"
        assert poll_until(lambda: _writes_again(other), 10)
        other.close()
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert client.hexists("big", f"f{i}")  # the held write is on disk
        assert not client.hexists("big", "refused")
        client.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_full_disk_gives_misconf_and_writes_resume_when_space_returns(workdir):
    mount, umount = require_binary("mount"), require_binary("umount")
    disk = workdir / "disk"
    disk.mkdir()
    subprocess.run([mount, "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], check=True)
    try:
        with arbiter_with_aof(workdir, "--dir", str(disk),
                             "--auto-aof-rewrite-percentage", "0") as server:
            writer, reader = connect(server), connect(server)
            acked = _write_until_refused(writer)
            assert acked
            with pytest.raises(redis.ResponseError,
                               match=MISCONF + "No space left on device"):
                writer.hset("big", "again", "1")
            assert reader.hlen("big") >= len(acked)
            subprocess.run([mount, "-o", "remount,size=4m", str(disk)], check=True)
            assert poll_until(lambda: _writes_again(writer), 10)
            writer.close()
            reader.close()
        with arbiter_with_aof(workdir, "--dir", str(disk)) as server:
            client = connect(server)
            assert {b"f%d" % i for i in acked} <= set(client.hkeys("big"))
            client.close()
    finally:
        subprocess.run([umount, str(disk)], check=True)
