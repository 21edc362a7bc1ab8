"""The load ledger: what was loaded, from which file, with what counts.

One row per attempt to load a file (`raw.load_ledger`). A file whose sha256 matches
its current `loaded` row is skipped; a changed file gets a new load that marks the
old one `replaced`; a file that cannot be read gets a `failed` row and nothing else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

FileKind = Literal["assets", "signals", "measurements"]
LedgerStatus = Literal["loaded", "replaced", "failed"]

LEDGER_COLUMNS = (
    "load_id", "source_file", "file_kind", "size_bytes", "sha256", "rows_read", "rows_loaded",
    "rows_rejected", "started_at", "finished_at", "status", "error",
)


@dataclass(frozen=True)
class SourceFile:
    """A dump file on disk with its identity: name, kind, size and content checksum."""

    path: Path
    kind: FileKind
    size_bytes: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def fingerprint(cls, path: Path, kind: FileKind) -> SourceFile:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
        return cls(path=path, kind=kind, size_bytes=path.stat().st_size, sha256=digest.hexdigest())


@dataclass
class LedgerEntry:
    load_id: int
    source_file: str
    file_kind: FileKind
    size_bytes: int
    sha256: str
    started_at: datetime
    status: LedgerStatus = "loaded"
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    finished_at: datetime | None = None
    error: str | None = None

    @classmethod
    def from_row(cls, row: tuple) -> LedgerEntry:
        return cls(**dict(zip(LEDGER_COLUMNS, row, strict=True)))

    def as_row(self) -> tuple:
        return tuple(getattr(self, column) for column in LEDGER_COLUMNS)


@dataclass(frozen=True)
class LedgerState:
    """What the ledger knows of one file: its current load and its latest attempt."""

    current: LedgerEntry | None = None
    latest: LedgerEntry | None = None
