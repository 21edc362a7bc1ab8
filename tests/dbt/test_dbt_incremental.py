"""Incremental runs give exactly the tables a full build gives: after a new dump (the
fast path, which reads only the new load), and after a changed file or a changed signal
catalogue (the rebuild path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbt_harness import ANALYTICS_TABLES, SAMPLE_DUMPS, BuiltWarehouse, DbtWarehouse, new_warehouse

BOM = "\ufeff"
ASSETS = '[{"AssetID": "1", "Latitude": "47.5568277613", "Longitude": "8.2338560914", "descri": "UW Beznau"}]\n'
# Builds whose data tests and unit tests another build of the same test runs anyway.
MODELS_ONLY = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
SIGNAL = (
    '{{"SignalGId": "00000000-0000-4000-8000-00000000000{id}", "SignalId": "{id}", '
    '"SignalName": "BEZOBF110BIRMENU_L1{id}", "AssetId": "1", "Unit": "kV"}}'
)


def write_signals(warehouse: DbtWarehouse, *ids: int) -> None:
    (warehouse.data_dir / "signal.json").write_text(
        "[" + ",\n".join(SIGNAL.format(id=i) for i in ids) + "]\n"
    )


def write_dump(warehouse: DbtWarehouse, name: str, *lines: str) -> None:
    rows = ["Ts|SignalId|MeasurementValue", *lines]
    (warehouse.data_dir / name).write_text(BOM + "\n".join(rows) + "\n", encoding="utf-8")


def reading(warehouse: DbtWarehouse, signal_id: int, measured_at: str) -> list[tuple]:
    return warehouse.rows(
        "select value, duplicates_dropped from analytics.measurements "
        f"where signal_id = {signal_id} and measured_at = timestamp '{measured_at}'"
    )


def assert_same_tables(incremental: DbtWarehouse, full: DbtWarehouse) -> None:
    for table in ANALYTICS_TABLES:
        assert incremental.table(table) == full.table(table), table


@pytest.fixture
def target(sample_warehouse: BuiltWarehouse) -> str:
    return sample_warehouse.warehouse.settings.target


def test_incremental_run_after_a_new_dump_equals_a_full_build(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sample_warehouse: BuiltWarehouse,
    target: str,
) -> None:
    with new_warehouse(request, tmp_path, target) as warehouse:
        warehouse.copy_sample_files("assets.json", "signal.json", SAMPLE_DUMPS[0])
        warehouse.load()
        warehouse.dbt("build", *MODELS_ONLY)
        assert warehouse.scalar("select count(*) from analytics.measurements") > 0

        warehouse.copy_sample_files(SAMPLE_DUMPS[1])
        warehouse.load()
        run = warehouse.dbt("build")

        # the fast path: only the new load (id 4) was read, no rebuild
        assert "rebuilding" not in run.output
        assert "load_id in (4)" in warehouse.compiled_sql("measurements")
        assert "load_id in (4)" in warehouse.compiled_sql("measurements_hourly")
        # the sample warehouse loaded the same files in the same order, in one full build
        assert_same_tables(warehouse, sample_warehouse.warehouse)
        # the 241 rows both dumps hold are duplicates across loads: the later dump's rows won
        assert warehouse.scalar(
            "select count(*) from analytics.measurements where load_id = 4"
        ) == sample_warehouse.warehouse.scalar(
            "select count(*) from analytics.measurements where load_id = 4"
        )


def test_changed_file_and_signal_catalogue_rebuild_to_the_full_refresh(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    target: str,
) -> None:
    with new_warehouse(request, tmp_path, target) as warehouse:
        (warehouse.data_dir / "assets.json").write_text(ASSETS)
        write_signals(warehouse, 1, 2)
        # Europe/Zurich in January is UTC+1
        write_dump(
            warehouse,
            "measurements_001.csv",
            "2022-01-10 10:00:00.000|1|110,5",
            "2022-01-10 10:00:00.000|1|110,5",
            "2022-01-10 10:30:00.000|1|111",
            "2022-01-10 10:30:00.000|2|105,25",
            "2022-01-10 11:00:00.000|3|99",
        )
        warehouse.load()
        warehouse.dbt("build", *MODELS_ONLY)
        assert reading(warehouse, 1, "2022-01-10 09:00:00") == [(110.5, 1)]
        assert reading(warehouse, 1, "2022-01-10 09:30:00") == [(111.0, 0)]
        assert warehouse.rows(
            "select signal_id, n_readings from analytics.orphan_measurements"
        ) == [(3, 1)]

        # a new dump re-reports 10:30 with another value: the newer load wins
        write_dump(
            warehouse,
            "measurements_002.csv",
            "2022-01-10 10:30:00.000|1|112",
            "2022-01-10 12:00:00.000|2|106",
        )
        warehouse.load()
        run = warehouse.dbt("build", *MODELS_ONLY)
        assert "rebuilding" not in run.output
        assert reading(warehouse, 1, "2022-01-10 09:30:00") == [(112.0, 1)]
        assert warehouse.rows(
            "select n, avg from analytics.measurements_hourly where signal_id = 1 "
            "and hour_utc = timestamp '2022-01-10 09:00:00'"
        ) == [(2, 111.25)]

        # the second dump is re-exported without that row, and signal 3 joins the catalogue
        write_dump(warehouse, "measurements_002.csv", "2022-01-10 12:00:00.000|2|106")
        write_signals(warehouse, 1, 2, 3)
        warehouse.load()
        run = warehouse.dbt("build")
        assert "rebuilding" in run.output
        assert reading(warehouse, 1, "2022-01-10 09:30:00") == [(111.0, 0)]
        assert reading(warehouse, 3, "2022-01-10 10:00:00") == [(99.0, 0)]
        assert warehouse.rows("select count(*) from analytics.orphan_measurements") == [(0,)]
        incremental = {table: warehouse.table(table) for table in ANALYTICS_TABLES}

        run = warehouse.dbt("build", "--full-refresh", *MODELS_ONLY)
        assert "rebuilding" not in run.output
        assert {table: warehouse.table(table) for table in ANALYTICS_TABLES} == incremental

        # and the next run, with nothing new, neither rebuilds nor changes anything
        run = warehouse.dbt("build", *MODELS_ONLY)
        assert "rebuilding" not in run.output
        assert {table: warehouse.table(table) for table in ANALYTICS_TABLES} == incremental
