"""The AOF files on disk: the manifest, torn and corrupt files, and crashes at every step
of a rewrite. In-process (a Server object per start), so every cut point and every
file operation can be tried."""

from __future__ import annotations

import copy
import logging
import os
import shutil
from pathlib import Path

import pytest
from servers import poll_until
from test_aof_replay import START, Clock, make_server, run, state

from resp_arbiter import aof as aof_module
from resp_arbiter import aof_base
from resp_arbiter.aof import AofStartError
from resp_arbiter.aof_base import write_base_file
from resp_arbiter.aof_manifest import AofFile, Manifest, ManifestError, quote
from resp_arbiter.client import Client
from resp_arbiter.protocol import split_inline_args as split_args

# -- the manifest -----------------------------------------------------------------------


def test_manifest_round_trip_and_redis_layout():
    manifest = Manifest(AofFile("appendonly.aof.3.base.aof", 3, "b"),
                        [AofFile("appendonly.aof.4.incr.aof", 4, "i"),
                         AofFile("appendonly.aof.5.incr.aof", 5, "i")],
                        [AofFile("appendonly.aof.2.base.aof", 2, "h")])
    text = manifest.format()
    assert text == (b"file appendonly.aof.3.base.aof seq 3 type b\n"
                    b"file appendonly.aof.2.base.aof seq 2 type h\n"
                    b"file appendonly.aof.4.incr.aof seq 4 type i\n"
                    b"file appendonly.aof.5.incr.aof seq 5 type i\n")
    assert Manifest.parse(text) == manifest


def test_manifest_names_with_spaces_and_quotes_are_quoted_as_redis_does():
    assert quote("plain.aof") == "plain.aof"
    assert quote('a b"c\n\xe9') == '"a b\\"c\\n\\xc3\\xa9"'
    for name in ("a b", 'x"y', "tab\there", "\xe9t\xe9"):
        line = Manifest(AofFile(name, 1, "b")).format()
        assert Manifest.parse(line).base.name == name
    assert split_args(b"file 'it''s' seq 1") is None  # quote not followed by a space
    assert split_args(b'file "unterminated seq 1') is None


@pytest.mark.parametrize(("text", "error"), [
    (b"", "Found an empty AOF manifest"),
    (b"file a seq 1 type b", "Invalid AOF manifest file format"),  # no newline
    (b"file a seq 1\n", "Invalid AOF manifest file format"),
    (b"file a seq x type b\n", "Invalid AOF manifest file format"),
    (b"file a/b seq 1 type b\n", "File can't be a path, just a filename"),
    (b"file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information"),
    (b"file a seq 2 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number"),
    (b"file a seq 1 type x\n", "Unknown AOF file type"),
    (b"file " + b"a" * 1100 + b" seq 1 type b\n", "too long line"),
])
def test_manifest_errors_are_redis_messages(text, error):
    with pytest.raises(ManifestError, match=error):
        Manifest.parse(text)


def test_manifest_comments_are_skipped():
    assert Manifest.parse(b"# made by hand\nfile a seq 1 type i\n").incrs == [
        AofFile("a", 1, "i")]


# -- torn and corrupt files -------------------------------------------------------------

def _written(tmp_path: Path) -> tuple[Path, list[tuple[int, dict]]]:
    """An AOF directory with a few commands and transactions in one increment file;
    returns the file and (size after each command, state after it)."""
    server = make_server(tmp_path, Clock(START), appendfsync="always")
    client = Client(server)
    sizes = [(server.aof.incr_size, state(server.keyspace))]
    for argv in (["HSET", "t", "a", "1"], ["HSET", "t", "b", "x" * 300],
                 ["MULTI"], ["HSET", "u", "c", "3"], ["HINCRBY", "t", "a", "5"], ["EXEC"],
                 ["PEXPIRE", "t", "3600000"], ["HSETEX", "v", "PX", "900000", "FIELDS", "1",
                                               "f", "g"],
                 ["HDEL", "t", "b"]):
        run(server, client, *argv)
        if argv[0] not in ("MULTI", "HSET") or client.multi is None:
            sizes.append((server.aof.incr_size, state(server.keyspace)))
    server.aof.stop()
    incr = tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof"
    # The file starts with SELECT 0 (written with the first command): a cut after it
    # keeps it.
    select = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
    assert incr.read_bytes().startswith(select)
    sizes.insert(1, (len(select), sizes[0][1]))
    return incr, sizes


def test_a_torn_tail_loads_the_commands_before_it_at_every_cut(tmp_path, caplog):
    incr, sizes = _written(tmp_path / "source")
    data = incr.read_bytes()
    assert sizes[-1][0] == len(data)
    for cut in range(len(data) + 1):
        directory = tmp_path / f"cut{cut}"
        shutil.copytree(tmp_path / "source", directory)
        target = directory / "appendonlydir" / incr.name
        target.write_bytes(data[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="resp_arbiter"):
            server = make_server(directory, Clock(START))
        valid, expected = max((s for s in sizes if s[0] <= cut), key=lambda s: s[0])
        assert state(server.keyspace) == expected, cut
        assert target.stat().st_size == valid  # the torn part was cut off the file
        if valid < cut:
            assert f"Truncating the AOF {incr.name} at offset {valid}" in caplog.text
        server.aof.stop()
        shutil.rmtree(directory)


def test_a_torn_transaction_is_dropped_whole(tmp_path, caplog):
    incr, _ = _written(tmp_path)
    data = incr.read_bytes()
    exec_end = data.index(b"*1\r\n$4\r\nEXEC\r\n") + 14
    incr.write_bytes(data[:exec_end - 1])
    with caplog.at_level(logging.WARNING, logger="resp_arbiter"):
        server = make_server(tmp_path, Clock(START))
    assert b"u" not in server.keyspace.tables
    assert server.keyspace.tables[b"t"].fields[b"a"] == b"1"
    assert "Revert incomplete MULTI/EXEC transaction" in caplog.text
    server.aof.stop()


def test_a_zero_filled_tail_counts_as_torn(tmp_path):
    incr, sizes = _written(tmp_path)
    with open(incr, "ab") as handle:
        handle.write(b"\0" * 4096)
    server = make_server(tmp_path, Clock(START))
    assert state(server.keyspace) == sizes[-1][1]
    assert incr.stat().st_size == sizes[-1][0]
    server.aof.stop()


def test_a_torn_tail_refuses_to_load_when_aof_load_truncated_is_no(tmp_path):
    incr, _ = _written(tmp_path)
    incr.write_bytes(incr.read_bytes()[:-3])
    with pytest.raises(AofStartError, match="Unexpected end of file reading the append "
                       f"only file {incr.name}"):
        make_server(tmp_path, Clock(START), aof_load_truncated="no")


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: d.replace(b"*4\r\n$4\r\nHSET\r\n$1\r\nu", b"+4\r\n$4\r\nHSET\r\n$1\r\nu"),
     "Bad file format reading the append only file appendonly.aof.1.incr.aof at offset"),
    (lambda d: d.replace(b"$4\r\nHSET\r\n$1\r\nu", b"$4\r\nHSET\r\n$9\r\nu"),
     "Bad file format"),
    (lambda d: d.replace(b"HINCRBY", b"HINCRBX"),
     "Unknown command 'HINCRBX' reading the append only file appendonly.aof.1.incr.aof"),
    (lambda d: d.replace(b"*1\r\n$5\r\nMULTI", b"*1\r\n$5\r\nMULTX"), "Unknown command"),
])
def test_a_corrupt_middle_refuses_to_start_with_a_clear_message(tmp_path, damage, message):
    incr, _ = _written(tmp_path)
    data = incr.read_bytes()
    damaged = damage(data)
    assert damaged != data and len(damaged) == len(data)
    incr.write_bytes(damaged)
    with pytest.raises(AofStartError, match=message.replace("(", r"\(")):
        make_server(tmp_path, Clock(START))
    assert incr.read_bytes() == damaged  # nothing was cut off


def test_only_the_last_file_may_be_torn(tmp_path):
    incr, _ = _written(tmp_path)
    incr.write_bytes(incr.read_bytes()[:-2])
    directory = tmp_path / "appendonlydir"
    (directory / "appendonly.aof.2.incr.aof").write_bytes(b"*2\r\n$3\r\nDEL\r\n$1\r\nt\r\n")
    manifest = Manifest.parse((directory / "appendonly.aof.manifest").read_bytes())
    manifest.incrs.append(AofFile("appendonly.aof.2.incr.aof", 2, "i"))
    (directory / "appendonly.aof.manifest").write_bytes(manifest.format())
    with pytest.raises(AofStartError, match="the truncated file is not the last file"):
        make_server(tmp_path, Clock(START))


def test_a_file_the_manifest_names_must_exist(tmp_path):
    incr, _ = _written(tmp_path)
    incr.unlink()
    with pytest.raises(AofStartError, match=f"{incr.name} named by the manifest"):
        make_server(tmp_path, Clock(START))


def test_a_bad_manifest_refuses_to_start(tmp_path):
    _written(tmp_path)
    (tmp_path / "appendonlydir" / "appendonly.aof.manifest").write_bytes(b"garbage\n")
    with pytest.raises(AofStartError, match="FATAL AOF MANIFEST FILE ERROR"):
        make_server(tmp_path, Clock(START))


# -- a crash at every file operation of a rewrite ---------------------------------------

class Crash(BaseException):
    """The process dies here (nothing catches a BaseException in the AOF code)."""


FILE_OPERATIONS = ("open", "write", "rename", "unlink", "fsync", "ftruncate", "truncate")


@pytest.fixture
def crash_at(monkeypatch):
    """`crash_at(n)` makes the n-th file operation from now on raise Crash; returns a
    function giving the count of operations seen."""
    counter = {"seen": 0, "at": -1}

    def wrap(function):
        def operation(*args, **kwargs):
            counter["seen"] += 1
            if counter["seen"] == counter["at"]:
                raise Crash()
            return function(*args, **kwargs)
        return operation

    for name in FILE_OPERATIONS:
        monkeypatch.setattr(os, name, wrap(getattr(os, name)))
    for module in (aof_module, aof_base):
        monkeypatch.setattr(module, "fdatasync", wrap(module.fdatasync))

    def arm(at: int) -> None:
        counter["seen"] = 0
        counter["at"] = at

    arm.seen = lambda: counter["seen"]  # type: ignore[attr-defined]
    return arm


def _rewrite_with_writes_during_it(server, client, acknowledged: list) -> None:
    """A background rewrite without the fork: a new increment, writes that go to it
    while the 'child' writes the base of the data as it was, then the switch. Each write
    whose reply could go out is added to `acknowledged`."""
    aof = server.aof
    aof._open_new_incr(aof._current_manifest())
    snapshot = copy.deepcopy(server.keyspace.tables)
    deadlines = dict(server.keyspace.deadlines)
    for argv in DURING:
        run(server, client, *argv)
        acknowledged.append(argv)
    directory = aof._directory()
    temp = directory.temp_rewrite_name(12345)
    write_base_file([(0, snapshot, deadlines)], directory.file(temp), incremental_fsync=True)
    assert aof._rewrite_done(temp)
    run(server, client, *AFTER)
    acknowledged.append(AFTER)


def _save(server, client, acknowledged: list) -> None:
    assert run(server, client, "SAVE") == b"+OK\r\n"
    run(server, client, *AFTER)
    acknowledged.append(AFTER)


DURING = (["HSET", "during", "x", "1"], ["HDEL", "t", "a"])
AFTER = ["HSET", "after", "y", "2"]


def _fill(server, client) -> None:
    run(server, client, "HSET", "t", "a", "1", "b", "2")
    run(server, client, "STASH.ENSURE", "pinned")
    run(server, client, "HSET", "big", *[b"f%d" % i for i in range(300) for _ in (0, 1)])
    run(server, client, "PEXPIRE", "big", "3600000")
    run(server, client, "HPEXPIRE", "t", "3600000", "FIELDS", "1", "b")


@pytest.mark.parametrize("kind", ["rewrite", "save"])
def test_a_crash_at_any_file_operation_of_a_rewrite_leaves_files_that_load(
        tmp_path, crash_at, kind):
    rewrite = _rewrite_with_writes_during_it if kind == "rewrite" else _save
    writes = [*DURING, AFTER] if kind == "rewrite" else [AFTER]
    # The states a reload may show: before the rewrite, or after any prefix of the
    # writes made during and after it; never anything else.
    replay = make_server(tmp_path / "replay", Clock(START), appendfsync="always")
    replay_client = Client(replay)
    _fill(replay, replay_client)
    acceptable = [state(replay.keyspace)]
    for argv in writes:
        run(replay, replay_client, *argv)
        acceptable.append(state(replay.keyspace))
    replay.aof.stop()
    # A clean run counts the file operations.
    server = make_server(tmp_path / "clean", Clock(START), appendfsync="always")
    client = Client(server)
    _fill(server, client)
    crash_at(0)
    rewrite(server, client, [])
    operations = crash_at.seen()
    assert operations > 10
    server.aof.stop()
    for at in range(1, operations + 1):
        directory = tmp_path / f"crash{at}"
        server = make_server(directory, Clock(START), appendfsync="always")
        client = Client(server)
        _fill(server, client)
        acknowledged: list = []
        crash_at(at)
        with pytest.raises(Crash):
            rewrite(server, client, acknowledged)
        crash_at(-1)
        if server.aof.fd >= 0:
            os.close(server.aof.fd)
        server.aof.directory.unlock()  # (a crashed process holds no lock)
        reloaded = make_server(directory, Clock(START))
        loaded = state(reloaded.keyspace)
        assert loaded in acceptable, f"crash at file operation {at}"
        assert acceptable.index(loaded) >= len(acknowledged), f"crash at operation {at}"
        reloaded.aof.stop()
        shutil.rmtree(directory)


# -- a failing fsync --------------------------------------------------------------------

@pytest.mark.parametrize("policy", ["always", "everysec"])
def test_a_failed_fsync_refuses_writes_and_writes_the_lost_bytes_again(
        tmp_path, monkeypatch, policy):
    """After a failed fsync the kernel may have thrown the dirty pages away (here: the
    file is cut back, as a lost write-back would leave it). Writes are refused until
    the arbiter has written those bytes again from memory and synced them."""
    from resp_arbiter import aof_fsync

    clock = Clock(START)
    server = make_server(tmp_path, clock, appendfsync=policy)
    aof = server.aof
    client = Client(server)
    run(server, client, "HSET", "t", "before", "1")
    assert poll_until(lambda: len(aof.fsyncer.results) == aof.fsyncer.pending, 5)
    aof._collect_fsyncs()
    aof._sync_now()
    synced = aof.incr_size
    real = aof_fsync.fdatasync
    failures = []

    def failing(fd: int) -> None:
        if not failures:
            failures.append(fd)
            os.ftruncate(fd, synced)  # the unsynced pages are gone
            raise OSError(5, "Input/output error")
        real(fd)

    for module in (aof_module, aof_fsync):
        monkeypatch.setattr(module, "fdatasync", failing)
    monkeypatch.setattr(aof_module, "RETRY_INTERVAL", 0.0)
    aof.last_fsync = 0.0  # an everysec fsync is due
    run(server, client, "HSET", "t", "lost", "2")
    if policy == "everysec":
        assert poll_until(lambda: aof.fsyncer.results, 5)
        aof.cron()
    assert failures
    assert server.deny_writes == "MISCONF Errors writing to the AOF file: Input/output error"
    if policy == "always":
        assert client in aof.held  # its reply waits for the disk
    assert run(server, client, "HSET", "t", "refused", "3").startswith(b"-MISCONF")
    assert run(server, client, "HGET", "t", "lost") == b"$1\r\n2\r\n"  # reads work
    aof.cron()  # the retry: write the held bytes again and sync them
    assert server.deny_writes is None and not aof.held
    run(server, client, "HSET", "t", "after", "4")
    aof.stop()
    reloaded = make_server(tmp_path, Clock(START))
    assert reloaded.keyspace.tables[b"t"].fields == {b"before": b"1", b"lost": b"2",
                                                     b"after": b"4"}
    reloaded.aof.stop()
