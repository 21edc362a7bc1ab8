"""resolution=15min is served from analytics.measurements_15min, exactly as SQL gives it.

A warehouse built before the time-weighted marts lacks the table or some of its columns:
copies of the DuckDB warehouse stand in for those.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kernel.database import connect
from kernel.reader_snapshot import publish_reader_snapshot
from tests.api.conftest import Served, naive_utc, walk, writable_copy

COLUMNS = ("interval_start_utc", "readings", "covered_seconds", "avg_time_weighted", "min", "max",
           "value_at_start", "energy_kwh", "reactive_energy_kvarh")


def with_quarter_hours(duckdb_served: Served, tmp_path: Path, columns: str | None) -> Served:
    """A copy whose measurements_15min holds only `columns` (None: no such table at all)."""
    served = writable_copy(duckdb_served, tmp_path)
    with connect(served.settings().warehouse, "loader") as writer:
        writer.execute("DROP TABLE analytics.measurements_15min")
        if columns is None:
            publish_reader_snapshot(served.settings().warehouse)
            return served
        writer.execute(f"""
            CREATE TABLE analytics.measurements_15min AS
            SELECT {columns}
            FROM (SELECT signal_id, time_bucket(INTERVAL '15 minutes', measured_at) AS interval_start_utc,
                         count(*) AS readings, 900.0 AS covered_seconds, avg(value) AS avg_time_weighted,
                         min(value) AS min, max(value) AS max, NULL::DOUBLE AS value_at_start,
                         CASE WHEN signal_id % 2 = 0 THEN avg(value) / 4 END AS energy_kwh,
                         NULL::DOUBLE AS reactive_energy_kvarh
                  FROM analytics.measurements GROUP BY 1, 2)""")
    publish_reader_snapshot(served.settings().warehouse)
    return served


@pytest.fixture
def signal(duckdb_served: Served) -> int:
    return duckdb_served.sql("SELECT signal_id FROM analytics.measurements GROUP BY 1 ORDER BY count(*) DESC, 1 "
                             "LIMIT 1")[0][0]


def test_quarter_hours_are_the_mart(duckdb_served: Served, signal: int) -> None:
    served = duckdb_served
    expected = served.sql(f"SELECT {', '.join(COLUMNS)} FROM analytics.measurements_15min WHERE signal_id = ? "
                          "AND interval_start_utc >= ? AND interval_start_utc < ? ORDER BY 1",
                          (signal, datetime(2021, 12, 1), datetime(2021, 12, 15)))

    with served.client() as client:
        rows, pages = walk(client, f"/signals/{signal}/measurements?resolution=15min&start=2021-12-01"
                                   f"&end=2021-12-15&limit=100")
        parquet = client.get(f"/signals/{signal}/measurements", params={
            "resolution": "15min", "start": "2021-12-01", "end": "2021-12-15", "format": "parquet"})

    assert [(naive_utc(r["interval_start_utc"]), *(r[c] for c in COLUMNS[1:])) for r in rows] == expected
    assert pages > 1
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column_names == list(COLUMNS)
    assert table.num_rows == len(expected)


def test_columns_the_mart_lacks_answer_null(duckdb_served: Served, tmp_path: Path, signal: int) -> None:
    served = with_quarter_hours(duckdb_served, tmp_path, "signal_id, interval_start_utc, readings")

    with served.client() as client:
        body = client.get(f"/signals/{signal}/measurements", params={"resolution": "15min", "limit": 1}).json()

    (row,) = body["rows"]
    assert row["readings"] > 0
    assert row["avg_time_weighted"] is None and row["energy_kwh"] is None


def test_15min_before_its_mart_exists_is_422_saying_so(duckdb_served: Served, tmp_path: Path, signal: int) -> None:
    served = with_quarter_hours(duckdb_served, tmp_path, None)

    with served.client() as client:
        response = client.get(f"/signals/{signal}/measurements", params={"resolution": "15min"})

    assert response.status_code == 422
    body = response.json()
    assert body["parameter"] == "resolution"
    assert "analytics.measurements_15min does not exist" in body["expected"]
