"""DuckDB writer: Arrow batches from Polars, inserted inside one transaction per file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from loaders.ledger import FileKind, LedgerEntry
from loaders.sinks.base import RAW_TABLES, FileLoad, WarehouseSink


class DuckDBSink(WarehouseSink):
    dialect = "duckdb"

    def __init__(self, path: Path, config: Mapping[str, str | int] | None = None):
        path.parent.mkdir(parents=True, exist_ok=True)
        # DuckDB admits one writing process per file: a second loader fails here at once.
        # `config` caps memory and threads (settings.duckdb_config).
        self.conn = duckdb.connect(str(path), config=dict(config or {}))

    def execute(self, statement: str, params: tuple = ()) -> list[tuple]:
        result = self.conn.execute(statement, list(params) if params else None)
        return result.fetchall() if result.description else []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.begin()
        try:
            yield
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def append_frame(self, table: str, frame: pl.DataFrame) -> None:
        columns = ", ".join(frame.columns)
        self.conn.register("arrow_batch", frame.to_arrow())
        try:
            self.conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM arrow_batch")
        finally:
            self.conn.unregister("arrow_batch")

    def drop_load_rows(self, kind: FileKind, load_id: int) -> None:
        self.execute(f"DELETE FROM {RAW_TABLES[kind]} WHERE load_id = ?", (load_id,))

    def new_file_load(self, entry: LedgerEntry) -> FileLoad:
        return _DuckDBFileLoad(self, entry)

    def truncate_raw(self) -> None:
        for table in (*RAW_TABLES.values(), "raw.rejected_rows", "raw.load_ledger"):
            self.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        self.conn.close()


class _DuckDBFileLoad(FileLoad):
    def write_rows(self, rows: pl.DataFrame) -> None:
        if rows.height:
            self.sink.append_frame(RAW_TABLES[self.entry.file_kind], self.sink.lineage(rows, self.entry))
