"""Keyset pages: following `next` returns every row of the range exactly once, in order."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Served, naive_utc, walk

RANGE = {"start": "2021-11-10", "end": "2021-12-10"}


@pytest.mark.parametrize(("resolution", "key", "sql"), [
    ("raw", "measured_at", "SELECT measured_at FROM analytics.measurements WHERE signal_id = ? "
                           "AND measured_at >= ? AND measured_at < ? ORDER BY 1"),
    ("hourly", "hour_utc", "SELECT hour_utc FROM analytics.measurements_hourly WHERE signal_id = ? "
                           "AND hour_utc >= ? AND hour_utc < ? ORDER BY 1"),
    ("daily", "day_utc", "SELECT DISTINCT CAST(date_trunc('day', hour_utc) AS DATE) FROM "
                         "analytics.measurements_hourly WHERE signal_id = ? AND hour_utc >= ? AND hour_utc < ? "
                         "ORDER BY 1"),
])
def test_pages_of_measurements_hold_every_row_exactly_once(served: Served, client: TestClient, signal_id: int,
                                                          resolution: str, key: str, sql: str) -> None:
    expected = [value for (value,) in served.sql(sql, (signal_id, datetime(2021, 11, 10), datetime(2021, 12, 10)))]
    limit = max(len(expected) // 7, 1)

    rows, pages = walk(client, f"/signals/{signal_id}/measurements?resolution={resolution}&limit={limit}"
                               f"&start={RANGE['start']}&end={RANGE['end']}")

    keys = [naive_utc(row[key]) if resolution != "daily" else datetime.fromisoformat(row[key]).date()
            for row in rows]
    assert keys == expected
    assert pages == -(-len(expected) // limit) + (len(expected) % limit == 0)
    assert pages >= 7


def test_a_page_of_exactly_the_remaining_rows_is_the_last(served: Served, client: TestClient,
                                                         signal_id: int) -> None:
    count = served.sql("SELECT count(*) FROM analytics.signal_daily_quality WHERE signal_id = ?", (signal_id,))[0][0]

    body = client.get(f"/signals/{signal_id}/quality", params={"limit": count}).json()

    assert len(body["rows"]) == count
    assert body["next"] is None and body["next_url"] is None


def test_pages_of_quality_loads_and_rejected_rows(served: Served, client: TestClient, signal_id: int) -> None:
    days = [d for (d,) in served.sql("SELECT day_utc FROM analytics.signal_daily_quality WHERE signal_id = ? "
                                     "ORDER BY day_utc", (signal_id,))]
    loads = [i for (i,) in served.sql("SELECT load_id FROM raw.load_ledger ORDER BY load_id DESC")]
    load_id = served.sql("SELECT load_id FROM raw.load_ledger ORDER BY rows_rejected DESC LIMIT 1")[0][0]
    lines = [n for (n,) in served.sql("SELECT line_number FROM raw.rejected_rows WHERE load_id = ? "
                                      "ORDER BY line_number", (load_id,))]

    quality, _ = walk(client, f"/signals/{signal_id}/quality?limit=10")
    ledger, ledger_pages = walk(client, "/loads?limit=1")
    rejected, _ = walk(client, f"/loads/{load_id}/rejected?limit=3")

    assert [datetime.fromisoformat(row["day_utc"]).date() for row in quality] == days
    assert [row["load_id"] for row in ledger] == loads
    assert ledger_pages == len(loads)
    assert [row["line_number"] for row in rejected] == lines
    assert len(lines) > 3


def test_rows_added_after_the_cursor_still_come_exactly_once(client: TestClient, signal_id: int) -> None:
    # The cursor is the last key, not a position: the next page starts after it whatever
    # happened before it meanwhile.
    first = client.get(f"/signals/{signal_id}/measurements", params={"limit": 5}).json()
    again = client.get(f"/signals/{signal_id}/measurements", params={"limit": 5, "cursor": first["next"]}).json()
    both = client.get(f"/signals/{signal_id}/measurements", params={"limit": 10}).json()

    assert first["rows"] + again["rows"] == both["rows"]
