"""Shared work of the orchestration tests: one full Dagster build per warehouse per session.

A build runs the `refresh` job exactly as `warehouse run` does (in this process, against a
Dagster instance made from orchestration/dagster.yaml) on a copy of the sample data in
data/, and keeps the report, the instance and a snapshot of the analytics tables for the
tests to read.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.runs import RunReport, run_job
from kernel.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA = PROJECT_ROOT / "data"
DUMP_NAMES = ("assets.json", "signal.json", "measurements_001.csv", "measurements_002.csv")


@dataclass
class Build:
    settings: Settings
    report: RunReport
    analytics: dict[str, list[tuple]]  # each analytics table, as `analytics_snapshot` reads it

    @property
    def instance(self):
        from orchestration.instance import open_instance

        return open_instance(self.settings)


def copy_sample_data(target: Path) -> Path:
    missing = [name for name in DUMP_NAMES if not (SAMPLE_DATA / name).is_file()]
    if missing:
        pytest.skip(f"sample data missing in {SAMPLE_DATA}: {', '.join(missing)}")
    target.mkdir(parents=True)
    for name in DUMP_NAMES:
        shutil.copy2(SAMPLE_DATA / name, target / name)
    return target


def build_settings(root: Path, **fields: object) -> Settings:
    """Settings of a warehouse living entirely under `root` (DuckDB unless told otherwise)."""
    return Settings(**{
        "data_dir": root / "data",
        "duckdb_path": root / "warehouse.duckdb",
        "dagster_home": root / "dagster_home",
        "automation_enabled": False,
        **fields,
    })


def query(settings: Settings, statement: str, params: tuple = ()) -> list[tuple]:
    from kernel.database import connect

    with connect(settings.warehouse, "loader") as sink:
        return sink.execute(statement, params)


def analytics_snapshot(settings: Settings) -> dict[str, list[tuple]]:
    """Every analytics table, rows sorted, load ids replaced by their file's name.

    Load ids are sequence numbers that a reseed does not reuse; the file a row came from
    is what must be the same.
    """
    from kernel.database import connect

    with connect(settings.warehouse, "loader") as sink:
        files = dict(sink.execute("SELECT load_id, source_file FROM raw.load_ledger"))
        tables = [name for (name,) in sink.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics' "
            "ORDER BY table_name")]
        snapshot = {}
        for table in tables:
            columns = [name for (name,) in sink.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'analytics' AND table_name = ? ORDER BY ordinal_position", (table,))]
            rows = sink.execute(f'SELECT * FROM analytics."{table}"')
            if "load_id" in columns:
                at = columns.index("load_id")
                rows = [(*row[:at], files.get(row[at], row[at]), *row[at + 1:]) for row in rows]
            snapshot[table] = sorted(rows, key=repr)
    return snapshot


def full_build(settings: Settings) -> Build:
    report = run_job(settings, "refresh")
    return Build(settings, report, analytics_snapshot(settings))


@pytest.fixture(scope="session")
def _no_warehouse_env() -> Iterator[None]:
    """What tests/conftest.py's autouse fixture does per test, for the session fixtures,
    which pytest sets up before it: no WAREHOUSE_* variable or .env file leaks in."""
    import os

    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("WAREHOUSE_") and key != "WAREHOUSE_TEST_PG_DSN":
                patch.delenv(key)
        patch.setitem(Settings.model_config, "env_file", None)
        yield


@pytest.fixture(scope="session")
def duckdb_build(tmp_path_factory: pytest.TempPathFactory, _no_warehouse_env: None) -> Build:
    root = tmp_path_factory.mktemp("duckdb-build")
    copy_sample_data(root / "data")
    return full_build(build_settings(root))


@pytest.fixture(scope="session")
def postgres_build(tmp_path_factory: pytest.TempPathFactory, pg_server_dsn: str,
                   _no_warehouse_env: None) -> Iterator[Build]:
    from tests.conftest import create_database, drop_database

    root = tmp_path_factory.mktemp("postgres-build")
    copy_sample_data(root / "data")
    dsn = create_database(pg_server_dsn, prefix="orchestration")
    yield full_build(build_settings(root, target="postgres", pg_dsn=dsn))
    drop_database(pg_server_dsn, dsn)
