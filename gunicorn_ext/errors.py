"""The stash's exceptions, named and shaped as gunicorn documents them for its own stash."""

from __future__ import annotations


class StashError(Exception):
    """Base exception for stash operations: every stash failure is one of these."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class StashTableNotFoundError(StashError):
    """Raised when a table does not exist (for example by `info()` of a missing table)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        super().__init__(f"Stash table not found: {table_name}")


class StashKeyNotFoundError(StashError, KeyError):
    """Raised when a key does not exist in a table.

    It is also a `KeyError`, so `StashTable[missing]` raises what a dict would, as
    gunicorn documents, while still carrying the table and key.
    """

    def __init__(self, table_name: str, key: str) -> None:
        self.table_name = table_name
        self.key = key
        StashError.__init__(self, f"Key not found in {table_name}: {key}")


class StashOutcomeUnknownError(StashError):
    """An operation that must not run twice (`incr`, `delete`) lost its connection, or
    timed out, after it may have reached the server: it may or may not have run. It is
    never sent again on its own, so a counter never counts one call twice."""
