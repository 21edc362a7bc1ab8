"""`dbt build` on Spark: the staging views and every mart built over the lake's raw tables
on the two-worker cluster hold what the DuckDB build of the same dumps holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pytest

from kernel.database import connect
from kernel.dbt_profiles import dbt_env
from kernel.paths import DBT_PROJECT_DIR
from kernel.settings import Settings
from kernel.spark_cluster import ClusterLayout
from loaders.pipeline import load_directory

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).with_name("dbt"))
# The dumps are written in Swiss local time, as in tests/dbt.
SOURCE_TIMEZONE = "Europe/Zurich"
# The analytics contract: every mart, and the seed the marts read.
ANALYTICS_TABLES = ("assets", "signals", "unit_plausible_ranges", "measurements", "orphan_measurements",
                    "measurements_15min", "measurements_hourly", "signal_daily", "signal_flatlines",
                    "signal_daily_quality")


@dataclass
class Build:
    settings: Settings
    returncode: int
    output: str
    results: list[dict]
    applications: list[dict] = field(default_factory=list)


def environment_without_settings() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(("WAREHOUSE_", "DBT_"))}


def run_dbt_build(settings: Settings, workdir: Path) -> Build:
    inherited = environment_without_settings()
    completed = subprocess.run(
        [DBT, "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target", settings.target, "--target-path", str(workdir / "dbt-target"),
         "--log-path", str(workdir / "dbt-logs")],
        cwd=workdir, env={**inherited, **dbt_env(settings)}, capture_output=True, text=True, timeout=1800)
    results_file = workdir / "dbt-target" / "run_results.json"
    results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
    return Build(settings, completed.returncode, completed.stdout + completed.stderr, results)


def loaded(settings: Settings) -> None:
    results = load_directory(settings.warehouse, settings.data_path)
    assert [r.status for r in results] == ["loaded"] * 4


@pytest.fixture(scope="module")
def duckdb_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    workdir = tmp_path_factory.mktemp("duckdb-build")
    shutil.copytree(PROJECT_ROOT / "data", workdir / "data")
    settings = Settings(_env_file=None, target="duckdb", data_dir=workdir / "data",
                        duckdb_path=workdir / "warehouse.duckdb", source_timezone=SOURCE_TIMEZONE)
    loaded(settings)
    build = run_dbt_build(settings, workdir)
    assert build.returncode == 0, build.output[-4000:]
    return build


@pytest.fixture(scope="module")
def spark_build(spark_cluster: ClusterLayout, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    """data/ loaded into a lake, its raw tables defined, and `dbt build` run on the cluster."""
    workdir = tmp_path_factory.mktemp("spark-build")
    shutil.copytree(PROJECT_ROOT / "data", workdir / "data")
    settings = Settings(_env_file=None, target="spark", data_dir=workdir / "data",
                        spark_master=spark_cluster.master_url, spark_lake_dir=workdir / "lake",
                        spark_metastore_dir=workdir / "spark" / "metastore", source_timezone=SOURCE_TIMEZONE)
    # `warehouse migrate` defines the raw tables in the metastore, in a process of its own:
    # the embedded Derby metastore admits one JVM at a time, and a JVM started here would
    # keep it booted while dbt's runs.
    migrate = subprocess.run(
        [str(Path(sys.executable).with_name("warehouse")), "migrate"], cwd=workdir, capture_output=True, text=True,
        timeout=600, env={**environment_without_settings(), "WAREHOUSE_TARGET": "spark",
                          "WAREHOUSE_DATA_DIR": str(settings.data_dir), "WAREHOUSE_SPARK_MASTER": settings.spark_master,
                          "WAREHOUSE_SPARK_LAKE_DIR": str(settings.spark_lake_dir),
                          "WAREHOUSE_SPARK_METASTORE_DIR": str(settings.spark_metastore_dir)})
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    loaded(settings)
    before = {app["id"] for app in master_state(spark_cluster)["completedapps"]}
    build = run_dbt_build(settings, workdir)
    build.applications = [app for app in master_state(spark_cluster)["completedapps"] if app["id"] not in before]
    yield build


def master_state(cluster: ClusterLayout) -> dict:
    with urllib.request.urlopen(f"{cluster.ui_url}/json/", timeout=5) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def duckdb_tables(duckdb_build: Build) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(duckdb_build.settings.duckdb_path), read_only=True) as conn:
        return {name: normalised(pl.from_arrow(conn.sql(f"select * from analytics.{name}").to_arrow_table()))
                for name in ANALYTICS_TABLES}


@pytest.fixture(scope="module")
def spark_tables(spark_build: Build) -> dict[str, pl.DataFrame]:
    """The analytics tables as Spark reads them, through one driver after the build."""
    assert spark_build.returncode == 0, spark_build.output[-6000:]
    with connect(spark_build.settings.warehouse, "reader") as spark:
        return {name: normalised(pl.from_arrow(spark.read_arrow(f"select * from analytics.{name}")))
                for name in ANALYTICS_TABLES}


def statuses(build: Build) -> dict[str, str]:
    return {r["unique_id"]: r["status"] for r in build.results}


def normalised(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps as naive UTC, integers as Int64, decimals and floats as Float64, rows
    sorted by every column."""
    columns = []
    for column, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime):
            columns.append(pl.col(column).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
                              if dtype.time_zone else pl.col(column))
        elif dtype.is_integer():
            columns.append(pl.col(column).cast(pl.Int64))
        elif dtype.is_float() or isinstance(dtype, pl.Decimal):
            columns.append(pl.col(column).cast(pl.Float64))
        else:
            columns.append(pl.col(column))
    frame = frame.select(columns)
    return frame.sort(frame.columns, nulls_last=True)


def test_the_spark_build_passes_with_the_same_results_as_duckdb(spark_build: Build, duckdb_build: Build) -> None:
    assert spark_build.returncode == 0, spark_build.output[-6000:]
    spark_statuses = statuses(spark_build)
    # Every model, seed, data test and unit test of the project, with the same outcome
    # (passes, and the two warnings the sample data plants: orphans, implausible values).
    assert spark_statuses == statuses(duckdb_build)
    assert {status for status in spark_statuses.values()} == {"success", "pass", "warn"}


@pytest.mark.parametrize("table", ANALYTICS_TABLES)
def test_each_analytics_table_equals_the_duckdb_build(spark_tables: dict[str, pl.DataFrame],
                                                      duckdb_tables: dict[str, pl.DataFrame], table: str) -> None:
    on_spark, on_duckdb = spark_tables[table], duckdb_tables[table]
    assert on_spark.columns == on_duckdb.columns
    assert on_spark.height == on_duckdb.height > 0
    for column in on_duckdb.columns:
        ours, theirs = on_spark[column], on_duckdb[column]
        assert ours.is_null().to_list() == theirs.is_null().to_list(), column
        if theirs.dtype == pl.Float64:
            # Sums of doubles depend on the order of addition: equal within 1e-9 (relative
            # to the value, absolute near zero).
            difference = (ours - theirs).abs()
            allowed = theirs.abs().clip(lower_bound=1.0) * 1e-9
            worst = (difference - allowed).drop_nulls().max()
            assert worst is None or worst <= 0, f"{table}.{column}: off by more than 1e-9"
        else:
            assert ours.to_list() == theirs.to_list(), f"{table}.{column}"


def test_the_build_ran_on_executors_of_both_workers(spark_build: Build, spark_cluster: ClusterLayout) -> None:
    assert spark_build.returncode == 0, spark_build.output[-3000:]
    # One driver for the whole build, whose executors held a core of each of the two
    # one-core workers.
    assert [(app["name"], app["state"], app["cores"]) for app in spark_build.applications] == [
        ("gridwarehouse-dbt", "FINISHED", 2)]
    assert [(worker["state"], worker["cores"]) for worker in master_state(spark_cluster)["workers"]] == [
        ("ALIVE", 1), ("ALIVE", 1)]
