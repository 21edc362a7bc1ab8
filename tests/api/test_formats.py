"""CSV and Parquet stream the whole range, and hold exactly what the JSON pages hold."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from api import streaming
from tests.api.conftest import Served, naive_utc, walk

COLUMNS = {
    "raw": ["measured_at", "value", "load_id", "duplicates_dropped"],
    "hourly": ["hour_utc", "n", "min", "max", "avg", "first_value", "last_value"],
    "daily": ["day_utc", "n", "min", "max", "avg", "first_value", "last_value"],
}


def comparable(rows: list[dict], columns: list[str]) -> list[tuple]:
    """Rows with their times as naive UTC and their days as dates, whatever format they came in."""
    def value(column: str, item: object) -> object:
        if isinstance(item, str) and column.endswith(("_at", "_utc")) and column != "day_utc":
            return naive_utc(item)
        if isinstance(item, datetime):
            return item.astimezone(UTC).replace(tzinfo=None)
        if column == "day_utc" and isinstance(item, str):
            return datetime.fromisoformat(item).date()
        return item
    return [tuple(value(column, row[column]) for column in columns) for row in rows]


@pytest.mark.parametrize("resolution", ["raw", "hourly", "daily"])
@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_download_equals_the_json_pages(client: TestClient, signal_id: int, resolution: str,
                                          file_format: str) -> None:
    query = f"resolution={resolution}&start=2021-11-15&end=2022-01-15"
    pages, _ = walk(client, f"/signals/{signal_id}/measurements?{query}&limit=50")

    response = client.get(f"/signals/{signal_id}/measurements?{query}&format={file_format}")

    assert response.status_code == 200
    assert response.headers["content-type"] == streaming.MEDIA_TYPES[file_format]
    assert f"signal-{signal_id}-{resolution}.{file_format}" in response.headers["content-disposition"]
    if file_format == "csv":
        table = pacsv.read_csv(io.BytesIO(response.content))
    else:
        table = pq.read_table(io.BytesIO(response.content))
    assert table.column_names == COLUMNS[resolution]
    assert comparable(table.to_pylist(), COLUMNS[resolution]) == comparable(pages, COLUMNS[resolution])
    assert len(pages) > 50  # more than one page


def test_parquet_keeps_the_types_of_the_contract(client: TestClient, signal_id: int) -> None:
    response = client.get(f"/signals/{signal_id}/measurements", params={"format": "parquet", "end": "2021-11-20"})

    schema = pq.read_schema(io.BytesIO(response.content))

    assert schema.field("measured_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("value").type == pa.float64()
    assert schema.field("load_id").type == pa.int64()


def test_a_download_larger_than_a_batch_arrives_in_several_chunks(served: Served, client: TestClient,
                                                                  signal_id: int, monkeypatch) -> None:
    # One chunk per batch of rows: with a batch of 100, the stream is cut many times, and
    # the Parquet file has one row group per batch.
    monkeypatch.setattr(streaming, "STREAM_BATCH_ROWS", 100)
    total = served.sql("SELECT count(*) FROM analytics.measurements WHERE signal_id = ?", (signal_id,))[0][0]

    with client.stream("GET", f"/signals/{signal_id}/measurements", params={"format": "parquet"}) as response:
        chunks = list(response.iter_raw())

    parquet = pq.ParquetFile(io.BytesIO(b"".join(chunks)))
    assert parquet.metadata.num_rows == total
    assert parquet.metadata.num_row_groups == -(-total // 100)
    assert len(chunks) > 10


def test_an_empty_range_is_a_header_or_an_empty_file(client: TestClient, signal_id: int) -> None:
    params = {"start": "2030-01-01", "end": "2030-02-01"}

    csv = client.get(f"/signals/{signal_id}/measurements", params={**params, "format": "csv"})
    parquet = client.get(f"/signals/{signal_id}/measurements", params={**params, "format": "parquet"})

    assert csv.text == '"measured_at","value","load_id","duplicates_dropped"\n'
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == 0
