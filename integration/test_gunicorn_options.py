"""enable_stash's options: declared once, checked as gunicorn reads the config file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from gunicorn_procs import REPOSITORY

import gunicorn_ext
from gunicorn_ext.options import OPTIONS, StashOptions, arbiter_flags, markdown_table


def enable(**options: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    gunicorn_ext.enable_stash(namespace, **options)
    return namespace


@pytest.mark.parametrize(("typo", "meant"), [
    ("socket_pth", "socket_path"), ("table", "tables"), ("pasword", "password"),
    ("max_clients", "maxclients"), ("idle_timout", "idle_timeout")])
def test_a_typo_names_the_option_meant(typo: str, meant: str) -> None:
    with pytest.raises(TypeError, match=re.escape(
            f"enable_stash() got an unknown option {typo!r}; did you mean {meant!r}?")):
        enable(**{typo: "x"})


def test_an_unknown_option_lists_the_options() -> None:
    with pytest.raises(TypeError, match="the options are socket_path, socket_perm, "):
        enable(zzz=1)


@pytest.mark.parametrize(("options", "error", "text"), [
    ({"maxclients": 0}, ValueError, "argument must be between 1 and 4294967295 inclusive"),
    ({"idle_timeout": -1}, ValueError, "argument must be between 0 and 2147483647 inclusive"),
    ({"proto_max_bulk_len": "12q"}, ValueError, "argument must be a memory value"),
    ({"loglevel": "loud"}, ValueError, "argument(s) must be one of the following: debug, "
                                       "verbose, notice, warning"),
    ({"tables": [""]}, ValueError, "a table name cannot be empty"),
    ({"tables": "sessions"}, TypeError, "a list of table names is needed"),
    ({"socket_perm": 0o1777}, ValueError, "permissions are between 0o000 and 0o777"),
    ({"ready_timeout": 0}, ValueError, "a positive number of seconds is needed"),
    ({"url": 5}, TypeError, "a str is needed, not int"),
    ({"appendfsync": "sometimes"}, ValueError, "argument(s) must be one of the following: "
                                               "everysec, always, no"),
    ({"persist_dir": ""}, ValueError, "a directory is needed"),
    ({"persist_dir": 3}, TypeError, "a str is needed, not int")])
def test_values_the_arbiter_would_refuse_are_refused_when_the_file_is_read(
        options: dict[str, Any], error: type[Exception], text: str) -> None:
    [(name, value)] = options.items()
    with pytest.raises(error, match=re.escape(f"enable_stash({name}={value!r}): {text}")):
        enable(**options)


def test_one_declaration_feeds_the_flags() -> None:
    options = StashOptions(maxclients=50, idle_timeout=7, proto_max_bulk_len="2mb",
                           client_query_buffer_limit="4mb", logfile="/dev/null",
                           socket_perm="770", tables=["a"], extra_args=["--port", 0])
    assert arbiter_flags(options) == [
        "--maxclients", "50", "--timeout", "7", "--proto-max-bulk-len", "2mb",
        "--client-query-buffer-limit", "4mb", "--loglevel", "warning", "--logfile", "/dev/null"]
    assert options.socket_perm == 0o770
    assert options.tables == ("a",) and options.extra_args == ("--port", "0")
    assert [field for field in StashOptions.__dataclass_fields__] == [o.name for o in OPTIONS]
    for option in OPTIONS:
        assert f"    {option.name} (default " in StashOptions.__doc__


def test_persist_dir_turns_on_the_append_only_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    options = StashOptions(persist_dir="data", appendfsync="always")
    # Made absolute when the file is read: gunicorn's `chdir` may move the master later.
    assert options.persist_dir == str(tmp_path / "data")
    assert arbiter_flags(options) == [
        "--loglevel", "warning", "--appendfsync", "always",
        "--appendonly", "yes", "--dir", str(tmp_path / "data")]
    # The fsync policy means nothing without persist_dir, and is not passed.
    assert "--appendfsync" not in arbiter_flags(StashOptions(appendfsync="always"))


def test_the_documentation_shows_the_declared_options() -> None:
    page = (REPOSITORY / "docs" / "gunicorn_ext.md").read_text()
    assert markdown_table() in page, "regenerate it: python -m gunicorn_ext.options"
