"""Workers of another user, squatted socket names, and refused connections.

Running workers as another user needs a root master. CI runs as root, so there these
tests must run: without root they fail when `CI` is set, and are skipped on a
developer's machine, where not being root is normal and says nothing about the code.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from gunicorn_procs import Gunicorn, config_text, redis_cli, start_arbiter, start_redis, wait_until

from gunicorn_ext import astash, stash
from gunicorn_ext.supervisor import ping

NOBODY = pwd.getpwnam("nobody")


def require_root() -> None:
    if os.geteuid() == 0:
        return
    if os.environ.get("CI"):
        pytest.fail("this test needs root, and CI runs as root: something is wrong")
    pytest.skip("needs root (workers of another user); CI runs it")


def ids(pid: int) -> tuple[int, int]:
    """The effective uid and gid of a process."""
    found = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid"):
                found[key] = int(value.split()[1])
    return found["Uid"], found["Gid"]


def owner_and_mode(path: str) -> tuple[int, int, int]:
    info = os.lstat(path)
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


def environment_without_runtime_dir() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("XDG_RUNTIME_DIR", "GUNICORN_STASH_URL", "GUNICORN_STASH_MASTER",
                         "GUNICORN_STASH_DIR")}


# The interpreter may be installed where only root can read it (a pyenv in root's home),
# so a worker that became nobody cannot import what it has not imported yet. gunicorn runs
# post_fork before the worker drops root: the first stash call is made there, and its
# connection closed, so every connection the test sees is made as nobody.
WARM_UP = """
def post_fork(server, worker):
    import gunicorn_apps
    from gunicorn_ext import stash
    stash.exists("warm-up")
    stash.close()
"""


def test_workers_of_another_user_use_the_stash(gunicorn: Callable[..., Gunicorn]) -> None:
    require_root()
    gid = NOBODY.pw_gid  # nobody's own group: nogroup on Debian
    master = gunicorn(config_text(workers=2, options="tables=['boot']", before=WARM_UP),
                      args=["-u", "nobody", "-g", str(gid)],
                      env=environment_without_runtime_dir()).wait_ready()
    [(arbiter, sock)] = master.announced()
    directory = os.path.dirname(sock)
    assert directory.startswith(os.path.join(tempfile.gettempdir(),
                                             f"gunicorn-stash-{master.pid}-"))
    wait_until(lambda: [ids(w) for w in master.workers()] == [(NOBODY.pw_uid, gid)] * 2, 15,
               "both workers to run as nobody")
    # The socket is the workers'; the directory lets them reach it but not replace it.
    assert owner_and_mode(sock) == (NOBODY.pw_uid, gid, 0o700)
    assert owner_and_mode(directory) == (0, gid, 0o710)
    assert ids(arbiter) == (0, gid)

    master.get("/put", table="t", key="k", value='{"a": 1}')
    assert master.get("/get", table="t", key="k")["value"] == {"a": 1}
    assert [master.get("/incr", table="c", key="n")["value"] for _ in range(4)] == [1, 2, 3, 4]
    assert redis_cli(sock, "EXISTS", "boot").strip() == "1"

    # A restart while workers keep asking: the new socket is open to them at once. (Puts:
    # an increment cut off by the SIGKILL would rightly raise "outcome unknown".)
    errors: list[BaseException] = []
    answered = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                answered.append(master.get("/put", table="during", key="n", value="1"))
            except BaseException as error:
                errors.append(error)
                return

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        os.kill(arbiter, signal.SIGKILL)
        wait_until(lambda: len(master.announced()) == 2, 15, "the restart")
        after = len(answered)
        wait_until(lambda: len(answered) > after + 5 or errors, 15, "answers after it")
    finally:
        stop.set()
        asker.join(30)
    assert errors == []
    [_, (new_arbiter, new_sock)] = master.announced()
    assert new_sock == sock and ids(new_arbiter) == (0, gid)
    assert owner_and_mode(sock) == (NOBODY.pw_uid, gid, 0o700)

    master.signal(signal.SIGTERM)
    assert master.wait_exit() == 0
    assert not os.path.lexists(sock) and not os.path.lexists(directory)


def test_squatted_names_at_the_old_default_path_do_not_stop_gunicorn(
        gunicorn: Callable[..., Gunicorn], short_dir: Path) -> None:
    """Another local user could make `/tmp/gunicorn-stash-<pid>.sock` for the pids to come
    (a live socket, or a plain file): neither stops gunicorn nor is touched by it."""
    squatter = start_redis(short_dir, name="squatter")
    tmp = tempfile.gettempdir()
    with open("/proc/sys/kernel/ns_last_pid") as last:
        first = int(last.read()) + 1
    made: list[Path] = []
    try:
        for pid in range(first, first + 400):
            name = Path(tmp, f"gunicorn-stash-{pid}.sock")
            try:
                if pid % 2:
                    name.symlink_to(squatter.socket_path)
                else:
                    with open(name, "x") as plain:
                        plain.write("not a socket")
            except FileExistsError:
                continue
            made.append(name)
        master = gunicorn(config_text(workers=1),
                          env=environment_without_runtime_dir()).wait_ready()
        old_name = Path(tmp, f"gunicorn-stash-{master.pid}.sock")
        assert old_name in made, "the pids to come were mispredicted: nothing was squatted"
        [(_, sock)] = master.announced()
        directory = os.path.dirname(sock)
        assert directory.startswith(os.path.join(tmp, f"gunicorn-stash-{master.pid}-"))
        assert owner_and_mode(directory) == (os.geteuid(), os.getegid(), 0o700)
        master.get("/put", table="t", key="k", value="7")
        assert redis_cli(sock, "HGET", "t", "k").strip() == "7"
        assert redis_cli(squatter.socket_path, "EXISTS", "t").strip() == "0"
        assert all(os.path.lexists(name) for name in made)
        assert ping(str(old_name)) == (master.pid % 2 == 1)
        master.signal(signal.SIGTERM)
        assert master.wait_exit() == 0
        assert not os.path.lexists(directory)
    finally:
        for name in made:
            name.unlink(missing_ok=True)
        squatter.stop()


def test_permission_denied_is_reported_at_once(short_dir: Path) -> None:
    """Not a connection problem to wait out: both APIs raise at once, saying what to change.

    The client is a forked child: as root it becomes nobody (the socket is root's, 0700);
    otherwise the socket's mode is set to 0 so that even its owner is refused.
    """
    server = start_arbiter(short_dir, name="private")
    stash.configure(url=server.url, retry_timeout=5.0)
    try:
        # Every module the refused path needs is imported before the child drops root.
        stash.put("t", "k", 1)
        asyncio.run(astash.get("t", "k"))
        if os.geteuid() != 0:
            os.chmod(server.socket_path, 0)
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(read_end)
            os._exit(_refused_child(write_end))
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            reports = json.loads(pipe.read() or "[]")
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.chmod(server.socket_path, 0o700)
        stash.close()
        stash.configure(url=None)
        server.stop()
    assert [api for api, _, _ in reports] == ["stash", "astash"]
    for _, seconds, message in reports:
        assert seconds < 1.0, message
        assert message.startswith(f"permission denied on the stash socket {server.socket_path}")
        assert "Run the workers as the user the socket belongs to" in message
        assert "socket_perm" in message


def _refused_child(out: int) -> int:
    """In the forked child: call both APIs once, report (api, seconds, message) as JSON."""
    if os.geteuid() == 0:
        os.setgid(NOBODY.pw_gid)
        os.setuid(NOBODY.pw_uid)
    reports = []
    for api, call in (("stash", lambda: stash.get("t", "k")),
                      ("astash", lambda: asyncio.run(astash.get("t", "k")))):
        started = time.monotonic()
        try:
            call()
        except stash.StashError as error:
            reports.append((api, time.monotonic() - started, str(error)))
    os.write(out, json.dumps(reports).encode())
    return 0
