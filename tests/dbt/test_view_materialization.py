"""Views are rebuilt only when their definition changed (macros/materializations/view.sql).

What a build did is read from the statements dbt sent the warehouse (its debug log):
a rebuilt view is created under a temporary name and renamed.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbt_harness import DbtRun, DbtWarehouse, new_warehouse

VIEWS = {"stg_raw__assets", "stg_raw__measurements", "stg_raw__signals"}
STAGING = ("--select", "staging")
CREATED_VIEW = re.compile(r'create view\s+"[^"]+"\."staging"\."(\w+)__dbt_tmp"')


@pytest.fixture(scope="module")
def duckdb_views(tmp_path_factory: pytest.TempPathFactory) -> DbtWarehouse:
    """A DuckDB warehouse whose staging views were built once."""
    warehouse = DbtWarehouse.create(tmp_path_factory.mktemp("views-duckdb"), "duckdb")
    warehouse.copy_sample_files("assets.json", "signal.json")
    warehouse.load()
    assert views_created(warehouse)[1] == VIEWS
    return warehouse


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path, duckdb_views: DbtWarehouse) -> Iterator[DbtWarehouse]:
    """A warehouse whose staging views were built once, for one test to change.

    On DuckDB a copy of `duckdb_views` under the same file name (dbt compiles the database's
    name, the file's stem, into each view's SQL). On PostgreSQL, where the name is the
    database's own, one built for the test.
    """
    if request.param == "duckdb":
        shutil.copytree(duckdb_views.data_dir, tmp_path / "data")
        shutil.copyfile(duckdb_views.settings.duckdb_path, tmp_path / duckdb_views.settings.duckdb_path.name)
        yield DbtWarehouse.create(tmp_path, "duckdb")
        return
    with new_warehouse(request, tmp_path, request.param) as warehouse:
        warehouse.copy_sample_files("assets.json", "signal.json")
        warehouse.load()
        assert views_created(warehouse)[1] == VIEWS
        yield warehouse


def views_created(warehouse: DbtWarehouse, *args: str) -> tuple[DbtRun, set[str]]:
    """Build the staging views; the run and the views it created."""
    log = warehouse.workdir / "dbt-logs" / "dbt.log"
    start = log.stat().st_size if log.exists() else 0
    run = warehouse.dbt("run", *STAGING, *args)
    with log.open("rb") as handle:
        handle.seek(start)
        statements = handle.read().decode("utf-8", errors="replace")
    return run, set(CREATED_VIEW.findall(statements))


def view_comment(warehouse: DbtWarehouse, view: str) -> str:
    if warehouse.settings.target == "duckdb":
        return warehouse.scalar(
            f"select comment from duckdb_views() where schema_name = 'staging' and view_name = '{view}'")
    return warehouse.scalar(f"select obj_description('staging.{view}'::regclass, 'pg_class')")


def test_a_second_build_keeps_every_unchanged_view(warehouse: DbtWarehouse) -> None:
    run, created = views_created(warehouse)
    assert created == set()
    assert {run.result(view)["message"] for view in VIEWS} == {"unchanged"}


def test_a_view_whose_compiled_sql_changed_is_rebuilt_and_only_it(warehouse: DbtWarehouse) -> None:
    # The source time zone is compiled into stg_raw__measurements only.
    _, created = views_created(warehouse, "--vars", json.dumps({"source_timezone": "America/New_York"}))
    assert created == {"stg_raw__measurements"}
    assert "America/New_York" in warehouse.compiled_sql("stg_raw__measurements")


def test_a_full_refresh_rebuilds_every_view(warehouse: DbtWarehouse) -> None:
    assert views_created(warehouse, "--full-refresh")[1] == VIEWS


def test_a_view_replaced_outside_dbt_is_rebuilt(warehouse: DbtWarehouse) -> None:
    if warehouse.settings.target == "duckdb":
        import duckdb

        with duckdb.connect(str(warehouse.settings.duckdb_path)) as conn:
            conn.execute("create or replace view staging.stg_raw__assets as select 1 as asset_id")
    else:
        import psycopg

        with psycopg.connect(warehouse.settings.require_pg_dsn()) as conn:
            conn.execute("drop view staging.stg_raw__assets cascade")
            conn.execute("create view staging.stg_raw__assets as select 1 as asset_id")
    assert views_created(warehouse)[1] == {"stg_raw__assets"}
    assert warehouse.scalar("select count(*) from staging.stg_raw__assets") == 10


def test_a_kept_view_still_carries_its_description_for_sql_clients(warehouse: DbtWarehouse) -> None:
    views_created(warehouse)
    comment = view_comment(warehouse, "stg_raw__assets")
    assert comment.startswith("One row per asset from raw.assets, renamed, trimmed and typed.")
    assert re.search(r"\n\[view definition [0-9a-f]{32}\]$", comment)
