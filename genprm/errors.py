"""Errors meant for the user. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class GenPRMError(Exception):
    """Base class of errors that are the caller's to fix (bad input, bad option), not bugs."""


class InputError(GenPRMError):
    """A file or one of its rows cannot be read as solutions.

    Args:
        message: what is wrong, in a few words.
        path: the file, when there is one.
        row: 1-based row (JSONL line or JSON list element), when the problem is in one row.
    """

    def __init__(self, message: str, path: str | None = None, row: int | None = None) -> None:
        self.message, self.path, self.row = message, path, row
        where = path or "<input>"
        if row is not None:
            where += f", row {row}"
        super().__init__(f"{where}: {message}")


class ConfigError(GenPRMError, ValueError):
    """An option is out of range. Names the option, the valid values and the value received."""

    def __init__(self, parameter: str, expected: str, value: object) -> None:
        self.parameter, self.value = parameter, value
        super().__init__(f"{parameter} must be {expected}, got {value!r}.")
