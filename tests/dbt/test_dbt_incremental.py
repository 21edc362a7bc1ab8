"""Incremental runs give exactly the tables a full refresh gives, and recompute only what
the new loads touched: after a new dump, a re-export of earlier days, a replaced file, a
new signal, a signal removed, a changed plausible range or unit, a stuck stretch split and
joined again, and a value held across midnight into a day no load touched. Each step is
compared table for table (every analytics table, the time-weighted ones included) with
`--full-refresh` over the same raw data (same load ids)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from dbt_harness import ANALYTICS_TABLES, SAMPLE_DUMPS, BuiltWarehouse, DbtRun, DbtWarehouse, new_warehouse
from hand_made_dumps import ASSETS, write_dump, write_signals

# Incremental runs run the data tests too (scoped to the batch); the full refresh that
# each is compared with builds models only.
NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")
MODELS_ONLY = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
COMPARED_TABLES = (*ANALYTICS_TABLES, "analytics.signal_flatlines")


def every(signal: int, start: str, hours: float, step_minutes: int, value) -> list[tuple[int, datetime, float]]:
    """Readings of one signal from `start` for `hours`, one every `step_minutes`; `value`
    is a number (a stuck sensor) or a function of the reading's index."""
    first = datetime.fromisoformat(start)
    count = int(hours * 60 // step_minutes)
    return [(signal, first + timedelta(minutes=step_minutes * i), value(i) if callable(value) else value)
            for i in range(count)]


def moving(i: int) -> float:
    return round(110 + (i % 7) * 0.25, 2)


def tables(warehouse: DbtWarehouse) -> dict[str, list[tuple]]:
    return {name: warehouse.table(name) if "." not in name
            else sorted(warehouse.rows(f"select * from {name}"), key=repr)
            for name in COMPARED_TABLES}


def batch_pairs(warehouse: DbtWarehouse) -> int:
    return warehouse.scalar("select count(*) from refresh_state.batch_pairs")


KEY_TEST = "unique_combination_of_columns_measurements_signal_id__measured_at"


def refresh_equals_full_refresh(warehouse: DbtWarehouse) -> tuple[dict[str, list[tuple]], DbtRun]:
    """Load the data folder, refresh incrementally (data tests included), and prove that a
    full refresh of the same raw data gives the same tables. Returns them and the refresh."""
    warehouse.load()
    run = warehouse.dbt("build", *NO_UNIT_TESTS)
    assert "refresh batch (incremental)" in run.output
    incremental = tables(warehouse)
    warehouse.dbt("build", "--full-refresh", *MODELS_ONLY)
    assert tables(warehouse) == incremental
    return incremental, run


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

        # only the loads with readings on the new dump's signal-days were read from raw
        assert "1 loads added, 0 removed, 0 signals changed" in run.output
        assert "load_id in (3, 4)" in warehouse.compiled_sql("measurements")
        # the sample warehouse loaded the same files in the same order, in one full build
        for table in ANALYTICS_TABLES:
            assert warehouse.table(table) == sample_warehouse.warehouse.table(table), table


def test_every_kind_of_change_refreshes_to_exactly_the_full_refresh(
    request: pytest.FixtureRequest, tmp_path: Path, target: str
) -> None:
    with new_warehouse(request, tmp_path, target) as warehouse:
        (warehouse.data_dir / "assets.json").write_text(ASSETS)
        write_signals(warehouse, 1, 2, 3)
        # Signal 1 is stuck at 111 from Jan 10 18:00 to Jan 12 03:00, 12 readings (a stretch
        # over three days, each half of it too short to count); signal 2 moves; signal 3
        # reads every 2 h; signal 9 is not in the catalogue.
        day_one = (every(1, "2022-01-10 00:00", 18, 30, moving)
                   + every(1, "2022-01-10 18:00", 36, 180, 111.0)
                   + every(1, "2022-01-12 06:30", 17, 30, moving)
                   + every(2, "2022-01-10 00:00", 72, 20, moving)
                   + every(3, "2022-01-10 01:00", 70, 120, moving)
                   + every(9, "2022-01-11 00:00", 2, 30, 5.0))
        write_dump(warehouse, "measurements_001.csv", day_one)
        warehouse.load()
        warehouse.dbt("build", *NO_UNIT_TESTS)
        assert warehouse.rows(
            "select day_utc from analytics.signal_daily_quality where signal_id = 1 and flatline order by 1"
        ) == warehouse.rows("select distinct cast(measured_at as date) from analytics.measurements "
                            "where signal_id = 1 and measured_at between timestamp '2022-01-10 17:00' "
                            "and timestamp '2022-01-12 05:00' order by 1")

        # 1. a new dump: two more days (the end of the data moves), a reading that splits
        #    the stuck stretch in the middle, and another value for a reading already loaded
        split = (1, datetime(2022, 1, 11, 9, 15), 112.5)
        write_dump(warehouse, "measurements_002.csv",
                   every(2, "2022-01-13 00:00", 48, 20, moving) + [split, (3, datetime(2022, 1, 10, 1, 0), 99.0)])
        after_split, run = refresh_equals_full_refresh(warehouse)
        assert not any(flat for *_, flat in after_split["signal_daily_quality"] if _[0] == 1)
        assert batch_pairs(warehouse) < 12  # days of this dump only, not the whole table
        # the key tests looked at the recomputed pairs only
        assert "refresh_state" in run.result(KEY_TEST)["compiled_code"]

        # 2. a re-export of earlier days: signal 2's first reading moves to Jan 7, with a
        #    silent day before its old first day (Jan 10 00:00 in Zurich is Jan 9 23:00 UTC);
        #    signal 3, whose last reading was at 20:00 UTC on Jan 12, reads once more at 22:30
        #    UTC: its value holds into Jan 13 (until 04:30, the 6 h limit), a day no reading
        #    of this dump falls on
        write_dump(warehouse, "measurements_003.csv",
                   every(2, "2022-01-07 10:00", 2, 20, moving) + every(1, "2022-01-10 06:00", 1, 10, 108.0)
                   + [(3, datetime(2022, 1, 12, 23, 30), 101.0)])
        refresh_equals_full_refresh(warehouse)
        assert warehouse.rows(
            "select n from analytics.signal_daily_quality where signal_id = 2 "
            "and day_utc between date '2022-01-07' and date '2022-01-09' order by day_utc") == [(6,), (0,), (3,)]
        assert warehouse.rows(
            "select readings, covered_seconds, avg_time_weighted from analytics.signal_daily "
            "where signal_id = 3 and day_utc = date '2022-01-13'") == [(0, 4.5 * 3600, 101.0)]
        assert (3, date(2022, 1, 13)) not in warehouse.rows("select signal_id, day_utc from refresh_state.batch_pairs")

        # 3. the second dump is replaced: the split reading and the last two days are gone,
        #    so the stretch is whole again and the end of the data moves back
        write_dump(warehouse, "measurements_002.csv", [(3, datetime(2022, 1, 10, 1, 0), 99.5)])
        rejoined, _ = refresh_equals_full_refresh(warehouse)
        assert any(flat for *_, flat in rejoined["signal_daily_quality"] if _[0] == 1)
        assert warehouse.scalar("select max(day_utc) from analytics.signal_daily_quality").isoformat() == "2022-01-12"

        # 4. signal 9 joins the catalogue (its readings leave orphan_measurements), signal 3
        #    changes unit (so its plausible range changes, and it has energy now), and
        #    signal 2 leaves (its readings become orphans, its days go)
        assert warehouse.scalar("select count(energy_kwh) from analytics.measurements_15min where signal_id = 3") == 0
        write_signals(warehouse, 1, (3, "MW"), 9)
        refreshed, _ = refresh_equals_full_refresh(warehouse)
        assert {row[2] for row in refreshed["orphan_measurements"]} == {2}
        assert warehouse.scalar("select count(*) from analytics.measurements where signal_id = 9") == 4
        for table in ("signal_daily_quality", "signal_daily", "measurements_15min", "measurements_hourly"):
            assert warehouse.scalar(f"select count(*) from analytics.{table} where signal_id = 2") == 0, table
        # (its last reading is now the end of the data: it holds for no time, and has no energy)
        assert warehouse.rows(
            "select count(*), count(energy_kwh) from analytics.measurements_15min "
            "where signal_id = 3 and covered_seconds > 0") == [(2 * 24 * 4 + 22 * 4 + 2, 2 * 24 * 4 + 22 * 4 + 2)]

        # 5. nothing new: nothing to recompute, nothing changes
        run = warehouse.dbt("build", *NO_UNIT_TESTS)
        assert "0 loads added, 0 removed, 0 signals changed, 0 signal-days to recompute" in run.output
        assert tables(warehouse) == refreshed


def test_a_build_that_failed_midway_is_finished_by_the_next_run(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A run whose later marts did not build (here: selected away, as a crash would leave
    them) is not recorded as applied, so the next run recomputes the same keys."""
    with new_warehouse(request, tmp_path, "duckdb") as warehouse:
        (warehouse.data_dir / "assets.json").write_text(ASSETS)
        write_signals(warehouse, 1, 2)
        write_dump(warehouse, "measurements_001.csv", every(1, "2022-01-10 00:00", 24, 30, moving))
        warehouse.load()
        warehouse.dbt("build", *MODELS_ONLY)

        write_dump(warehouse, "measurements_002.csv", every(2, "2022-01-11 00:00", 24, 30, moving))
        warehouse.load()
        partial = warehouse.dbt("build", "--select", "measurements", *MODELS_ONLY)
        assert "refresh batch not recorded as applied" in partial.output

        run = warehouse.dbt("build", *MODELS_ONLY)
        assert "1 loads added" in run.output
        finished = tables(warehouse)
        warehouse.dbt("build", "--full-refresh", *MODELS_ONLY)
        assert tables(warehouse) == finished


def test_a_plain_dbt_test_checks_whole_tables(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """What the scheduled verify job runs: the tests of the big tables see every row."""
    with new_warehouse(request, tmp_path, "duckdb") as warehouse:
        (warehouse.data_dir / "assets.json").write_text(ASSETS)
        write_signals(warehouse, 1)
        write_dump(warehouse, "measurements_001.csv", every(1, "2022-01-10 00:00", 24, 30, moving))
        warehouse.load()
        warehouse.dbt("build", *MODELS_ONLY)
        write_dump(warehouse, "measurements_002.csv", every(1, "2022-01-11 00:00", 24, 30, moving))
        warehouse.load()
        warehouse.dbt("build", *MODELS_ONLY)

        run = warehouse.dbt("test", "--select", "measurements")
        assert run.result(KEY_TEST)["status"] == "pass"
        assert "refresh_state" not in run.result(KEY_TEST)["compiled_code"]
