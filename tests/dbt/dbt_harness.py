"""Run the dbt project against a real warehouse and read what it built.

A `DbtWarehouse` is one database (a DuckDB file or a PostgreSQL database) with its own
data folder and dbt target folder, so tests can load dumps, run dbt and query the
result without sharing state with other tests or other pytest processes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from loaders.pipeline import load_directory
from kernel.dbt_profiles import DBT_PROJECT_DIR, dbt_env
from kernel.paths import PROJECT_ROOT
from kernel.settings import Settings

DBT = Path(sys.executable).parent / "dbt"
SAMPLE_DATA = PROJECT_ROOT / "data"
# The operator is Swiss: the tests read the dumps as Swiss local time, so that the
# conversion to UTC is exercised (the sample files span no DST change).
SOURCE_TIMEZONE = "Europe/Zurich"
SAMPLE_DUMPS = ["measurements_001.csv", "measurements_002.csv"]
ANALYTICS_TABLES = (
    "assets",
    "signals",
    "measurements",
    "measurements_hourly",
    "measurements_15min",
    "signal_daily_quality",
    "signal_daily",
    "orphan_measurements",
)


class DbtFailed(AssertionError):
    """A dbt command exited non-zero; the message holds the end of its output."""


@dataclass
class DbtRun:
    returncode: int
    output: str
    results: list[dict[str, Any]]

    def result(self, name: str) -> dict[str, Any]:
        """The run result of the node called `name` (generic tests: without their hash suffix)."""
        matches = [r for r in self.results if name in r["unique_id"].split(".")[2:]]
        assert matches, f"no node {name!r} in this dbt run"
        return matches[0]

    def statuses(self) -> dict[str, str]:
        return {r["unique_id"]: r["status"] for r in self.results}


@dataclass
class DbtWarehouse:
    settings: Settings
    workdir: Path

    @classmethod
    def create(cls, workdir: Path, target: str, pg_dsn: str | None = None) -> DbtWarehouse:
        data_dir = workdir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = Settings(
            _env_file=None,
            env="dev",
            target=target,
            data_dir=data_dir,
            duckdb_path=workdir / "warehouse.duckdb",
            pg_dsn=pg_dsn,
            transformer_pg_dsn=None,
            source_timezone=SOURCE_TIMEZONE,
        )
        return cls(settings=settings, workdir=workdir)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def copy_sample_files(self, *names: str) -> None:
        for name in names:
            shutil.copyfile(SAMPLE_DATA / name, self.data_dir / name)

    def load(self) -> None:
        results = load_directory(self.settings.warehouse, self.settings.data_path)
        failed = [r for r in results if r.status == "failed"]
        assert not failed, f"loads failed: {failed}"

    def dbt(self, *args: str, check: bool = True) -> DbtRun:
        """Run one dbt command with this warehouse's settings; the target folder is private."""
        target_path = self.workdir / "dbt-target"
        command = [
            str(DBT),
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target",
            self.settings.target,
            "--target-path",
            str(target_path),
            "--log-path",
            str(self.workdir / "dbt-logs"),
        ]
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("WAREHOUSE_", "DBT_"))
        }
        completed = subprocess.run(
            command,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            env={**inherited, **dbt_env(self.settings)},
            check=False,
        )
        output = completed.stdout + completed.stderr
        results_file = target_path / "run_results.json"
        results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
        results_file.unlink(missing_ok=True)
        if check and completed.returncode != 0:
            raise DbtFailed(
                f"dbt {' '.join(args)} failed ({completed.returncode}):\n{output[-6000:]}"
            )
        return DbtRun(completed.returncode, output, results)

    def compiled_sql(self, model: str) -> str:
        path = self.workdir / "dbt-target" / "compiled" / "gridwarehouse" / "models"
        # unit tests' fixtures are compiled under their YAML file's name: not the model
        return next(found for found in path.rglob(f"{model}.sql")
                    if not any(part.endswith(".yml") for part in found.parts)).read_text()

    def rows(self, statement: str) -> list[tuple]:
        if self.settings.target == "duckdb":
            with duckdb.connect(str(self.settings.duckdb_path), read_only=True) as conn:
                return conn.execute(statement).fetchall()
        with psycopg.connect(self.settings.require_pg_dsn()) as conn:
            return conn.execute(statement).fetchall()

    def scalar(self, statement: str) -> Any:
        (row,) = self.rows(statement)
        return row[0]

    def table(self, name: str) -> list[tuple]:
        """Every row of analytics.<name>, in a stable order, for comparing whole tables."""
        return sorted(self.rows(f"select * from analytics.{name}"), key=repr)


@dataclass
class BuiltWarehouse:
    """A warehouse and the `dbt build` that built it."""

    warehouse: DbtWarehouse
    build: DbtRun


@contextmanager
def new_warehouse(
    request: pytest.FixtureRequest, workdir: Path, target: str
) -> Iterator[DbtWarehouse]:
    """An empty warehouse of `target` in `workdir` (a database of its own on PostgreSQL)."""
    if target == "duckdb":
        yield DbtWarehouse.create(workdir, "duckdb")
        return
    from tests.conftest import create_database, drop_database

    server = request.getfixturevalue("pg_server_dsn")
    dsn = create_database(server, prefix="dbt")
    try:
        yield DbtWarehouse.create(workdir, "postgres", pg_dsn=dsn)
    finally:
        drop_database(server, dsn)
