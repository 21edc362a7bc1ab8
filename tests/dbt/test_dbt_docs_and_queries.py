"""The analysts' side: every SQL block of the READMEs answers on both warehouses with the
rows it promises, every column the READMEs name exists, and the documentation builds
offline."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from dbt_harness import DBT_PROJECT_DIR, SAMPLE_DATA, BuiltWarehouse
from sample_expectations import Expected

import time_weighted_expectations as recompute

from kernel.paths import PROJECT_ROOT

READMES = [PROJECT_ROOT / "README.md", SAMPLE_DATA / "README.md", DBT_PROJECT_DIR / "README.md"]
# "Today" for the README queries on the sample (2021-11-07 to 2022-02-07), as they advise.
SAMPLE_TODAY = "date '2022-02-07'"
SCHEMAS = ("raw", "analytics")
BEZOBF110AIROLOU_L12 = 432284
LAUFLA220SOAZZAU_L12 = 424699
GRYAAT220TR_2_P = 439504
YESTERDAY = date(2022, 2, 6)


def sql_statements(readme: Path) -> list[str]:
    """Every statement of every ```sql block in `readme`, each ending in ';'."""
    blocks = re.findall(r"```sql\n(.*?)```", readme.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [statement.strip() + ";" for block in blocks
            for statement in re.split(r";\s*$", block, flags=re.MULTILINE) if statement.strip()]


def title(statement: str) -> str:
    """A README query's first line, a comment saying what it asks."""
    first = statement.splitlines()[0]
    assert first.startswith("-- "), f"a README query opens with a comment on what it asks: {first}"
    return first.removeprefix("-- ")


def readme_queries() -> list[tuple[str, str]]:
    return [(f"{readme.relative_to(PROJECT_ROOT)}: {title(statement)}", statement)
            for readme in READMES for statement in sql_statements(readme)]


def check_ledger(rows: list[tuple], expected: Expected) -> None:
    assert [row[:5] for row in rows] == [
        ("measurements_002.csv", "loaded", 147_891, 147_828, 63),
        ("measurements_001.csv", "loaded", 152_109, 152_021, 88),
        ("signal.json", "loaded", 42, 40, 2),
        ("assets.json", "loaded", 12, 10, 2),
    ]


def check_reject_reasons(rows: list[tuple], expected: Expected) -> None:
    # data/README.md: 50 empty values, 50 non-numbers, 50 bad timestamps, 1 truncated
    # line, 4 bad JSON records; the bad timestamps each have a reason of their own.
    assert sum(row[2] for row in rows) == 155
    assert len(rows) == 67
    assert set(rows[:2]) == {("measurements_001.csv", "MeasurementValue is empty", 25),
                             ("measurements_002.csv", "MeasurementValue is empty", 25)}


def check_last_weeks_hours(rows: list[tuple], expected: Expected) -> None:
    # Monday 31 January to Sunday 6 February 2022, the hours with readings
    week = expected.hourly().filter(
        pl.col("signal_id") == BEZOBF110AIROLOU_L12,
        pl.col("hour_utc").is_between(datetime(2022, 1, 31), datetime(2022, 2, 7), closed="left"),
    ).sort("hour_utc")
    assert 160 <= week.height <= 168
    assert [row[0] for row in rows] == week["hour_utc"].to_list()
    assert [row[1] for row in rows] == pytest.approx(week["avg"].to_list(), rel=1e-12)


def check_unusual_silences(rows: list[tuple], expected: Expected) -> None:
    # data/README.md: LAUFLA220SOAZZAU_L12 is silent from 02:25:50 to 05:59:20 on 6 February,
    # the sample's only outage that day.
    gaps = expected.daily_gaps().filter(signal_id=LAUFLA220SOAZZAU_L12)
    day = gaps.filter(day_utc=date(2022, 2, 6))["max_gap_seconds"].item()
    four_weeks_before = pl.col("day_utc").is_between(date(2022, 1, 9), date(2022, 2, 5))
    usual = gaps.filter(four_weeks_before)
    assert usual.height == 28
    assert [row[:2] for row in rows] == [("LAUFLA220SOAZZAU_L12", "kV")]
    row = rows[0]
    assert row[-2] == pytest.approx(day / 3600, rel=1e-9)
    assert row[-1] == pytest.approx(usual["max_gap_seconds"].median() / 3600, rel=1e-9)


def catalogue() -> pl.DataFrame:
    return recompute.signal_catalogue(SAMPLE_DATA / "signal.json")


def check_transformer_energy(rows: list[tuple], expected: Expected) -> None:
    # data/: three transformers have power signals, GRYAAT220TR_2 active (MW), the two
    # others reactive (MVAr); each is covered all day
    signals = catalogue()
    days = recompute.daily(expected.measurements, dict(zip(signals["signal_id"], signals["unit"], strict=True)))
    wanted = (
        days.filter(day_utc=YESTERDAY)
        .join(signals, on="signal_id")
        .filter(pl.col("signal_name").str.slice(9, 3) == "TR_", pl.col("unit").is_in(["kW", "MW", "MVAr"]))
        .group_by(transformer=pl.col("signal_name").str.head(-3))
        .agg(active=pl.col("energy_kwh").sum() / 1000, reactive=pl.col("reactive_energy_kvarh").sum() / 1000)
        .sort("transformer")
    )
    assert [row[:2] for row in rows] == [("UW Bassecourt", "BASJUR110TR_1"), ("UW Grynau", "GRYAAT220TR_2"),
                                         ("UW Mühleberg", "MUHWIL110TR_3")]
    by_name = {row[1]: row for row in rows}
    for transformer, active, reactive in wanted.iter_rows():
        _, _, active_mwh, reactive_mvarh, coverage = by_name[transformer]
        assert (active_mwh is None) == (transformer != "GRYAAT220TR_2")
        assert (active_mwh or 0.0) == pytest.approx(active, rel=1e-9)
        assert (reactive_mvarh or 0.0) == pytest.approx(reactive, rel=1e-9)
        assert coverage == 1.0
    assert by_name["GRYAAT220TR_2"][2] > 1000  # a 220 kV transformer: GWh a day


def check_load_profile(rows: list[tuple], expected: Expected) -> None:
    intervals = recompute.fifteen_minutes(expected.measurements, {GRYAAT220TR_2_P: "MW"}).filter(
        pl.col("signal_id") == GRYAAT220TR_2_P, pl.col("interval_start_utc").dt.date() == YESTERDAY)
    # the sample's last reading is at 23:59:50 Swiss time (22:59:50 UTC): 92 intervals
    assert len(rows) == intervals.height == 92
    assert [row[0] for row in rows] == intervals["interval_start_utc"].to_list()
    assert [row[1] for row in rows] == pytest.approx(intervals["avg_time_weighted"].to_list(), rel=1e-9)
    assert [row[2] for row in rows] == pytest.approx((intervals["energy_kwh"] / 1000).to_list(), rel=1e-9)
    assert [row[3] for row in rows] == pytest.approx((intervals["covered_seconds"] / 900).to_list(), rel=1e-9)
    assert [row[4] for row in rows] == intervals["readings"].to_list()
    # an interval's energy is its average power over the covered quarter hour
    assert all(energy == pytest.approx(avg * share / 4, rel=1e-9) for _, avg, energy, share, _ in rows)


CHECKS: dict[str, Callable[[list[tuple], Expected], None]] = {
    "what was loaded, and does it reconcile?": check_ledger,
    "why were rows rejected?": check_reject_reasons,
    "hourly average voltage of one signal last week (Monday to Sunday, UTC)":
        check_last_weeks_hours,
    "signals silent yesterday for far longer than usual: the day's longest silence is more":
        check_unusual_silences,
    "energy through each transformer yesterday (UTC), and the share of the day its readings cover":
        check_transformer_energy,
    "15-minute load profile of one transformer yesterday (UTC): average power and energy": check_load_profile,
}


def test_the_readmes_hold_the_queries_this_file_checks() -> None:
    titles = {name.split(": ", 1)[1] for name, _ in readme_queries()}
    assert titles == set(CHECKS), "a README query without a check here, or a check of no query"
    assert len(readme_queries()) == 10


@pytest.mark.parametrize(("name", "statement"), readme_queries(),
                         ids=[name for name, _ in readme_queries()])
def test_readme_query_returns_what_it_promises(
    sample_warehouse: BuiltWarehouse, expected: Expected, name: str, statement: str
) -> None:
    rows = sample_warehouse.warehouse.rows(statement.replace("current_date", SAMPLE_TODAY))
    assert rows, f"{name}: no rows on the sample"
    CHECKS[title(statement)](rows, expected)


def documented_columns() -> list[tuple[str, str, str, list[str]]]:
    """(readme, schema, table, columns) for every row of a README table that names columns.

    Two shapes: a table with a `columns` column (the analysts' contract: plain names, a
    parenthesis is a note), and a row whose first cell names `schema.table`s, its other
    cells naming columns in backticks (`other_table.column`: a column of a sibling table).
    """
    found = []
    for readme in READMES:
        name = readme.relative_to(PROJECT_ROOT).as_posix()
        header: list[str] = []
        for line in readme.read_text(encoding="utf-8").splitlines():
            if not line.startswith("|"):
                header = []
                continue
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not header:
                header = cells
                continue
            if set(line) <= set("|-: "):
                continue
            if "columns" in header:
                (table,) = re.findall(r"`(\w+)`", cells[0])
                columns = re.sub(r"\(.*?\)", "", cells[header.index("columns")]).split(",")
                found.append((name, "analytics", table, [column.strip() for column in columns]))
                continue
            spans = " ".join(re.findall(r"`([^`]*)`", " ".join(cells[1:])))
            for schema, table in re.findall(rf"`({'|'.join(SCHEMAS)})\.(\w+)`", cells[0]):
                for word in re.findall(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?", spans):
                    sibling, _, column = word.rpartition(".")
                    if sibling not in SCHEMAS:
                        found.append((name, schema, sibling or table, [column]))
    return found


def columns_in_database(built: BuiltWarehouse) -> dict[tuple[str, str], list[str]]:
    rows = built.warehouse.rows(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema in ('raw', 'analytics') "
        "order by table_schema, table_name, ordinal_position")
    tables: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), []).append(column)
    return tables


def test_the_readmes_tables_of_columns_are_all_read() -> None:
    tables = {(readme, f"{schema}.{table}") for readme, schema, table, _ in documented_columns()}
    assert {table for readme, table in tables if readme == "README.md"} == {
        "raw.assets", "raw.signals", "raw.measurements", "raw.rejected_rows", "raw.load_ledger",
        "analytics.assets", "analytics.signals", "analytics.measurements",
        "analytics.measurements_hourly", "analytics.measurements_15min", "analytics.signal_daily",
        "analytics.signal_daily_quality", "analytics.signal_flatlines", "analytics.orphan_measurements"}
    assert len({table for readme, table in tables if readme == "dbt_project/README.md"}) == 10


def test_every_column_the_readmes_name_exists(sample_warehouse: BuiltWarehouse) -> None:
    tables = columns_in_database(sample_warehouse)
    missing = [(readme, f"{schema}.{table}", column)
               for readme, schema, table, columns in documented_columns()
               for column in columns if column not in tables.get((schema, table), [])]
    assert missing == []


def test_the_contract_lists_every_analytics_table_with_all_its_columns_in_order(
    sample_warehouse: BuiltWarehouse,
) -> None:
    listed = {table: columns for readme, _, table, columns in documented_columns()
              if readme == "dbt_project/README.md"}
    in_database = {table: columns for (schema, table), columns
                   in columns_in_database(sample_warehouse).items() if schema == "analytics"}
    assert listed == in_database


def test_docs_generate_works_offline(sample_warehouse: BuiltWarehouse) -> None:
    warehouse = sample_warehouse.warehouse
    warehouse.dbt("docs", "generate")
    target = warehouse.workdir / "dbt-target"
    assert (target / "index.html").exists()
    catalog = json.loads((target / "catalog.json").read_text())
    measurements = catalog["nodes"]["model.gridwarehouse.measurements"]
    assert set(measurements["columns"]) >= {"signal_id", "measured_at", "value"}
    manifest = json.loads((target / "manifest.json").read_text())
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model":
            assert node["description"], node["name"]
            undocumented = [
                name for name, column in node["columns"].items() if not column["description"]
            ]
            assert not undocumented, (node["name"], undocumented)


def test_source_freshness_passes_right_after_a_load(sample_warehouse: BuiltWarehouse) -> None:
    warehouse = sample_warehouse.warehouse
    warehouse.dbt("source", "freshness")
    results = json.loads((warehouse.workdir / "dbt-target" / "sources.json").read_text())["results"]
    assert {result["unique_id"].split(".")[-1] for result in results} == {
        "assets",
        "signals",
        "measurements",
        "rejected_rows",
        "load_ledger",
    }
    assert {result["status"] for result in results} == {"pass"}
