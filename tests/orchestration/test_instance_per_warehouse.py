"""One Dagster history per warehouse: every DuckDB file and every PostgreSQL database has
an instance folder of its own under .state/dagster, the same one whenever the same
warehouse is named; WAREHOUSE_DAGSTER_HOME, when set, is used as is.

The last test is a real `warehouse run` on one DuckDB file: its run is in that warehouse's
instance and not in another's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.paths import STATE_DIR
from kernel.settings import Settings, load_settings
from orchestration.instance import open_instance

WAREHOUSE = Path(sys.executable).parent / "warehouse"
DAGSTER_STATE = STATE_DIR / "dagster"


def duckdb(path: Path) -> Settings:
    return Settings(duckdb_path=path)


def postgres(dsn: str, env: str = "dev") -> Settings:
    return Settings(target="postgres", pg_dsn=dsn, env=env)


def test_two_duckdb_files_have_two_instances(tmp_path: Path) -> None:
    first = duckdb(tmp_path / "first.duckdb").dagster_instance_dir
    second = duckdb(tmp_path / "second.duckdb").dagster_instance_dir

    assert first != second
    assert first.parent == second.parent == DAGSTER_STATE
    assert first.name.startswith("duckdb-first-")
    assert second.name.startswith("duckdb-second-")


def test_one_file_name_in_two_folders_has_two_instances(tmp_path: Path) -> None:
    assert (duckdb(tmp_path / "a" / "warehouse.duckdb").dagster_instance_dir
            != duckdb(tmp_path / "b" / "warehouse.duckdb").dagster_instance_dir)


def test_the_same_duckdb_file_has_the_same_instance_however_it_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absolute = duckdb(tmp_path / "warehouse.duckdb").dagster_instance_dir
    monkeypatch.chdir(tmp_path)

    assert duckdb(tmp_path / "warehouse.duckdb").dagster_instance_dir == absolute
    assert duckdb(Path("warehouse.duckdb")).dagster_instance_dir == absolute
    assert duckdb(Path("sub/../warehouse.duckdb")).dagster_instance_dir == absolute


def test_a_postgres_warehouse_is_named_by_host_port_and_database() -> None:
    settings = postgres("postgresql://loader:secret@db.example.com:6543/gridwarehouse_dev")

    assert (settings.dagster_instance_dir
            == DAGSTER_STATE / "postgres-db.example.com-6543-gridwarehouse_dev")


def test_a_postgres_dsn_without_port_or_database_gets_libpq_s_port_and_the_profile_s_database(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGPORT", raising=False)

    assert (postgres("host=db.example.com user=loader", env="prod").dagster_instance_dir
            == DAGSTER_STATE / "postgres-db.example.com-5432-gridwarehouse_prod")


def test_a_postgres_socket_folder_makes_a_plain_folder_name() -> None:
    settings = postgres("host=/var/run/postgresql port=5433 dbname=gridwarehouse_dev")

    assert (settings.dagster_instance_dir
            == DAGSTER_STATE / "postgres-var_run_postgresql-5433-gridwarehouse_dev")


def test_duckdb_and_postgres_warehouses_have_different_instances(tmp_path: Path) -> None:
    on_duckdb = duckdb(tmp_path / "warehouse.duckdb").dagster_instance_dir
    on_postgres = postgres("postgresql://loader@localhost:5432/gridwarehouse_dev").dagster_instance_dir
    other_database = postgres("postgresql://loader@localhost:5432/gridwarehouse_test").dagster_instance_dir
    other_server = postgres("postgresql://loader@localhost:5433/gridwarehouse_dev").dagster_instance_dir

    assert len({on_duckdb, on_postgres, other_database, other_server}) == 4


def test_the_same_settings_give_the_same_instance(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    assert duckdb(path).dagster_instance_dir == duckdb(path).dagster_instance_dir
    dsn = "postgresql://loader@localhost:5432/gridwarehouse_dev"
    assert postgres(dsn).dagster_instance_dir == postgres(dsn).dagster_instance_dir


def test_an_explicit_dagster_home_is_used_as_is_for_any_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_DAGSTER_HOME", str(tmp_path / "shared"))
    monkeypatch.setenv("WAREHOUSE_DUCKDB_PATH", str(tmp_path / "first.duckdb"))
    first = load_settings()
    monkeypatch.setenv("WAREHOUSE_DUCKDB_PATH", str(tmp_path / "second.duckdb"))
    second = load_settings()
    on_postgres = load_settings(target="postgres",
                                pg_dsn="postgresql://loader@localhost/gridwarehouse_dev")

    assert {first.dagster_instance_dir, second.dagster_instance_dir, on_postgres.dagster_instance_dir} \
        == {tmp_path / "shared"}


@pytest.fixture
def two_warehouses(tmp_path: Path) -> Iterator[tuple[Settings, Settings]]:
    """Two DuckDB warehouses over one small data folder, with their default instances;
    the instance folders this makes under .state/dagster are removed afterwards."""
    from sample_data import generate_dumps

    generate_dumps(tmp_path / "data", 2_000, seed=7)
    first, second = (Settings(data_dir=tmp_path / "data", duckdb_path=tmp_path / name,
                              automation_enabled=False)
                     for name in ("first.duckdb", "second.duckdb"))
    yield first, second
    for settings in (first, second):
        shutil.rmtree(settings.dagster_instance_dir, ignore_errors=True)


@pytest.mark.timeout(600)
def test_a_run_on_one_warehouse_is_not_in_the_history_of_another(
    two_warehouses: tuple[Settings, Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # else open_instance reads that one
    first, second = two_warehouses
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("WAREHOUSE_", "DAGSTER_"))}
    env.update({"WAREHOUSE_DATA_DIR": str(first.data_dir),
                "WAREHOUSE_DUCKDB_PATH": str(first.duckdb_path),
                "WAREHOUSE_AUTOMATION_ENABLED": "false"})

    completed = subprocess.run([str(WAREHOUSE), "run"], env=env, cwd=tmp_path, capture_output=True, text=True,
                               timeout=480, check=False)

    assert completed.returncode == 0, completed.stderr[-3000:]
    with open_instance(first) as instance:
        runs = instance.get_runs()
        assert [(run.job_name, run.is_success) for run in runs] == [("refresh", True)]
        assert runs[0].run_id in completed.stdout
    with open_instance(second) as instance:
        assert instance.get_runs() == []
    assert first.dagster_instance_dir != second.dagster_instance_dir
