"""The command line and configuration files: a password kept out of the process list, the
redis.conf syntax, CONFIG REWRITE, one-line fatal errors and redis-server's exit codes.

Most tests start real arbiters; a few read a configuration in-process for speed.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from servers import ServerProcess, require_binary, start_arbiter

from resp_arbiter.cli import load_config
from resp_arbiter.conffile import ConfigFileError

PASSWORD = "s3cret-Pa55"
HUGE = "9" * 5000
TIMEOUT = 30


def _arbiter_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "resp_arbiter", *args]


def _start_with_file(directory: Path, config_file: Path, *options: str,
                     name: str = "arbiter") -> ServerProcess:
    """An arbiter whose first argument is `config_file`; the file names its socket."""
    socket_path = str(directory / f"{name}.sock")
    argv = _arbiter_command(str(config_file), "--parent-pid", str(os.getpid()), *options)
    return ServerProcess(argv, socket_path, directory / f"{name}.log")


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _fails(*args: str, stdin: bytes = b"") -> str:
    """Run an arbiter that must refuse to start: exit code 1, one line, no traceback."""
    done = subprocess.run(_arbiter_command(*args), input=stdin, capture_output=True,
                          timeout=TIMEOUT)
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output
    return output.strip()


# -- the password and the process list -----------------------------------------------

@pytest.mark.parametrize("spelling", [["--requirepass", PASSWORD], [f"--requirepass={PASSWORD}"]])
def test_requirepass_is_hidden_from_the_process_list(tmp_path: Path, spelling: list[str]) -> None:
    with start_arbiter(tmp_path, *spelling, "--timeout", "7") as arbiter:
        cmdline = _cmdline(arbiter.pid)
        assert PASSWORD.encode() not in cmdline
        assert b"--requirepass" in cmdline and b"--timeout 7" in cmdline.replace(b"\0", b" ")
        ps = subprocess.run(["ps", "-o", "args=", "-p", str(arbiter.pid)],
                            capture_output=True, check=True, timeout=TIMEOUT).stdout
        assert PASSWORD.encode() not in ps and b"resp_arbiter" in ps
        with redis.Redis(unix_socket_path=arbiter.socket_path, password=PASSWORD) as client:
            assert client.ping()
            assert client.config_get("timeout") == {"timeout": "7"}


def test_console_script_hides_the_password_too(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("resp-arbiter")
    assert script.exists(), "the package is not installed (pip install -e .)"
    socket_path = str(tmp_path / "arbiter.sock")
    argv = [str(script), "--unixsocket", socket_path, "--parent-pid", str(os.getpid()),
            "--requirepass", PASSWORD]
    with ServerProcess(argv, socket_path, tmp_path / "arbiter.log") as arbiter, \
            redis.Redis(unix_socket_path=socket_path, password=PASSWORD) as client:
        assert client.ping()
        cmdline = _cmdline(arbiter.pid)
        assert PASSWORD.encode() not in cmdline and b"--requirepass ***" in cmdline


def test_without_a_password_the_arguments_are_left_alone(tmp_path: Path) -> None:
    with start_arbiter(tmp_path, "--timeout", "7") as arbiter:
        assert _cmdline(arbiter.pid).endswith(b"\0--timeout\x007\0")


# -- configuration files ------------------------------------------------------------

def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_config_file_settings_and_command_line_overrides(tmp_path: Path) -> None:
    include = _write(tmp_path / "limits.conf", "maxclients 77\nproto-max-bulk-len 2mb\n")
    conf = _write(tmp_path / "arbiter.conf", f"""\
# the arbiter's settings
unixsocket {tmp_path / "arbiter.sock"}
   # an indented comment, then a blank line

requirepass "pass with \\"quotes\\" and spaces\\x21"
TIMEOUT 5
loglevel 'WARNING'
include {include}
client-query-buffer-limit 2GB\r
""")
    with _start_with_file(tmp_path, conf, "--timeout", "9") as arbiter:
        assert PASSWORD.encode() not in _cmdline(arbiter.pid)
        password = 'pass with "quotes" and spaces!'
        with redis.Redis(unix_socket_path=arbiter.socket_path, password=password) as client:
            values = client.config_get("*")
            assert values["timeout"] == "9"  # the command line wins
            assert values["maxclients"] == "77"
            assert values["proto-max-bulk-len"] == str(2 * 1024**2)
            assert values["client-query-buffer-limit"] == str(2 * 1024**3)
            assert values["loglevel"] == "warning"
            assert client.info("server")["config_file"] == str(conf)


def test_relative_config_file_is_reported_absolute(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "arbiter.conf", "timeout 3\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(["arbiter.conf", "--maxclients", "5"])
    assert config.config_file == str(tmp_path / "arbiter.conf")
    assert (config["timeout"], config["maxclients"]) == (3, 5)


def test_config_from_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"timeout 4\nsave ''\n")))
    config = load_config(["-"])
    assert config["timeout"] == 4
    assert config.config_file == ""  # nothing to rewrite


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("timeout 5\nnosuch 1\n", 2, "'nosuch 1': Bad directive or wrong number of arguments"),
    ("# c\n\nmaxclients abc\n", 3, "'maxclients abc': argument couldn't be parsed into an "
                                   "integer"),
    (f"maxclients {HUGE}\n", 1, "argument couldn't be parsed into an integer"),
    (f"timeout {HUGE}\n", 1, "argument couldn't be parsed into an integer"),
    (f"proto-max-bulk-len {HUGE}\n", 1, "argument must be a memory value"),
    ("maxclients 7 8\n", 1, "'maxclients 7 8': wrong number of arguments"),
    ("maxclients\n", 1, "'maxclients': wrong number of arguments"),
    ("timeout \"5\n", 1, "Unbalanced quotes in configuration line"),
    ("loglevel loud\n", 1, "argument(s) must be one of the following: debug, verbose, "
                           "notice, warning"),
])
def test_config_file_errors_are_one_fatal_line(tmp_path: Path, text: str, line: int,
                                               reason: str) -> None:
    conf = _write(tmp_path / "bad.conf", text)
    message = _fails(str(conf))
    assert message.startswith(f"*** FATAL CONFIG FILE ERROR *** {conf}, line {line}: >>> ")
    assert message.endswith(reason)
    assert len(message) < 300  # a 5000-digit value is shortened


def test_config_file_error_never_shows_the_password(tmp_path: Path) -> None:
    conf = _write(tmp_path / "bad.conf", f'requirepass "{PASSWORD}\n')
    message = _fails(str(conf))
    assert PASSWORD not in message
    assert message.endswith("'requirepass': Unbalanced quotes in configuration line")


def test_config_file_error_in_an_included_file_names_it(tmp_path: Path) -> None:
    included = _write(tmp_path / "inc.conf", "timeout 1\ntimeout x\n")
    conf = _write(tmp_path / "main.conf", f"include {included}\n")
    assert f"{included}, line 2: >>> 'timeout x'" in _fails(str(conf))
    loop = _write(tmp_path / "loop.conf", f"include {tmp_path / 'loop.conf'}\n")
    assert "nested includes" in _fails(str(loop))


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.conf"
    assert _fails(str(missing)) == (f"Fatal error, can't open config file '{missing}': "
                                    "No such file or directory")


def test_config_file_comes_first(tmp_path: Path) -> None:
    assert _fails("--timeout", "1", "x.conf") == \
        "resp-arbiter: unrecognized arguments: x.conf (see --help)"


# -- CONFIG REWRITE -----------------------------------------------------------------

def test_config_rewrite_keeps_comments_and_round_trips(tmp_path: Path) -> None:
    include = _write(tmp_path / "extra.conf", "maxclients 50\n")
    conf = _write(tmp_path / "arbiter.conf", f"""\
# Arbiter for the shop
unixsocket {tmp_path / "arbiter.sock"}
  # timeouts
timeout 5
timeout 6
include {include}
loglevel notice
""")
    tricky = 'a "b" \\ c\n\x01é'
    with _start_with_file(tmp_path, conf) as arbiter, \
            redis.Redis(unix_socket_path=arbiter.socket_path) as client:
        client.config_set("timeout", 0)
        client.config_set("proto-max-bulk-len", "2mb")
        client.config_set("client-query-buffer-limit", 1024**2 + 1)
        client.config_set("maxclients", 60)
        client.config_set("requirepass", tricky)
        client.execute_command("AUTH", tricky)
        assert client.execute_command("CONFIG", "REWRITE") == b"OK"
        before = client.config_get("*")
    assert "CONFIG REWRITE executed with success." in arbiter.log_path.read_text()
    assert conf.read_text() == f"""\
# Arbiter for the shop
unixsocket "{tmp_path / "arbiter.sock"}"
# timeouts
timeout 0
include {include}
loglevel notice

# Generated by CONFIG REWRITE
requirepass "a \\"b\\" \\\\ c\\n\\x01\\xc3\\xa9"
maxclients 60
proto-max-bulk-len 2mb
client-query-buffer-limit 1048577
"""
    with _start_with_file(tmp_path, conf) as again, \
            redis.Redis(unix_socket_path=again.socket_path, password=tricky) as client:
        assert client.config_get("*") == before
        assert client.execute_command("CONFIG", "REWRITE") == b"OK"
    assert conf.read_text().count("# Generated by CONFIG REWRITE") == 1


def test_config_rewrite_failure_is_reported(tmp_path: Path) -> None:
    directory = tmp_path / "conf.d"
    directory.mkdir()
    conf = _write(directory / "arbiter.conf", f"unixsocket {tmp_path / 'arbiter.sock'}\n")
    with _start_with_file(tmp_path, conf) as arbiter, \
            redis.Redis(unix_socket_path=arbiter.socket_path) as client:
        conf.unlink()
        directory.rmdir()
        with pytest.raises(redis.ResponseError,
                           match=r"^Rewriting config file: No such file or directory$"):
            client.execute_command("CONFIG", "REWRITE")
        assert client.ping()


# -- command-line errors and exit codes ----------------------------------------------

@pytest.mark.parametrize(("args", "expected"), [
    (["--maxclients", HUGE], "argument couldn't be parsed into an integer"),
    (["--timeout", HUGE], "argument couldn't be parsed into an integer"),
    (["--proto-max-bulk-len", HUGE], "argument must be a memory value"),
    (["--client-query-buffer-limit", HUGE + "kb"], "argument must be a memory value"),
    (["--timeout", "-1"], "--timeout -1: argument must be between 0 and 2147483647 "
                          "inclusive"),
    (["--loglevel", "loud"], "argument(s) must be one of the following: debug, verbose, "
                             "notice, warning"),
    (["--requirepass", PASSWORD, "--maxclients", "0"], "--maxclients 0: argument must be "
                                                       "between 1 and 4294967295 inclusive"),
    (["--nosuch", "1"], "resp-arbiter: unrecognized arguments: --nosuch 1 (see --help)"),
    (["--requirep", "x"], "unrecognized arguments: --requirep x"),
])
def test_bad_options_are_one_line_and_exit_1(args: list[str], expected: str) -> None:
    message = _fails("--unixsocket", "/nonexistent/never.sock", *args)
    assert expected in message
    assert PASSWORD not in message
    assert len(message) < 300


def test_bad_logfile_is_one_line(tmp_path: Path) -> None:
    logfile = tmp_path / "no-such-dir" / "arbiter.log"
    assert _fails("--unixsocket", str(tmp_path / "a.sock"), "--logfile", str(logfile)) == (
        f"resp-arbiter: Can't open the log file {logfile}: No such file or directory")


def test_value_may_start_with_a_dash(tmp_path: Path) -> None:
    with start_arbiter(tmp_path, "--requirepass", "-dash") as arbiter, \
            redis.Redis(unix_socket_path=arbiter.socket_path, password="-dash") as client:
        assert client.ping()


def _redis_exit_code(*args: str, cwd: Path) -> int:
    return subprocess.run([require_binary("redis-server"), *args], capture_output=True,
                          timeout=TIMEOUT, cwd=cwd).returncode


def test_exit_codes_match_redis_server(tmp_path: Path) -> None:
    """Bad option, bad configuration file, failed bind: redis-server exits with 1, and so
    does the arbiter (never 3 or 4, which gunicorn up to 26.0 reads as a failed boot)."""
    bad_conf = _write(tmp_path / "bad.conf", "maxclients abc\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        cases = {
            "bad option": (["--port", "0", "--maxclients", "abc"],
                           ["--unixsocket", str(tmp_path / "a.sock"), "--maxclients", "abc"]),
            "bad config file": ([str(bad_conf)], [str(bad_conf)]),
            "bind failure": (["--port", port, "--bind", "127.0.0.1", "--save", ""],
                             ["--port", port, "--bind", "127.0.0.1"]),
        }
        for what, (redis_args, arbiter_args) in cases.items():
            done = subprocess.run(_arbiter_command(*arbiter_args), capture_output=True,
                                  timeout=TIMEOUT)
            assert (what, _redis_exit_code(*redis_args, cwd=tmp_path)) == (what, 1)
            assert (what, done.returncode) == (what, 1)
    # A fatal startup error is logged at error level.
    assert b"ERROR cannot start: could not bind 127.0.0.1:" in done.stdout


def test_help_shows_defaults_and_choices() -> None:
    done = subprocess.run(_arbiter_command("--help"), capture_output=True, timeout=TIMEOUT,
                          check=True)
    text = " ".join(done.stdout.decode().split())
    assert "usage: resp-arbiter [CONFIG_FILE] [--option value ...]" in text
    assert "--loglevel {debug,verbose,notice,warning} log verbosity (default: notice)" in text
    assert "(default: 512mb; units b, k, kb, m, mb, g, gb)" in text
    assert "(default: 1gb;" in text
    assert "--maxclients N most clients at once (default: 10000)" in text
    assert "(default: standard output)" in text
    assert "(default: 700)" in text


def test_config_file_error_raised_in_process(tmp_path: Path) -> None:
    conf = _write(tmp_path / "a.conf", "timeout x\n")
    with pytest.raises(ConfigFileError, match=r"line 1: >>> 'timeout x'"):
        load_config([str(conf)])


def test_example_config_file_is_valid() -> None:
    example = Path(__file__).parent.parent / "examples" / "arbiter.conf"
    config = load_config([str(example)])
    assert config["requirepass"] == "change me"
    assert config["unixsocket"] == "/tmp/resp-arbiter.sock"
    assert config["proto-max-bulk-len"] == 512 * 1024**2
