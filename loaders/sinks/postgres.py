"""PostgreSQL writer: COPY through psycopg 3, one partition of raw.measurements per load."""

from __future__ import annotations

import io
import numpy as np
import polars as pl
import psycopg
from psycopg import sql

from loaders.ledger import FileKind, LedgerEntry
from loaders.sinks.base import RAW_TABLES, FileLoad, WarehouseSink

TIMESTAMP_TEXT = "%Y-%m-%d %H:%M:%S%.6f"

# PostgreSQL's binary COPY format: signature, flags, header extension length; trailer -1.
COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_BINARY_TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH_MICROSECONDS = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970-01-01


def encode_copy_binary(frame: pl.DataFrame) -> bytes:
    """A frame of non-null Int64, Float64 and Datetime(us) columns as one binary COPY stream.

    Every field is eight bytes, so each row is one fixed-size numpy record (field count,
    then length and big-endian value per column) and the whole batch encodes without a
    Python loop. The server stores such rows without parsing text, which is most of the
    cost of a text COPY.
    """
    fields: list[tuple[str, str]] = [("field_count", ">i2")]
    for index in range(frame.width):
        fields += [(f"length_{index}", ">i4"), (f"value_{index}", ">f8" if frame.dtypes[index] == pl.Float64 else ">i8")]
    records = np.empty(frame.height, dtype=np.dtype(fields))
    records["field_count"] = frame.width
    for index, column in enumerate(frame.columns):
        series = frame[column]
        if series.null_count():
            raise ValueError(f"binary COPY of {column!r}: nulls are not supported here")
        if series.dtype == pl.Datetime("us"):
            values = series.dt.epoch("us").to_numpy() - PG_EPOCH_MICROSECONDS
        elif series.dtype in (pl.Int64, pl.Float64):
            values = series.to_numpy()
        else:
            raise ValueError(f"binary COPY of {column!r}: unsupported type {series.dtype}")
        records[f"length_{index}"] = 8
        records[f"value_{index}"] = values
    return COPY_BINARY_HEADER + records.tobytes() + COPY_BINARY_TRAILER


def partition_name(load_id: int) -> str:
    return f"measurements_load_{load_id}"


class PostgresSink(WarehouseSink):
    dialect = "postgres"

    @property
    def conn(self) -> psycopg.Connection:
        return self.db.connection

    def append_frame(self, table: str, frame: pl.DataFrame) -> None:
        self._copy_csv(sql.SQL(table), frame)

    def _copy_csv(self, table: sql.Composable, frame: pl.DataFrame) -> None:
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in frame.columns)
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(table, columns)
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False, datetime_format=TIMESTAMP_TEXT)
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(buffer.getbuffer())

    def drop_load_rows(self, kind: FileKind, load_id: int) -> None:
        if kind == "measurements":
            partition = sql.Identifier("raw", partition_name(load_id))
            self.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(partition).as_string(self.conn))
        else:
            self.execute(f"DELETE FROM {RAW_TABLES[kind]} WHERE load_id = ?", (load_id,))

    def new_file_load(self, entry: LedgerEntry) -> FileLoad:
        if entry.file_kind == "measurements":
            return _MeasurementsPartitionLoad(self, entry)
        return _TableLoad(self, entry)

    def truncate_raw(self) -> None:
        partitions = self.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'raw.measurements'::regclass")
        for (name,) in partitions:
            self.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier("raw", name)).as_string(self.conn))
        self.execute("TRUNCATE raw.assets, raw.signals, raw.rejected_rows, raw.load_ledger")


class _TableLoad(FileLoad):
    """assets and signals: small, appended straight into their raw table."""

    def write_rows(self, rows: pl.DataFrame) -> None:
        self.sink.append_frame(RAW_TABLES[self.entry.file_kind], self.sink.lineage(rows, self.entry))


class _MeasurementsPartitionLoad(FileLoad):
    """A fresh table per load, filled by binary COPY FREEZE, attached as a partition at the end.

    COPY into a table created in the same transaction writes frozen rows (no later
    hint-bit rewrite), nobody else can see it until commit, and the constant lineage
    columns come from column defaults instead of being sent with every row.
    """

    def __init__(self, sink: PostgresSink, entry: LedgerEntry):
        super().__init__(sink, entry)
        self.table = sql.Identifier("raw", partition_name(entry.load_id))
        conn = sink.conn
        sink.execute(sql.SQL(
            "CREATE TABLE {table} (LIKE raw.measurements INCLUDING DEFAULTS INCLUDING CONSTRAINTS); "
            "ALTER TABLE {table} "
            "ALTER COLUMN load_id SET DEFAULT {load_id}, "
            "ALTER COLUMN source_file SET DEFAULT {source_file}, "
            "ALTER COLUMN loaded_at SET DEFAULT {loaded_at}, "
            "ADD CONSTRAINT {check} CHECK (load_id = {load_id})"
        ).format(
            table=self.table,
            load_id=sql.Literal(entry.load_id),
            source_file=sql.Literal(entry.source_file),
            loaded_at=sql.Literal(entry.started_at),
            check=sql.Identifier(f"{partition_name(entry.load_id)}_load_id"),
        ).as_string(conn))

    def write_rows(self, rows: pl.DataFrame) -> None:
        if not rows.height:
            return
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in rows.columns)
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary, FREEZE)").format(self.table, columns)
        with self.sink.conn.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(encode_copy_binary(rows))

    def finish(self, rows_loaded: int, rows_rejected: int) -> LedgerEntry:
        # The CHECK constraint matches the partition bound, so ATTACH skips its scan.
        self.sink.execute(sql.SQL("ALTER TABLE raw.measurements ATTACH PARTITION {} FOR VALUES IN ({})").format(
            self.table, sql.Literal(self.entry.load_id)).as_string(self.sink.conn))
        return super().finish(rows_loaded, rows_rejected)
