"""The one small interface every warehouse writer implements.

A sink writes the raw tables and the ledger over a connection it is given
(kernel.database); it opens none itself and reads nothing but the ledger. The ledger
logic (which load is current, replacing, recording failures) is the same SQL on both
warehouses and lives here; a sink supplies only its bulk write path and how it drops one
load's rows.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from kernel.migrations import apply_migrations
from loaders.dump_kinds import DUMP_KINDS
from loaders.ledger import LEDGER_COLUMNS, FileKind, LedgerEntry, LedgerState, SourceFile

if TYPE_CHECKING:
    from kernel.database import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

RAW_TABLES: dict[str, str] = {kind.name: kind.raw_table for kind in DUMP_KINDS}
LINEAGE_COLUMNS = ("load_id", "source_file", "line_number", "loaded_at")


class FileLoad(abc.ABC):
    """One file's load, inside one transaction: rows, rejects, then the ledger row."""

    def __init__(self, sink: WarehouseSink, entry: LedgerEntry):
        self.sink = sink
        self.entry = entry

    @property
    def load_id(self) -> int:
        return self.entry.load_id

    @property
    def loaded_at(self) -> datetime:
        return self.entry.started_at

    def supersede(self, previous: LedgerEntry) -> None:
        """Remove the rows of the file's previous load and mark that load `replaced`."""
        self.sink.drop_load_rows(previous.file_kind, previous.load_id)
        self.sink.execute("DELETE FROM raw.rejected_rows WHERE load_id = ?", (previous.load_id,))
        self.sink.execute("UPDATE raw.load_ledger SET status = 'replaced' WHERE load_id = ?", (previous.load_id,))

    @abc.abstractmethod
    def write_rows(self, rows: pl.DataFrame) -> None:
        """Append typed rows (the file kind's columns plus `line_number`)."""

    def write_rejects(self, rejects: pl.DataFrame) -> None:
        if rejects.height == 0:
            return
        frame = rejects.select(
            pl.lit(self.load_id, pl.Int64).alias("load_id"),
            pl.lit(self.entry.source_file).alias("source_file"),
            pl.lit(self.entry.file_kind).alias("file_kind"),
            "line_number", "raw_line", "reason",
            pl.lit(self.loaded_at, pl.Datetime("us", "UTC")).alias("loaded_at"),
        )
        self.sink.append_frame("raw.rejected_rows", frame)

    def finish(self, rows_loaded: int, rows_rejected: int) -> LedgerEntry:
        self.entry.rows_loaded = rows_loaded
        self.entry.rows_rejected = rows_rejected
        self.entry.rows_read = rows_loaded + rows_rejected
        self.entry.finished_at = datetime.now(UTC)
        self.sink.insert_ledger(self.entry)
        return self.entry


class WarehouseSink(abc.ABC):
    """The raw tables' writer over one open connection (the loader's)."""

    dialect: str

    def __init__(self, db: Database):
        self.db = db

    def execute(self, statement: str, params: tuple = ()) -> list[tuple]:
        """Run one statement with `?` placeholders and return its rows (if any)."""
        return self.db.execute(statement, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.db.transaction():
            yield

    # --- supplied by each warehouse -------------------------------------------------
    @abc.abstractmethod
    def append_frame(self, table: str, frame: pl.DataFrame) -> None:
        """Bulk-append a frame whose columns are named as the table's."""

    @abc.abstractmethod
    def drop_load_rows(self, kind: FileKind, load_id: int) -> None:
        """Delete every raw row of one load."""

    @abc.abstractmethod
    def new_file_load(self, entry: LedgerEntry) -> FileLoad: ...

    @abc.abstractmethod
    def truncate_raw(self) -> None:
        """Empty every raw table and the ledger (a reseed)."""

    # --- shared ---------------------------------------------------------------------
    def ledger_state(self, source_file: str) -> LedgerState:
        columns = ", ".join(LEDGER_COLUMNS)
        current = self.execute(
            f"SELECT {columns} FROM raw.load_ledger WHERE source_file = ? AND status = 'loaded' "
            "ORDER BY load_id DESC LIMIT 1", (source_file,))
        latest = self.execute(
            f"SELECT {columns} FROM raw.load_ledger WHERE source_file = ? ORDER BY load_id DESC LIMIT 1",
            (source_file,))
        return LedgerState(
            current=LedgerEntry.from_row(current[0]) if current else None,
            latest=LedgerEntry.from_row(latest[0]) if latest else None,
        )

    def next_load_id(self) -> int:
        return self.execute("SELECT nextval('raw.load_id_seq')")[0][0]

    def start_entry(self, source: SourceFile) -> LedgerEntry:
        return LedgerEntry(
            load_id=self.next_load_id(), source_file=source.name, file_kind=source.kind,
            size_bytes=source.size_bytes, sha256=source.sha256, started_at=datetime.now(UTC),
        )

    def insert_ledger(self, entry: LedgerEntry) -> None:
        placeholders = ", ".join("?" for _ in LEDGER_COLUMNS)
        self.execute(f"INSERT INTO raw.load_ledger ({', '.join(LEDGER_COLUMNS)}) VALUES ({placeholders})",
                     entry.as_row())

    def record_failure(self, entry: LedgerEntry, error: str) -> None:
        """A `failed` ledger row, in a transaction of its own, after the load rolled back."""
        entry.status = "failed"
        entry.error = error
        entry.rows_read = entry.rows_loaded = entry.rows_rejected = 0
        entry.finished_at = datetime.now(UTC)
        with self.transaction():
            self.insert_ledger(entry)

    def lineage(self, frame: pl.DataFrame, entry: LedgerEntry) -> pl.DataFrame:
        """`frame` with the load's lineage columns appended."""
        return frame.with_columns(
            pl.lit(entry.load_id, pl.Int64).alias("load_id"),
            pl.lit(entry.source_file).alias("source_file"),
            pl.lit(entry.started_at, pl.Datetime("us", "UTC")).alias("loaded_at"),
        )


def migrate_raw(db: Database) -> list[str]:
    """Apply the raw schema's versioned migrations that this warehouse lacks.

    The Spark target's loader writes files: its "migration" creates the lake's folders
    (its tables are defined in Spark's metastore by `loaders.sinks.spark.register_raw_tables`).
    """
    if db.dialect == "spark":
        from loaders.sinks.spark import prepare_lake

        return prepare_lake(db.warehouse.require_spark().raw_dir)
    return apply_migrations(db, MIGRATIONS_DIR, schema="raw")
