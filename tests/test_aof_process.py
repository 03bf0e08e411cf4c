"""Persistence with real processes: restarts, rewrites, SAVE/BGSAVE, switching AOF on and
off at run time, INFO persistence, and the files loading into a real redis-server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
import redis
from aof_helpers import arbiter_with_aof, connect, info, kill, wait_rewrite_done
from servers import poll_until, require_binary, start_arbiter, start_redis

from resp_arbiter.aof_manifest import Manifest


def _checked_copy(workdir):
    """A copy of the AOF directory (for a redis-server to load), which redis-check-aof
    has found valid; the copy's directory and the checker's result."""
    copy = workdir / "copy"
    copy.mkdir()
    shutil.copytree(workdir / "appendonlydir", copy / "appendonlydir")
    check = subprocess.run(
        [require_binary("redis-check-aof"),
         str(copy / "appendonlydir" / "appendonly.aof.manifest")],
        capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    return copy, check


def _manifest(workdir) -> Manifest:
    return Manifest.parse((workdir / "appendonlydir" / "appendonly.aof.manifest")
                          .read_bytes())


@pytest.mark.parametrize("policy", ["always", "everysec", "no"])
def test_data_survives_a_restart(workdir, policy):
    with arbiter_with_aof(workdir, "--appendfsync", policy) as server:
        client = connect(server)
        client.hset("h", mapping={"a": "1", "b": "2"})
        client.expire("h", 1000)
        client.execute_command("STASH.ENSURE", "empty")
        client.execute_command("HPEXPIRE", "h", "500000", "FIELDS", "1", "a")
        client.hincrbyfloat("h", "b", "0.5")
        with client.pipeline(transaction=True) as pipe:
            pipe.hset("t", "x", "1").hdel("h", "nothing").hset("t", "y", "2").execute()
        client.hset("gone", "f", "v")
        client.delete("gone")
        deadline = client.pexpiretime("h")
        field_deadline = client.execute_command("HPEXPIRETIME", "h", "FIELDS", "1", "a")
        client.close()
    with arbiter_with_aof(workdir, "--appendfsync", policy) as server:
        client = connect(server)
        assert client.hgetall("h") == {b"a": b"1", b"b": b"2.5"}
        assert client.pexpiretime("h") == deadline
        assert client.execute_command("HPEXPIRETIME", "h", "FIELDS", "1", "a") == \
            field_deadline
        assert client.hgetall("t") == {b"x": b"1", b"y": b"2"}
        assert client.exists("empty", "gone") == 1
        assert client.hlen("empty") == 0
        assert info(client)["aof_enabled"] == 1
        client.close()
    log = (workdir / "arbiter.log").read_text()
    assert "DB loaded from base file appendonly.aof.1.base.aof" in log
    assert "Calling fsync() on the AOF file." in log


def test_strings_survive_a_restart_and_a_rewrite(workdir):
    """String writes are logged so that they reload to the same values and deadlines,
    from the increment file and from a rewritten base file."""
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        _fill_for_redis(client)
        client.incrbyfloat("s3", "0.25")
        expected = _snapshot(client)
        client.close()
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert _snapshot(client) == expected
        assert client.bgrewriteaof() is True
        wait_rewrite_done(client, 1)
        client.close()
    base = next((workdir / "appendonlydir").glob("*.base.aof")).read_bytes()
    assert b"$2\r\ns1\r\n" in base and b"PEXPIREAT" in base
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert _snapshot(client) == expected
        assert client.get("s3") == b"1.75"
        assert client.object("encoding", "s2") == b"int"
        client.close()


def test_a_key_whose_deadline_passed_while_down_is_gone_and_logged_deleted(workdir):
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        client.hset("soon", "f", "v")
        client.pexpire("soon", 300)
        client.hset("field", mapping={"a": "1", "b": "2"})
        client.execute_command("HPEXPIRE", "field", "300", "FIELDS", "1", "a")
        client.close()
    time.sleep(0.4)  # the deadlines pass while the arbiter is down
    incr = workdir / "appendonlydir" / "appendonly.aof.1.incr.aof"
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert client.exists("soon") == 0
        assert client.hgetall("field") == {b"b": b"2"}
        # Reclaimed after the restart: logged as the deletions they are.
        assert poll_until(lambda: b"*2\r\n$3\r\nDEL\r\n$4\r\nsoon\r\n" in incr.read_bytes()
                          and b"*3\r\n$4\r\nHDEL\r\n$5\r\nfield\r\n$1\r\na\r\n"
                          in incr.read_bytes())
        client.close()


def _lastsave(client: redis.Redis) -> int:
    return int(client.lastsave().timestamp())  # redis-py reads it as a datetime


def test_rewrites_saves_and_their_replies(workdir):
    with arbiter_with_aof(workdir, "--auto-aof-rewrite-percentage", "0") as server:
        client = connect(server)
        with client.pipeline(transaction=False) as pipe:
            for start in range(0, 200_000, 1000):
                pipe.hset("big", mapping={f"f{i}": "x" * 20 for i in range(start, start + 1000)})
            pipe.execute()
        before = info(client)
        assert before["aof_base_size"] == 0 and before["aof_current_size"] > 4_000_000
        assert _lastsave(client) == before["rdb_last_save_time"]
        assert client.bgrewriteaof() is True
        with pytest.raises(redis.ResponseError, match=r"^Background append only file "
                           r"rewriting already in progress$"):
            client.bgrewriteaof()
        with pytest.raises(redis.ResponseError, match=r"^Another child process is active"):
            client.execute_command("BGSAVE")
        with pytest.raises(redis.ResponseError, match=r"^Background save already in progress"):
            client.save()
        assert client.bgsave(schedule=True) is True  # "Background saving scheduled"
        assert info(client)["aof_rewrite_scheduled"] == 1
        client.hset("during", "a", "1")
        after = wait_rewrite_done(client, 2)
        assert after["aof_last_bgrewrite_status"] == "ok"
        assert after["aof_rewrite_scheduled"] == 0
        manifest = _manifest(workdir)
        assert manifest.base.seq == 3 and [f.seq for f in manifest.incrs] == [3]
        assert not manifest.history
        assert sorted(p.name for p in (workdir / "appendonlydir").iterdir()) == [
            "appendonly.aof.3.base.aof", "appendonly.aof.3.incr.aof",
            "appendonly.aof.manifest"]
        assert client.save() is True
        assert info(client)["rdb_changes_since_last_save"] == 0
        assert _lastsave(client) >= before["rdb_last_save_time"]
        assert _manifest(workdir).base.seq == 4
        client.close()
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert client.hlen("big") == 200_000 and client.hget("during", "a") == b"1"
        client.close()


def test_appendonly_switched_on_and_off_at_run_time(workdir):
    with start_arbiter(workdir, "--dir", str(workdir)) as server:
        client = connect(server)
        client.hset("before", "a", "1")
        assert info(client)["aof_enabled"] == 0
        assert client.config_set("appendonly", "yes") is True
        client.hset("while-writing-base", "b", "2")
        state = wait_rewrite_done(client, 1)
        assert state["aof_enabled"] == 1
        client.hset("on", "c", "3")
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_set("appendonly", "no") is True
        assert info(client)["aof_enabled"] == 0
        client.hset("off", "d", "4")
        client.close()
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert client.exists("before", "while-writing-base", "on") == 3
        assert client.exists("off") == 0
        client.close()


def test_switching_on_fails_cleanly_when_the_directory_cannot_be_made(workdir):
    blocker = workdir / "file"
    blocker.write_text("not a directory")
    with start_arbiter(workdir, "--dir", str(blocker)) as server:
        client = connect(server)
        with pytest.raises(redis.ResponseError, match=r"^CONFIG SET failed \(possibly "
                           r"related to argument 'appendonly'\) - Unable to turn on AOF. "
                           r"Check server logs.$"):
            client.config_set("appendonly", "yes")
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.hset("still", "works", "1") == 1
        client.close()


def _fill_for_redis(client: redis.Redis) -> None:
    client.hset("h1", mapping={f"f{i}": f"v{i}" for i in range(100)})
    client.hset("h2", mapping={"a": "1"})
    client.pexpire("h2", 3_600_000)
    client.hincrbyfloat("h1", "float", "2.5")
    client.hincrby("h1", "int", 40)
    with client.pipeline(transaction=True) as pipe:
        pipe.hset("h3", "x", "y").hdel("h1", "f3").execute()
    client.hset("temp", "x", "y")
    client.delete("temp")
    client.hset("big", mapping={f"k{i}": "z" * 100 for i in range(700)})
    client.set("s1", "v", ex=3600)
    client.set("s2", "5")
    client.incr("s2")
    client.incrbyfloat("s3", "1.5")
    client.append("s4", "ab")
    client.append("s4", "cd")
    client.setrange("s4", 6, "x")
    client.mset({"m1": "1", "m2": "2"})
    client.getex("m1", px=5_000_000)
    client.getdel("m2")
    client.set("h3", "a string over a hash", keepttl=True)
    client.set("s5", "kept", px=7_000_000)
    client.set("s5", "new", keepttl=True)
    client.execute_command("SETEX", "s6", 100, "x" * 100)


def _snapshot(client: redis.Redis) -> dict:
    return {key: (client.hgetall(key) if client.type(key) == b"hash" else client.get(key),
                  client.pexpiretime(key))
            for key in sorted(client.keys("*"))}


def test_the_files_load_into_redis_server(workdir):
    """The arbiter's files (hashes without field TTLs) load into redis-server 7.0 and
    read back the same data; redis-check-aof finds them valid."""
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        _fill_for_redis(client)
        assert client.bgrewriteaof() is True
        client.hset("after-rewrite", "a", "b")
        wait_rewrite_done(client, 1)
        client.hset("late", "c", "d")
        expected = _snapshot(client)
        client.close()
    copy, check = _checked_copy(workdir)
    assert "is valid" in check.stdout
    with start_redis(copy, "--appendonly", "yes", "--dir", str(copy)) as reference:
        client = connect(reference)
        assert _snapshot(client) == expected
        client.close()
    assert "DB loaded from incr file" in (copy / "redis.log").read_text()


def test_redis_servers_files_load_into_the_arbiter(workdir):
    """The other way round: the multi-part AOF of redis-server (RESP base, SELECT,
    MULTI/EXEC) loads into the arbiter."""
    with start_redis(workdir, "--appendonly", "yes", "--aof-use-rdb-preamble", "no",
                     "--dir", str(workdir)) as reference:
        client = connect(reference)
        _fill_for_redis(client)
        assert client.bgrewriteaof() is True
        assert poll_until(lambda: info(client)["aof_rewrites"] == 1
                          and not info(client)["aof_rewrite_in_progress"], 30)
        client.hset("after", "a", "b")
        expected = _snapshot(client)
        client.close()
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert _snapshot(client) == expected
        client.close()


def test_a_torn_tail_loads_and_a_corrupt_middle_refuses_to_start(workdir):
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        for i in range(20):
            client.hset("t", f"f{i}", "v")
        client.close()
    incr = workdir / "appendonlydir" / "appendonly.aof.1.incr.aof"
    data = incr.read_bytes()
    incr.write_bytes(data + b"*4\r\n$4\r\nHSET\r\n$1\r\nt\r\n$3\r\nf20")
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert client.hlen("t") == 20
        client.close()
    log = (workdir / "arbiter.log").read_text()
    assert f"Truncating the AOF {incr.name} at offset {len(data)}" in log
    assert "loaded anyway because aof-load-truncated is enabled" in log
    assert incr.read_bytes() == data
    middle = data.index(b"f10") - 10
    incr.write_bytes(data[:middle] + b"#" + data[middle + 1:])
    started = subprocess.run(
        [sys.executable, "-m", "resp_arbiter", "--unixsocket", str(workdir / "x.sock"),
         "--appendonly", "yes", "--dir", str(workdir)],
        capture_output=True, text=True, timeout=60)
    assert started.returncode == 1
    assert f"Bad file format reading the append only file {incr.name} at offset" in \
        started.stdout
    assert not (workdir / "x.sock").exists()


def test_bgsave_schedule_runs_once_the_running_rewrite_is_done_with_aof_off(workdir):
    with start_arbiter(workdir, "--dir", str(workdir)) as server:
        client = connect(server)
        client.hset("big", mapping={f"f{i}": "x" * 50 for i in range(50_000)})
        assert client.bgrewriteaof() is True
        assert client.bgsave(schedule=True) is True
        state = wait_rewrite_done(client, 2)
        assert state["aof_enabled"] == 0 and state["aof_rewrite_scheduled"] == 0
        assert _manifest(workdir).base.seq == 2
        client.close()
    # A snapshot taken with AOF off is what a later start with AOF on loads.
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert client.hlen("big") == 50_000
        client.close()


def test_sigterm_while_the_first_base_is_written_still_leaves_complete_files(workdir):
    with start_arbiter(workdir, "--dir", str(workdir)) as server:
        client = connect(server)
        client.hset("big", mapping={f"f{i}": "x" * 50 for i in range(100_000)})
        assert client.config_set("appendonly", "yes") is True
        client.hset("after-switch", "a", "1")
        assert info(client)["aof_rewrite_in_progress"] == 1
        client.close()
    assert "Writing the initial AOF in the foreground before exiting" in \
        (workdir / "arbiter.log").read_text()
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert client.hlen("big") == 100_000 and client.hget("after-switch", "a") == b"1"
        client.close()


def test_appendonly_switched_on_inside_a_transaction(workdir):
    with start_arbiter(workdir, "--dir", str(workdir)) as server:
        client = connect(server)
        client.hset("before", "a", "1")
        with client.pipeline(transaction=True) as pipe:
            pipe.config_set("appendonly", "yes").hset("inside", "b", "2").hset("x", "c", "3")
            assert pipe.execute() == [True, 1, 1]
        client.hset("after", "d", "4")
        assert wait_rewrite_done(client, 1)["aof_enabled"] == 1
        client.close()
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert client.exists("before", "inside", "x", "after") == 4
        client.close()


def test_an_evicted_key_is_logged_deleted_and_stays_gone(workdir):
    with arbiter_with_aof(workdir, "--maxmemory-policy", "allkeys-random") as server:
        client = connect(server)
        startup = client.info("memory")["used_memory"]
        client.config_set("maxmemory", startup + 200_000)
        for i in range(400):
            client.hset(f"t{i}", "f", "x" * 1000)
        assert client.info("stats")["evicted_keys"] > 0
        kept = set(client.keys("*"))
        client.close()
    incr = workdir / "appendonlydir" / "appendonly.aof.1.incr.aof"
    assert b"*2\r\n$3\r\nDEL\r\n" in incr.read_bytes()
    with arbiter_with_aof(workdir) as server:
        client = connect(server)
        assert set(client.keys("*")) == kept
        client.close()


DBS = (0, 3, 15)


def _fill_dbs(server) -> None:
    """Writes in several databases, in every way the log must follow: per-client SELECT,
    clients interleaved, SELECT inside MULTI, MOVE, COPY ... DB, SWAPDB, FLUSHDB."""
    zero, three = connect(server), connect(server, db=3)
    for i in range(20):
        zero.hset("shared", f"z{i}", i)
        three.hset("shared", f"t{i}", i)
    three.pexpire("shared", 3_600_000)
    zero.hset("moved", "a", "1")
    zero.pexpire("moved", 7_200_000)
    zero.move("moved", 15)
    zero.copy("shared", "copied", destination_db=3)
    with zero.pipeline(transaction=True) as pipe:
        pipe.execute_command("SELECT", 15).hset("in-multi", "x", "y")
        pipe.execute_command("SELECT", 0).hset("in-multi", "x", "zero").execute()
    three.hset("doomed", "f", "v")
    zero.hset("swap-me", "f", "v")
    zero.swapdb(0, 9)
    zero.swapdb(9, 0)
    fourteen = connect(server, db=14)
    fourteen.hset("flushed", "f", "v")
    fourteen.flushdb()
    for client in (zero, three, fourteen):
        client.close()


def _snapshot_dbs(server) -> dict:
    found = {}
    for db in range(16):
        client = connect(server, db=db)
        found[db] = _snapshot(client)
        client.close()
    return found


def test_several_dbs_load_into_redis_server_and_back(workdir):
    """Files holding several databases (SELECT before each database's records, in the
    base and in the increments) load into redis-server 7.0, and its files into the
    arbiter, with the same data in each database."""
    with arbiter_with_aof(workdir) as server:
        _fill_dbs(server)
        client = connect(server)
        assert client.bgrewriteaof() is True
        wait_rewrite_done(client, 1)
        client.close()
        other = connect(server, db=3)
        other.hset("after-rewrite", "a", "b")
        other.close()
        expected = _snapshot_dbs(server)
    assert {db for db, keys in expected.items() if keys} == set(DBS)
    base = next((workdir / "appendonlydir").glob("*.base.aof")).read_bytes()
    assert base.count(b"SELECT") == len(DBS)
    copy, _ = _checked_copy(workdir)
    with start_redis(copy, "--appendonly", "yes", "--aof-use-rdb-preamble", "no",
                     "--dir", str(copy)) as reference:
        assert _snapshot_dbs(reference) == expected
        client = connect(reference)
        client.bgrewriteaof()
        assert poll_until(lambda: info(client)["aof_rewrites"] == 1
                          and not info(client)["aof_rewrite_in_progress"], 30)
        client.close()
        more = connect(reference, db=15)
        more.hset("from-redis", "f", "v")
        more.close()
        expected = _snapshot_dbs(reference)
    back = workdir / "back"
    back.mkdir()
    shutil.copytree(copy / "appendonlydir", back / "appendonlydir")
    with arbiter_with_aof(back) as server:
        assert _snapshot_dbs(server) == expected
    # Redis' own writing of several databases loads too, from its first files on.
    fresh = workdir / "fresh"
    fresh.mkdir()
    with start_redis(fresh, "--appendonly", "yes", "--aof-use-rdb-preamble", "no",
                     "--dir", str(fresh)) as reference:
        _fill_dbs(reference)
        expected = _snapshot_dbs(reference)
    with arbiter_with_aof(fresh) as server:
        assert _snapshot_dbs(server) == expected


def test_sigkill_with_clients_in_several_dbs_loses_no_acknowledged_write(workdir):
    """Clients in db 0 and db 5 write the same keys alternately, a third moves keys
    between them; after SIGKILL each acknowledged write is in its own database."""
    server = arbiter_with_aof(workdir, "--appendfsync", "always")
    zero, five = connect(server), connect(server, db=5)
    acked = {0: 0, 5: 0}
    try:
        for i in range(1500):
            zero.hset("w", f"f{i}", "zero")
            acked[0] = i + 1
            five.hset("w", f"f{i}", "five")
            acked[5] = i + 1
            if i % 100 == 0:
                zero.hset(f"m{i}", "f", "v")
                zero.move(f"m{i}", 5)
    finally:
        kill(server)
    with arbiter_with_aof(workdir) as server:
        for db, value in ((0, b"zero"), (5, b"five")):
            client = connect(server, db=db)
            stored = client.hgetall("w")
            assert len(stored) == acked[db]
            assert set(stored.values()) == {value}
            assert client.exists(*[f"m{i}" for i in range(0, 1500, 100)]) == (
                15 if db == 5 else 0)
            client.close()
