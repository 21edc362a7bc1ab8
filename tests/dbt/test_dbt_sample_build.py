"""`dbt build` over the sample dumps: every model and test passes on DuckDB and on
PostgreSQL, and the analytics tables hold exactly what the dumps determine."""

from __future__ import annotations

import json
from datetime import date, datetime

import polars as pl
import pytest
from dbt_harness import SOURCE_TIMEZONE, BuiltWarehouse
from sample_expectations import Expected, local_to_utc

# From data/README.md: the defects and anomalies the sample generator planted.
ORPHAN_SIGNAL_IDS = {421509, 436147}
STUCK_SIGNAL_DAYS = {
    (430067, date(2022, 1, 18)),
    (430067, date(2022, 1, 19)),
    (439856, date(2022, 1, 22)),
    (439856, date(2022, 1, 23)),
}
OUT_OF_RANGE_SIGNALS = {436746, 431347, 438717}


def test_build_passes_with_warnings_only_for_orphans_and_implausible_values(
    sample_warehouse: BuiltWarehouse,
) -> None:
    build = sample_warehouse.build
    failing = {
        node: status
        for node, status in build.statuses().items()
        if status not in ("success", "pass", "warn")
    }
    assert failing == {}
    warnings = {r["unique_id"].split(".")[2] for r in build.results if r["status"] == "warn"}
    assert warnings == {
        "warn_orphan_readings",
        "within_signal_range_measurements_value__ref_signals_",
    }


def test_orphan_warning_counts_the_orphan_readings(
    sample_warehouse: BuiltWarehouse, expected: Expected
) -> None:
    result = sample_warehouse.build.result("warn_orphan_readings")
    assert result["failures"] == expected.orphans.height == 50


def test_reconciliation_and_key_tests_ran_as_errors(sample_warehouse: BuiltWarehouse) -> None:
    build = sample_warehouse.build
    for name in (
        "assert_measurement_files_reconcile",
        "unique_combination_of_columns_measurements_signal_id__measured_at",
        "relationships_measurements_signal_id__signal_id__ref_signals_",
    ):
        assert build.result(name)["status"] == "pass"


def test_analysts_are_granted_the_analytics_schema_on_postgres_only(
    sample_warehouse: BuiltWarehouse,
) -> None:
    # DuckDB has no roles (a grant config there would make dbt warn); on PostgreSQL
    # tests/production/test_roles.py checks what the grants do.
    warehouse = sample_warehouse.warehouse
    manifest = json.loads((warehouse.workdir / "dbt-target" / "manifest.json").read_text())
    grants = {
        (node["schema"], node["name"]): node["config"]["grants"]
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
    }
    target = warehouse.settings.target
    analyst = {"duckdb": {}, "postgres": {"select": ["warehouse_analyst"]}}[target]
    assert grants == {
        ("analytics", "assets"): analyst,
        ("analytics", "signals"): analyst,
        ("analytics", "measurements"): analyst,
        ("analytics", "measurements_hourly"): analyst,
        ("analytics", "measurements_15min"): analyst,
        ("analytics", "signal_daily"): analyst,
        ("analytics", "orphan_measurements"): analyst,
        ("analytics", "signal_daily_quality"): analyst,
        ("analytics", "signal_flatlines"): analyst,
        ("analytics", "unit_plausible_ranges"): analyst,
        ("staging", "stg_raw__assets"): {},
        ("staging", "stg_raw__signals"): {},
        ("staging", "stg_raw__measurements"): {},
    }
    assert "Grants for relations are not supported" not in sample_warehouse.build.output


def test_unit_tests_ran_on_the_target(sample_warehouse: BuiltWarehouse) -> None:
    unit_tests = [
        r for r in sample_warehouse.build.results if r["unique_id"].startswith("unit_test.")
    ]
    assert len(unit_tests) >= 8
    assert {r["status"] for r in unit_tests} == {"pass"}


def test_measurements_hold_one_row_per_signal_and_utc_time(
    sample_warehouse: BuiltWarehouse, expected: Expected
) -> None:
    warehouse = sample_warehouse.warehouse
    assert (
        warehouse.scalar("select count(*) from analytics.measurements")
        == expected.measurements.height
        == 299_458
    )
    actual = pl.DataFrame(
        warehouse.rows("select signal_id, measured_at, value from analytics.measurements"),
        schema={"signal_id": pl.Int64, "measured_at": pl.Datetime("us"), "value": pl.Float64},
        orient="row",
    )
    difference = actual.join(
        expected.measurements, on=["signal_id", "measured_at", "value"], how="anti"
    )
    assert difference.height == 0


def test_duplicates_are_counted_not_hidden(
    sample_warehouse: BuiltWarehouse, expected: Expected
) -> None:
    warehouse = sample_warehouse.warehouse
    # 50 exact duplicate lines, 50 same-key-other-value pairs, 241 rows both dumps re-export
    assert expected.duplicates_dropped == 341
    assert warehouse.scalar("select sum(duplicates_dropped) from analytics.measurements") == 341
    assert (
        warehouse.scalar("select sum(duplicates_dropped) from analytics.signal_daily_quality")
        == 341
    )


def test_orphans_are_traced_per_file_and_signal(
    sample_warehouse: BuiltWarehouse, expected: Expected
) -> None:
    rows = sample_warehouse.warehouse.rows(
        "select signal_id, sum(n_readings) from analytics.orphan_measurements group by signal_id"
    )
    assert {signal for signal, _ in rows} == ORPHAN_SIGNAL_IDS
    assert sum(n for _, n in rows) == expected.orphans.height
    assert (
        sample_warehouse.warehouse.scalar(
            "select count(*) from analytics.measurements where signal_id in (421509, 436147)"
        )
        == 0
    )


def test_assets_and_signals_keep_the_valid_records(sample_warehouse: BuiltWarehouse) -> None:
    warehouse = sample_warehouse.warehouse
    assert warehouse.scalar("select count(*) from analytics.assets") == 10
    assert warehouse.scalar("select count(*) from analytics.signals") == 40
    assert warehouse.rows("select asset_name from analytics.assets where asset_id = 1") == [
        ("UW Beznau",)
    ]


def test_known_hourly_average(sample_warehouse: BuiltWarehouse, expected: Expected) -> None:
    # the busiest hour of the sample: 69 readings of signal 430067
    hour = (
        expected.hourly()
        .filter(signal_id=430067, hour_utc=datetime(2021, 12, 3, 22))
        .row(0, named=True)
    )
    (row,) = sample_warehouse.warehouse.rows(
        "select n, min, max, avg, first_value, last_value from analytics.measurements_hourly "
        "where signal_id = 430067 and hour_utc = timestamp '2021-12-03 22:00:00'"
    )
    assert row[0] == hour["n"] == 69
    assert (row[1], row[2], row[4], row[5]) == (
        hour["min"],
        hour["max"],
        hour["first_value"],
        hour["last_value"],
    )
    assert row[3] == pytest.approx(hour["avg"], rel=1e-12)


def test_hourly_table_matches_the_dumps(
    sample_warehouse: BuiltWarehouse, expected: Expected
) -> None:
    warehouse = sample_warehouse.warehouse
    hourly = expected.hourly()
    assert warehouse.scalar("select count(*) from analytics.measurements_hourly") == hourly.height
    assert (
        warehouse.scalar("select sum(n) from analytics.measurements_hourly")
        == expected.measurements.height
    )


def test_known_gap(sample_warehouse: BuiltWarehouse, expected: Expected) -> None:
    # data/README.md: signal 424699 is silent from 02:25:50 to 05:59:20 local time on 2022-02-06
    silent_from = local_to_utc("2022-02-06 02:25:50", SOURCE_TIMEZONE)
    silent_to = local_to_utc("2022-02-06 05:59:20", SOURCE_TIMEZONE)
    day = (
        expected.daily_gaps().filter(signal_id=424699, day_utc=date(2022, 2, 6)).row(0, named=True)
    )
    (gap,) = sample_warehouse.warehouse.rows(
        "select max_gap_seconds from analytics.signal_daily_quality "
        "where signal_id = 424699 and day_utc = date '2022-02-06'"
    )[0]
    assert gap == pytest.approx(day["max_gap_seconds"], abs=1e-6)
    assert gap == pytest.approx(13_989.921, abs=1e-6)
    assert gap >= (silent_to - silent_from).total_seconds()


def test_daily_gaps_match_the_dumps_for_every_signal_and_day(
    sample_warehouse: BuiltWarehouse, expected: Expected
) -> None:
    actual = pl.DataFrame(
        sample_warehouse.warehouse.rows(
            "select signal_id, day_utc, n, first_at, last_at, max_gap_seconds "
            "from analytics.signal_daily_quality where n > 0"
        ),
        schema={
            "signal_id": pl.Int64,
            "day_utc": pl.Date,
            "n": pl.Int64,
            "first_at": pl.Datetime("us"),
            "last_at": pl.Datetime("us"),
            "max_gap_seconds": pl.Float64,
        },
        orient="row",
    )
    wanted = expected.daily_gaps().with_columns(pl.col("n").cast(pl.Int64))
    joined = wanted.join(actual, on=["signal_id", "day_utc"], how="full", suffix="_actual")
    assert joined.filter(pl.col("n").is_null() | pl.col("n_actual").is_null()).height == 0
    assert (
        joined.filter(
            (pl.col("n") != pl.col("n_actual"))
            | (pl.col("first_at") != pl.col("first_at_actual"))
            | (pl.col("last_at") != pl.col("last_at_actual"))
            | ((pl.col("max_gap_seconds") - pl.col("max_gap_seconds_actual")).abs() > 1e-6)
        ).height
        == 0
    )


def test_silent_days_count_whole_and_the_last_day_up_to_the_end_of_the_data(
    sample_warehouse: BuiltWarehouse,
) -> None:
    warehouse = sample_warehouse.warehouse
    data_end = warehouse.scalar("select max(measured_at) from analytics.measurements")
    silent = warehouse.rows(
        "select day_utc, max_gap_seconds from analytics.signal_daily_quality where n = 0"
    )
    assert silent
    for day, gap in silent:
        if day < data_end.date():
            assert gap == 86_400
        else:
            assert gap == pytest.approx(
                (data_end - datetime.combine(day, datetime.min.time())).total_seconds()
            )


def test_stuck_sensors_and_implausible_values_are_flagged(sample_warehouse: BuiltWarehouse) -> None:
    warehouse = sample_warehouse.warehouse
    flat = warehouse.rows(
        "select signal_id, day_utc from analytics.signal_daily_quality where flatline"
    )
    assert set(flat) == STUCK_SIGNAL_DAYS
    out_of_range = warehouse.rows(
        "select signal_id, sum(out_of_range) from analytics.signal_daily_quality "
        "where out_of_range > 0 group by signal_id"
    )
    assert dict(out_of_range) == {signal: 1 for signal in OUT_OF_RANGE_SIGNALS}


def test_every_signal_has_a_row_for_every_day_from_its_first_reading(
    sample_warehouse: BuiltWarehouse,
) -> None:
    warehouse = sample_warehouse.warehouse
    rows = warehouse.rows(
        "select signal_id, count(*), min(day_utc), max(day_utc) from analytics.signal_daily_quality group by signal_id"
    )
    last_day = warehouse.scalar("select max(cast(measured_at as date)) from analytics.measurements")
    for signal_id, days, first, last in rows:
        assert last == last_day, signal_id
        assert days == (last - first).days + 1, signal_id


def test_marts_have_the_contracted_column_types(sample_warehouse: BuiltWarehouse) -> None:
    warehouse = sample_warehouse.warehouse
    columns = dict(
        warehouse.rows(
            "select column_name, lower(data_type) from information_schema.columns "
            "where table_schema = 'analytics' and table_name = 'measurements'"
        )
    )
    types = {
        "duckdb": {"bigint": "bigint", "timestamp": "timestamp", "double": "double", "text": "varchar"},
        "postgres": {
            "bigint": "bigint",
            "timestamp": "timestamp without time zone",
            "double": "double precision",
            "text": "text",
        },
    }[warehouse.settings.target]
    assert columns == {
        "signal_id": types["bigint"],
        "measured_at": types["timestamp"],
        "value": types["double"],
        "load_id": types["bigint"],
        "duplicates_dropped": types["bigint"],
        "local_time_flag": types["text"],
    }


def test_column_descriptions_are_persisted_for_sql_clients(
    sample_warehouse: BuiltWarehouse,
) -> None:
    warehouse = sample_warehouse.warehouse
    if warehouse.settings.target == "duckdb":
        comment = warehouse.scalar(
            "select comment from duckdb_columns() where schema_name = 'analytics' "
            "and table_name = 'measurements' and column_name = 'measured_at'"
        )
        table_comment = warehouse.scalar(
            "select comment from duckdb_tables() where schema_name = 'analytics' and table_name = 'signal_daily_quality'"
        )
    else:
        comment = warehouse.scalar(
            "select col_description('analytics.measurements'::regclass, "
            "(select attnum from pg_attribute where attrelid = 'analytics.measurements'::regclass "
            "and attname = 'measured_at'))"
        )
        table_comment = warehouse.scalar(
            "select obj_description('analytics.signal_daily_quality'::regclass)"
        )
    assert comment.startswith("Time of the reading in UTC")
    assert table_comment.startswith("The health of every signal")


def test_schemas_are_raw_staging_analytics_and_the_refresh_state(sample_warehouse: BuiltWarehouse) -> None:
    schemas = {
        row[0]
        for row in sample_warehouse.warehouse.rows(
            "select distinct table_schema from information_schema.tables "
            "where table_schema not in ('information_schema', 'pg_catalog', 'main')"
        )
    }
    # refresh_state: the incremental marts' bookkeeping, outside the graph of models
    assert schemas == {"raw", "staging", "analytics", "refresh_state"}
