"""DuckDB writer: Arrow batches from Polars, inserted inside one transaction per file."""

from __future__ import annotations

import polars as pl

from loaders.ledger import FileKind, LedgerEntry
from loaders.sinks.base import RAW_TABLES, FileLoad, WarehouseSink


class DuckDBSink(WarehouseSink):
    dialect = "duckdb"

    def append_frame(self, table: str, frame: pl.DataFrame) -> None:
        columns = ", ".join(frame.columns)
        self.db.connection.register("arrow_batch", frame.to_arrow())
        try:
            self.db.connection.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM arrow_batch")
        finally:
            self.db.connection.unregister("arrow_batch")

    def drop_load_rows(self, kind: FileKind, load_id: int) -> None:
        self.execute(f"DELETE FROM {RAW_TABLES[kind]} WHERE load_id = ?", (load_id,))

    def new_file_load(self, entry: LedgerEntry) -> FileLoad:
        return _DuckDBFileLoad(self, entry)

    def truncate_raw(self) -> None:
        for table in (*RAW_TABLES.values(), "raw.rejected_rows", "raw.load_ledger"):
            self.execute(f"DELETE FROM {table}")



class _DuckDBFileLoad(FileLoad):
    def write_rows(self, rows: pl.DataFrame) -> None:
        if rows.height:
            self.sink.append_frame(RAW_TABLES[self.entry.file_kind], self.sink.lineage(rows, self.entry))
