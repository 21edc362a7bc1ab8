"""Whole ranges as CSV or Parquet, streamed: never more than one batch in memory.

The rows come from `Database.iter_batches` (a server-side cursor on PostgreSQL, an Arrow
reader on DuckDB), are given the resolution's fixed Arrow schema (a batch of nulls or a
naive timestamp must not change a Parquet file's schema halfway), and each batch is
written and sent at once: a CSV chunk, or one Parquet row group.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from api.queries import Column, PageQuery
from api.readers import Readers

if TYPE_CHECKING:
    import pyarrow as pa

# Rows fetched, converted and sent at a time.
STREAM_BATCH_ROWS = 50_000

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    import pyarrow as pa

    types = {"timestamp": pa.timestamp("us", tz="UTC"), "timestamptz": pa.timestamp("us", tz="UTC"),
             "date": pa.date32(), "double": pa.float64(),
             "int64": pa.int64(), "bool": pa.bool_(), "string": pa.string()}
    return pa.schema([(column.name, types[column.kind]) for column in columns])


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """`batch` with the schema's types (naive timestamps are UTC: the marts store UTC)."""
    import pyarrow as pa

    arrays = [batch.column(index).cast(field.type) for index, field in enumerate(schema)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class _Chunks:
    """A write-only file that hands over what was written since the last `take`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._size += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def stream_rows(readers: Readers, query: PageQuery, columns: Sequence[Column], file_format: str
                ) -> Iterator[bytes]:
    """The query's rows as `file_format` (csv or parquet), chunk by chunk.

    Holds a reader's connection from the first chunk to the last (or until the client
    goes away, which closes this generator).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    chunks = _Chunks()
    sink = pa.PythonFile(chunks, mode="w")
    writer = pq.ParquetWriter(sink, schema) if file_format == "parquet" else pacsv.CSVWriter(sink, schema)
    with readers.reading() as db:
        for batch in db.iter_batches(query.statement, query.params, batch_rows=STREAM_BATCH_ROWS):
            writer.write_batch(conform(batch, schema))
            if data := chunks.take():
                yield data
    writer.close()
    if data := chunks.take():
        yield data
