"""Failures the loaders raise. Each names the file, the line (and column where it helps),
what was expected there and what was found."""

from __future__ import annotations

from pathlib import Path

# A value shown in a message is cut here: a broken line can be megabytes long.
SHOWN_CHARACTERS = 40


class LoaderError(Exception):
    """Base class: anything that stops a file from loading."""


class UnreadableFileError(LoaderError):
    """A source file cannot be read at all: wrong header, not JSON, not UTF-8, not an array.

    The message reads `<file>, line <n>[, column <c>]: expected <what>, found <what>`.
    Nothing of such a file is loaded; the ledger records a `failed` row with this message.
    """

    def __init__(self, path: Path, *, expected: str, found: str, line: int | None = None,
                 column: int | None = None):
        self.path = path
        self.expected = expected
        self.found = found
        self.line = line
        self.column = column
        where = path.name
        if line is not None:
            where += f", line {line}"
            if column is not None:
                where += f", column {column}"
        super().__init__(f"{where}: expected {expected}, found {found}")


def shown(text: str) -> str:
    """`text` quoted for a message, cut to its first characters if it is long."""
    if len(text) <= SHOWN_CHARACTERS:
        return repr(text)
    return f"{text[:SHOWN_CHARACTERS]!r}... ({len(text)} characters)"


def shown_bytes(data: bytes) -> str:
    """Bytes that are not text, as hex, for a message."""
    return "bytes " + data.hex(" ")
