"""Loading a data folder into raw tables on real DuckDB and real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from loaders.pipeline import FileLoadResult, load_directory, reset_raw
from kernel.database import connect
from kernel.settings import Settings
from loaders.sinks.base import migrate_raw
from lake_reader import lake_query

BOM = "\ufeff"
ASSETS = """[
  {"AssetID": "1", "Latitude": "47.5568277613", "Longitude": "8.2338560914", "descri": "UW Beznau"},
  {"AssetID": "2", "Latitude": "n/a", "Longitude": "8.9728980141", "descri": "UW Grynau"}
]
"""
SIGNALS = """[
  {"SignalGId": "045ad75f-d8c7-4c92-b252-05f515e4006f", "SignalId": "427038", "SignalName": "BEZOBF110BIRMENU_L12", "AssetId": "1", "Unit": "kV"},
  {"SignalGId": "566a7ca6-d9d0-463d-829c-cd9a2d9e4f2f", "SignalId": "427712", "SignalName": "GRYAAT110TR_1++P", "AssetId": "2"}
]
"""
DUMP_1 = [
    "Ts|SignalId|MeasurementValue",
    "2021-11-07 23:59:03.762|427038|116,129",
    "2021-11-07 23:57:48.259|427038|115,9581",
    "2021-11-07 23:56:00.000|427038|",
    "2021-11-19 00:14:40.456|999999|116,325",
]
DUMP_2 = [
    "Ts|SignalId|MeasurementValue",
    "2021-11-20 10:00:00.000|427038|117",
    "2021-11-20 10:00:00.000|427038|117",
    "bad|427038|1",
]


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres), "spark"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if request.param == "duckdb":
        yield Settings(target="duckdb", data_dir=data_dir, duckdb_path=tmp_path / "w.duckdb")
    elif request.param == "spark":
        # The lake's Parquet files, read as Spark reads them (tests/lake_reader.py).
        yield Settings(target="spark", data_dir=data_dir, spark_lake_dir=tmp_path / "lake")
    else:
        yield Settings(target="postgres", data_dir=data_dir, pg_dsn=request.getfixturevalue("pg_dsn"))


def write_data(settings: Settings, *, dump_2: list[str] | None = DUMP_2) -> None:
    (settings.data_dir / "assets.json").write_text(ASSETS, encoding="utf-8")
    (settings.data_dir / "signal.json").write_text(SIGNALS, encoding="utf-8")
    (settings.data_dir / "measurements_001.csv").write_text(BOM + "\n".join(DUMP_1) + "\n", encoding="utf-8")
    if dump_2 is not None:
        (settings.data_dir / "measurements_002.csv").write_text(BOM + "\r\n".join(dump_2) + "\r\n", encoding="utf-8")


def query(settings: Settings, statement: str) -> list[tuple]:
    if settings.target == "spark":
        return lake_query(settings.spark.raw_dir, statement)
    with connect(settings.warehouse, "loader") as sink:
        return sink.execute(statement)


def by_file(results: list[FileLoadResult]) -> dict[str, tuple[str, int, int, int]]:
    return {r.source_file: (r.status, r.rows_read, r.rows_loaded, r.rows_rejected) for r in results}


def test_every_file_loads_with_exact_counts(settings: Settings) -> None:
    write_data(settings)
    assert by_file(load_directory(settings.warehouse, settings.data_path)) == {
        "assets.json": ("loaded", 2, 1, 1),
        "signal.json": ("loaded", 2, 1, 1),
        "measurements_001.csv": ("loaded", 4, 3, 1),
        "measurements_002.csv": ("loaded", 3, 2, 1),
    }


def test_progress_ends_with_each_files_final_count(settings: Settings) -> None:
    write_data(settings)
    calls: list[tuple[str, int, bool]] = []

    def progress(source_file: str, rows_read: int, seconds: float, *, done: bool = False) -> None:
        calls.append((source_file, rows_read, done))

    results = load_directory(settings.warehouse, settings.data_path, progress=progress)

    last = {}
    for source_file, rows_read, done in calls:
        last[source_file] = (rows_read, done)
    assert last == {result.source_file: (result.rows_read, True) for result in results}
    assert [done for _, _, done in calls].count(True) == len(results)


def test_measurement_values_and_lineage_are_exact(settings: Settings) -> None:
    write_data(settings, dump_2=None)
    load_directory(settings.warehouse, settings.data_path)
    rows = query(settings, "SELECT ts, signal_id, measurement_value, source_file, line_number "
                           "FROM raw.measurements ORDER BY line_number")
    assert rows == [
        (datetime(2021, 11, 7, 23, 59, 3, 762000), 427038, 116.129, "measurements_001.csv", 2),
        (datetime(2021, 11, 7, 23, 57, 48, 259000), 427038, 115.9581, "measurements_001.csv", 3),
        (datetime(2021, 11, 19, 0, 14, 40, 456000), 999999, 116.325, "measurements_001.csv", 5),
    ]


def test_every_row_carries_its_load_id_and_load_time(settings: Settings) -> None:
    write_data(settings, dump_2=None)
    result = next(r for r in load_directory(settings.warehouse, settings.data_path) if r.source_file == "measurements_001.csv")
    lineage = query(settings, "SELECT DISTINCT load_id, loaded_at FROM raw.measurements")
    started = query(settings, f"SELECT started_at FROM raw.load_ledger WHERE load_id = {result.load_id}")
    assert lineage == [(result.load_id, started[0][0])]


def test_unknown_signal_id_still_loads_into_raw(settings: Settings) -> None:
    write_data(settings, dump_2=None)
    load_directory(settings.warehouse, settings.data_path)
    assert query(settings, "SELECT count(*) FROM raw.measurements WHERE signal_id = 999999") == [(1,)]


def test_rejected_rows_keep_file_line_raw_text_and_reason(settings: Settings) -> None:
    write_data(settings)
    load_directory(settings.warehouse, settings.data_path)
    rows = query(settings, "SELECT source_file, file_kind, line_number, raw_line, reason FROM raw.rejected_rows "
                           "WHERE file_kind = 'measurements' ORDER BY source_file, line_number")
    assert rows == [
        ("measurements_001.csv", "measurements", 4, "2021-11-07 23:56:00.000|427038|", "MeasurementValue is empty"),
        ("measurements_002.csv", "measurements", 4, "bad|427038|1",
         "Ts 'bad' is not a timestamp YYYY-MM-DD HH:MM:SS.fff"),
    ]
    missing_unit = query(settings, "SELECT line_number, reason FROM raw.rejected_rows WHERE file_kind = 'signals'")
    assert missing_unit == [(3, "key 'Unit' is missing")]


def test_ledger_reconciles_read_with_loaded_plus_rejected(settings: Settings) -> None:
    write_data(settings)
    load_directory(settings.warehouse, settings.data_path)
    ledger = query(settings, "SELECT source_file, rows_read, rows_loaded, rows_rejected FROM raw.load_ledger "
                             "WHERE status = 'loaded' ORDER BY source_file")
    for source_file, rows_read, rows_loaded, rows_rejected in ledger:
        assert rows_read == rows_loaded + rows_rejected
        kind_table = {"assets.json": "assets", "signal.json": "signals"}.get(source_file, "measurements")
        in_raw = query(settings, f"SELECT count(*) FROM raw.{kind_table} WHERE source_file = '{source_file}'")
        rejected = query(settings, f"SELECT count(*) FROM raw.rejected_rows WHERE source_file = '{source_file}'")
        assert (in_raw[0][0], rejected[0][0]) == (rows_loaded, rows_rejected)


def test_second_load_of_unchanged_files_is_a_no_op(settings: Settings) -> None:
    write_data(settings)
    load_directory(settings.warehouse, settings.data_path)
    before = query(settings, "SELECT count(*) FROM raw.measurements")
    again = load_directory(settings.warehouse, settings.data_path)
    assert {r.status for r in again} == {"skipped"}
    assert query(settings, "SELECT count(*) FROM raw.measurements") == before
    assert query(settings, "SELECT count(*) FROM raw.load_ledger") == [(4,)]


def test_changed_file_replaces_exactly_its_own_rows(settings: Settings) -> None:
    write_data(settings)
    first = {r.source_file: r for r in load_directory(settings.warehouse, settings.data_path)}
    (settings.data_dir / "measurements_001.csv").write_text(
        BOM + "\n".join([*DUMP_1[:2], "2021-11-08 00:00:00.000|427038|118,5"]) + "\n", encoding="utf-8")
    second = by_file(load_directory(settings.warehouse, settings.data_path))
    assert second["measurements_001.csv"] == ("loaded", 2, 2, 0)
    assert second["measurements_002.csv"][0] == "skipped"
    rows = query(settings, "SELECT source_file, measurement_value FROM raw.measurements "
                           "ORDER BY source_file, line_number")
    assert rows == [("measurements_001.csv", 116.129), ("measurements_001.csv", 118.5),
                    ("measurements_002.csv", 117.0), ("measurements_002.csv", 117.0)]
    assert query(settings, "SELECT count(*) FROM raw.rejected_rows WHERE source_file = 'measurements_001.csv'") == [(0,)]
    old_id = first["measurements_001.csv"].load_id
    assert query(settings, f"SELECT status FROM raw.load_ledger WHERE load_id = {old_id}") == [("replaced",)]


def test_new_file_adds_its_rows(settings: Settings) -> None:
    write_data(settings, dump_2=None)
    load_directory(settings.warehouse, settings.data_path)
    write_data(settings)
    assert by_file(load_directory(settings.warehouse, settings.data_path))["measurements_002.csv"] == ("loaded", 3, 2, 1)
    assert query(settings, "SELECT count(*) FROM raw.measurements") == [(5,)]


def test_unreadable_file_leaves_only_a_failed_ledger_row(settings: Settings) -> None:
    write_data(settings, dump_2=None)
    (settings.data_dir / "measurements_002.csv").write_text("Timestamp;Signal;Value\n1;2;3\n", encoding="utf-8")
    result = by_file(load_directory(settings.warehouse, settings.data_path))
    assert result["measurements_002.csv"] == ("failed", 0, 0, 0)
    assert query(settings, "SELECT count(*) FROM raw.measurements WHERE source_file = 'measurements_002.csv'") == [(0,)]
    assert query(settings, "SELECT count(*) FROM raw.rejected_rows WHERE source_file = 'measurements_002.csv'") == [(0,)]
    assert query(settings, "SELECT status, error FROM raw.load_ledger WHERE source_file = 'measurements_002.csv'") == [
        ("failed", "measurements_002.csv, line 1: expected header 'Ts|SignalId|MeasurementValue', "
                   "found 'Timestamp;Signal;Value'")]


def test_broken_json_file_fails_naming_line_column_and_what_was_expected(settings: Settings) -> None:
    write_data(settings, dump_2=None)
    cut_inside_a_name = SIGNALS[: SIGNALS.index("BEZOBF110") + 6]
    (settings.data_dir / "signal.json").write_text(cut_inside_a_name, encoding="utf-8")
    assert by_file(load_directory(settings.warehouse, settings.data_path))["signal.json"] == ("failed", 0, 0, 0)
    assert query(settings, "SELECT count(*) FROM raw.signals") == [(0,)]
    assert query(settings, "SELECT status, error FROM raw.load_ledger WHERE source_file = 'signal.json'") == [
        ("failed", "signal.json, line 2, column 93: expected '\"' closing the string that starts here, "
                   "found the end of the file")]


def test_value_beyond_any_finite_number_is_rejected_with_its_reason(settings: Settings) -> None:
    huge = "1" + "0" * 1_000_000
    write_data(settings, dump_2=["Ts|SignalId|MeasurementValue", "2021-11-20 10:00:00.000|427038|117",
                                 f"2021-11-20 10:00:01.000|427038|{huge}", f"2021-11-20 10:00:02.000|427038|-{huge}"])
    result = by_file(load_directory(settings.warehouse, settings.data_path))
    assert result["measurements_002.csv"] == ("loaded", 3, 1, 2)
    assert query(settings, "SELECT measurement_value FROM raw.measurements "
                           "WHERE source_file = 'measurements_002.csv'") == [(117.0,)]
    assert query(settings, "SELECT line_number, length(raw_line), reason FROM raw.rejected_rows "
                           "WHERE source_file = 'measurements_002.csv' ORDER BY line_number") == [
        (3, 1_000_032, "MeasurementValue '1000000000000000000000000000000000000000'... (1000001 characters) "
                       "is not a finite number"),
        (4, 1_000_033, "MeasurementValue '-100000000000000000000000000000000000000'... (1000002 characters) "
                       "is not a finite number"),
    ]


def test_file_failing_midway_rolls_back_everything_it_wrote(settings: Settings) -> None:
    # Invalid UTF-8 far down the file: earlier batches were already written when it fails.
    write_data(settings, dump_2=None)
    lines = [f"2021-11-20 10:{minute:02d}:00.000|427038|{minute}" for minute in range(60)] * 40
    body = (BOM + "Ts|SignalId|MeasurementValue\n" + "\n".join(lines) + "\n").encode() + b"2021-11-21 00:00:00.000|1|\xff\n"
    (settings.data_dir / "measurements_002.csv").write_bytes(body)
    settings = settings.model_copy(update={"batch_rows": 1_000})
    result = by_file(load_directory(settings.warehouse, settings.data_path))
    assert result["measurements_002.csv"][0] == "failed"
    assert query(settings, "SELECT count(*) FROM raw.measurements WHERE source_file = 'measurements_002.csv'") == [(0,)]
    assert query(settings, "SELECT error FROM raw.load_ledger WHERE source_file = 'measurements_002.csv'")[0][0] \
        == "measurements_002.csv, line 2402, column 27: expected UTF-8 text, found bytes ff 0a"


def test_failed_changed_file_keeps_its_previous_load(settings: Settings) -> None:
    write_data(settings)
    load_directory(settings.warehouse, settings.data_path)
    (settings.data_dir / "measurements_002.csv").write_text("garbage\n", encoding="utf-8")
    assert by_file(load_directory(settings.warehouse, settings.data_path))["measurements_002.csv"][0] == "failed"
    assert query(settings, "SELECT count(*) FROM raw.measurements WHERE source_file = 'measurements_002.csv'") == [(2,)]
    assert query(settings, "SELECT status FROM raw.load_ledger WHERE source_file = 'measurements_002.csv' "
                           "ORDER BY load_id") == [("loaded",), ("failed",)]


def test_unchanged_failed_file_is_not_retried(settings: Settings) -> None:
    write_data(settings, dump_2=None)
    (settings.data_dir / "measurements_002.csv").write_text("garbage\n", encoding="utf-8")
    load_directory(settings.warehouse, settings.data_path)
    again = by_file(load_directory(settings.warehouse, settings.data_path))
    assert again["measurements_002.csv"][0] == "failed"
    assert query(settings, "SELECT count(*) FROM raw.load_ledger WHERE status = 'failed'") == [(1,)]


def test_empty_and_header_only_dumps_load_as_zero_rows(settings: Settings) -> None:
    write_data(settings, dump_2=None)
    (settings.data_dir / "measurements_002.csv").write_bytes(b"")
    (settings.data_dir / "measurements_003.csv").write_text(BOM + "Ts|SignalId|MeasurementValue\n", encoding="utf-8")
    result = by_file(load_directory(settings.warehouse, settings.data_path))
    assert result["measurements_002.csv"] == ("loaded", 0, 0, 0)
    assert result["measurements_003.csv"] == ("loaded", 0, 0, 0)


def test_reset_raw_empties_tables_and_ledger_so_everything_reloads(settings: Settings) -> None:
    write_data(settings)
    load_directory(settings.warehouse, settings.data_path)
    reset_raw(settings.warehouse)
    assert query(settings, "SELECT count(*) FROM raw.measurements") == [(0,)]
    assert query(settings, "SELECT count(*) FROM raw.load_ledger") == [(0,)]
    assert {r.status for r in load_directory(settings.warehouse, settings.data_path)} == {"loaded"}
    assert query(settings, "SELECT count(*) FROM raw.measurements") == [(5,)]


def test_migrations_apply_once_and_then_find_nothing_to_do(settings: Settings) -> None:
    if settings.target == "spark":
        pytest.skip("the lake has no SQL migrations: see test_the_lake_layout_is_created_once")
    with connect(settings.warehouse, "loader") as sink:
        first = migrate_raw(sink)
        second = migrate_raw(sink)
        recorded = sink.execute("SELECT version FROM raw.schema_migrations ORDER BY version")
    assert first[0] == "0001"
    assert second == []
    assert [version for (version,) in recorded] == first
