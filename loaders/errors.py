"""Failures the loaders raise. Each names the file and, where known, the line and value."""

from __future__ import annotations

from pathlib import Path


class LoaderError(Exception):
    """Base class: anything that stops a file from loading."""


class UnreadableFileError(LoaderError):
    """A source file cannot be read at all: wrong header, not JSON, not UTF-8, not an array.

    Nothing of such a file is loaded; the ledger records a `failed` row with this message.
    """

    def __init__(self, path: Path, problem: str, *, line: int | None = None, value: str | None = None):
        self.path = path
        self.problem = problem
        self.line = line
        self.value = value
        where = f"{path.name}" + (f", line {line}" if line is not None else "")
        shown = f": {value!r}" if value is not None else ""
        super().__init__(f"{where}: {problem}{shown}")
