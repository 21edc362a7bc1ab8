"""Every endpoint answers exactly what the same question asked in SQL answers, on both warehouses."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Served, as_naive_utc, naive_utc, walk

SIGNAL_COLUMNS = ("signal_id", "signal_gid", "asset_id", "signal_name", "unit", "nominal_voltage_kv",
                  "plausible_min", "plausible_max")


def signals_of(served: Served, where: str = "1 = 1", params: tuple = ()) -> list[dict]:
    rows = served.sql(f"SELECT {', '.join(SIGNAL_COLUMNS)} FROM analytics.signals WHERE {where} "
                      "ORDER BY signal_id", params)
    return [dict(zip(SIGNAL_COLUMNS, row)) for row in rows]


def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/health")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_assets_are_the_assets_mart(served: Served, client: TestClient) -> None:
    expected = [{"asset_id": a, "asset_name": n, "latitude": lat, "longitude": lon} for a, n, lat, lon in
                served.sql("SELECT asset_id, asset_name, latitude, longitude FROM analytics.assets ORDER BY asset_id")]

    assert client.get("/assets").json() == expected
    assert len(expected) == 4


def test_an_asset_comes_with_its_signals(served: Served, client: TestClient) -> None:
    asset_id, name, latitude, longitude = served.sql(
        "SELECT asset_id, asset_name, latitude, longitude FROM analytics.assets ORDER BY asset_id DESC LIMIT 1")[0]

    body = client.get(f"/assets/{asset_id}").json()

    assert body == {"asset_id": asset_id, "asset_name": name, "latitude": latitude, "longitude": longitude,
                    "signals": signals_of(served, "asset_id = ?", (asset_id,))}
    assert body["signals"]


def test_signals_are_the_signals_mart(served: Served, client: TestClient) -> None:
    assert client.get("/signals").json() == signals_of(served)


def test_signals_filter_by_asset_and_unit(served: Served, client: TestClient) -> None:
    asset_id, unit = served.sql("SELECT asset_id, unit FROM analytics.signals ORDER BY signal_id LIMIT 1")[0]

    by_asset = client.get("/signals", params={"asset_id": asset_id}).json()
    by_both = client.get("/signals", params={"asset_id": asset_id, "unit": unit}).json()

    assert by_asset == signals_of(served, "asset_id = ?", (asset_id,))
    assert by_both == signals_of(served, "asset_id = ? AND unit = ?", (asset_id, unit))
    assert by_both and len(by_both) <= len(by_asset)
    assert client.get("/signals", params={"unit": "parsec"}).json() == []


def test_one_signal(served: Served, client: TestClient, signal_id: int) -> None:
    (expected,) = signals_of(served, "signal_id = ?", (signal_id,))

    assert client.get(f"/signals/{signal_id}").json() == expected


def test_raw_measurements_are_the_readings_in_the_range(served: Served, client: TestClient,
                                                        signal_id: int) -> None:
    start, end = datetime(2021, 12, 1), datetime(2021, 12, 3, 12)
    expected = served.sql("SELECT measured_at, value, load_id, duplicates_dropped FROM analytics.measurements "
                          "WHERE signal_id = ? AND measured_at >= ? AND measured_at < ? ORDER BY measured_at",
                          (signal_id, start, end))

    body = client.get(f"/signals/{signal_id}/measurements",
                      params={"start": "2021-12-01", "end": "2021-12-03T12:00:00Z"}).json()

    got = [(naive_utc(r["measured_at"]), r["value"], r["load_id"], r["duplicates_dropped"]) for r in body["rows"]]
    assert got == expected
    assert len(expected) > 10
    assert (body["signal_id"], body["resolution"], body["next"]) == (signal_id, "raw", None)
    assert (body["start"], body["end"]) == ("2021-12-01T00:00:00Z", "2021-12-03T12:00:00Z")


def test_a_start_with_an_offset_is_converted_to_utc(served: Served, client: TestClient, signal_id: int) -> None:
    in_zurich = client.get(f"/signals/{signal_id}/measurements",
                           params={"start": "2021-12-01T01:00:00+01:00", "end": "2021-12-02"}).json()
    in_utc = client.get(f"/signals/{signal_id}/measurements",
                        params={"start": "2021-12-01T00:00:00", "end": "2021-12-02"}).json()

    assert in_zurich["rows"] == in_utc["rows"]
    assert in_zurich["start"] == "2021-12-01T00:00:00Z"


def test_hourly_measurements_are_the_hourly_mart(served: Served, client: TestClient, signal_id: int) -> None:
    columns = ("hour_utc", "n", "min", "max", "avg", "first_value", "last_value")
    expected = served.sql(f"SELECT {', '.join(columns)} FROM analytics.measurements_hourly WHERE signal_id = ? "
                          "AND hour_utc >= ? AND hour_utc < ? ORDER BY hour_utc",
                          (signal_id, datetime(2021, 12, 1, 10, 30), datetime(2021, 12, 8)))

    body = client.get(f"/signals/{signal_id}/measurements",
                      params={"resolution": "hourly", "start": "2021-12-01T10:30", "end": "2021-12-08"}).json()

    assert [(naive_utc(r["hour_utc"]), *(r[c] for c in columns[1:])) for r in body["rows"]] == expected
    # An hour is in the range when it starts in it: 10:00-11:00 does not, 11:00 does.
    assert naive_utc(body["rows"][0]["hour_utc"]) == datetime(2021, 12, 1, 11)


def test_daily_measurements_summarise_each_days_readings(served: Served, client: TestClient,
                                                         signal_id: int) -> None:
    readings = served.sql("SELECT measured_at, value FROM analytics.measurements WHERE signal_id = ? "
                          "AND measured_at >= ? AND measured_at < ? ORDER BY measured_at",
                          (signal_id, datetime(2021, 12, 2), datetime(2021, 12, 12)))
    by_day: dict = defaultdict(list)
    for measured_at, value in readings:
        by_day[measured_at.date().isoformat()].append(value)

    # Noon to noon: the days whose midnight falls in the range, 2 to 11 December.
    body = client.get(f"/signals/{signal_id}/measurements",
                      params={"resolution": "daily", "start": "2021-12-01T12:00", "end": "2021-12-11T12:00"}).json()

    assert [row["day_utc"] for row in body["rows"]] == sorted(by_day)
    for row in body["rows"]:
        values = by_day[row["day_utc"]]
        assert (row["n"], row["min"], row["max"], row["first_value"], row["last_value"]) == (
            len(values), min(values), max(values), values[0], values[-1])
        assert row["avg"] == pytest.approx(sum(values) / len(values), rel=1e-12)


def test_quality_rows_are_the_daily_quality_mart(served: Served, client: TestClient, signal_id: int) -> None:
    columns = ("day_utc", "n", "first_at", "last_at", "max_gap_seconds", "duplicates_dropped", "out_of_range",
               "flatline")
    expected = served.sql(f"SELECT {', '.join(columns)} FROM analytics.signal_daily_quality "
                          "WHERE signal_id = ? AND day_utc >= ? AND day_utc < ? ORDER BY day_utc",
                          (signal_id, datetime(2021, 11, 20).date(), datetime(2021, 12, 20).date()))

    body = client.get(f"/signals/{signal_id}/quality", params={"start": "2021-11-20", "end": "2021-12-20"}).json()

    got = [(datetime.fromisoformat(r["day_utc"]).date(), r["n"], naive_utc(r["first_at"]), naive_utc(r["last_at"]),
            r["max_gap_seconds"], r["duplicates_dropped"], r["out_of_range"], r["flatline"]) for r in body["rows"]]
    assert got == expected
    assert len(expected) == 30


def test_loads_are_the_ledger_newest_first(served: Served, client: TestClient) -> None:
    columns = ("load_id", "source_file", "file_kind", "size_bytes", "sha256", "rows_read", "rows_loaded",
               "rows_rejected", "started_at", "finished_at", "status", "error")
    expected = served.sql(f"SELECT {', '.join(columns)} FROM raw.load_ledger ORDER BY load_id DESC")

    rows = client.get("/loads").json()["rows"]

    got = [tuple(naive_utc(row[c]) if c.endswith("_at") else row[c] for c in columns) for row in rows]
    assert got == [tuple(as_naive_utc(v) if c.endswith("_at") else v for c, v in zip(columns, row))
                   for row in expected]
    assert [row["status"] for row in rows].count("failed") == 1


def test_loads_filter_by_status(client: TestClient) -> None:
    failed = client.get("/loads", params={"status": "failed"}).json()["rows"]

    assert [(row["source_file"], row["status"]) for row in failed] == [("measurements_009.csv", "failed")]
    assert "measurements_009.csv" in failed[0]["error"]


def test_rejected_rows_of_a_load_in_file_order(served: Served, client: TestClient) -> None:
    load_id, source_file = served.sql("SELECT load_id, source_file FROM raw.load_ledger "
                                      "WHERE rows_rejected > 0 ORDER BY rows_rejected DESC LIMIT 1")[0]
    expected = served.sql("SELECT line_number, raw_line, reason FROM raw.rejected_rows WHERE load_id = ? "
                          "ORDER BY line_number", (load_id,))

    body = client.get(f"/loads/{load_id}/rejected").json()

    assert (body["load_id"], body["source_file"]) == (load_id, source_file)
    assert [(r["line_number"], r["raw_line"], r["reason"]) for r in body["rows"]] == expected
    assert expected


def test_every_endpoint_is_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    assert set(document["paths"]) == {
        "/health", "/ready", "/assets", "/assets/{asset_id}", "/signals", "/signals/{signal_id}",
        "/signals/{signal_id}/measurements", "/signals/{signal_id}/quality", "/loads",
        "/loads/{load_id}/rejected"}
    resolution = next(p for p in document["paths"]["/signals/{signal_id}/measurements"]["get"]["parameters"]
                      if p["name"] == "resolution")
    assert resolution["schema"]["enum"] == ["raw", "15min", "hourly", "daily"]
    assert "Readiness" in document["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_rows_of_a_walk_through_the_whole_table_are_all_there(served: Served, client: TestClient,
                                                            signal_id: int) -> None:
    # No range at all: from the signal's first reading to its last.
    rows, _ = walk(client, f"/signals/{signal_id}/measurements?resolution=hourly&limit=10000")

    assert len(rows) == served.sql("SELECT count(*) FROM analytics.measurements_hourly WHERE signal_id = ?",
                                   (signal_id,))[0][0]


def test_every_time_in_an_answer_is_utc_with_its_z(client: TestClient, signal_id: int) -> None:
    answers = [
        client.get(f"/signals/{signal_id}/measurements", params={"limit": 5}).json()["rows"][0]["measured_at"],
        client.get(f"/signals/{signal_id}/measurements", params={"limit": 5, "resolution": "hourly",
                                                               "start": "2021-12-01"}).json()["start"],
        client.get(f"/signals/{signal_id}/quality", params={"limit": 5}).json()["rows"][0]["first_at"],
        client.get("/loads", params={"limit": 1}).json()["rows"][0]["started_at"],
        client.get("/ready").json()["last_refresh_at"],
    ]

    assert all(answer.endswith("Z") for answer in answers), answers


@pytest.mark.parametrize("resolution", ["raw", "hourly", "daily"])
def test_pages_are_what_openapi_documents(client: TestClient, signal_id: int, resolution: str) -> None:
    from api import models, queries

    body = client.get(f"/signals/{signal_id}/measurements", params={"resolution": resolution, "limit": 3}).json()

    page = models.MeasurementsPage[queries.RESOLUTIONS[resolution].row_type].model_validate(body)
    assert len(page.rows) == 3
    assert set(body["rows"][0]) == set(queries.RESOLUTIONS[resolution].row_type.__annotations__)
