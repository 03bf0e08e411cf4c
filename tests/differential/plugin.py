"""Counts differential cases, so that a run ends with "N cases, M agree".

Registered by the differential test modules through `pytest_plugins`."""

from __future__ import annotations

_TALLY = {"run": 0, "agree": 0}


def record(agreed: bool) -> None:
    """Count one case run over one protocol."""
    _TALLY["run"] += 1
    _TALLY["agree"] += int(agreed)


def pytest_terminal_summary(terminalreporter) -> None:
    if _TALLY["run"]:
        terminalreporter.write_sep(
            "-", f"differential: {_TALLY['run']} cases over RESP2+RESP3 against "
                 f"redis-server, {_TALLY['agree']} agree")
