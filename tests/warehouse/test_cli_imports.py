"""Each command imports what it needs: `--help` and `load` answer without Dagster or dbt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("dagster", "dagster_dbt", "dbt")


def imported_packages(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level packages a `warehouse` process imported, from Python's own -X importtime."""
    completed = subprocess.run([sys.executable, "-X", "importtime", "-m", "warehouse.cli", *args],
                               capture_output=True, text=True, env=env, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = [line for line in completed.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines[1:]}


def test_help_imports_neither_dagster_nor_dbt() -> None:
    assert imported_packages("--help").isdisjoint(HEAVY)


def test_load_imports_neither_dagster_nor_dbt(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAREHOUSE_")}
    (tmp_path / "data").mkdir()
    env.update({"WAREHOUSE_DATA_DIR": str(tmp_path / "data"),
                "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "w.duckdb")})
    packages = imported_packages("load", env=env)
    assert "loaders" in packages
    assert packages.isdisjoint(HEAVY)


def test_sql_imports_neither_dagster_nor_dbt(tmp_path: Path) -> None:
    from kernel.database import Warehouse, connect
    from kernel.reader_snapshot import publish_reader_snapshot

    warehouse = Warehouse(target="duckdb", duckdb_path=tmp_path / "w.duckdb", reader_path=tmp_path / "w-analysts.duckdb")
    with connect(warehouse, "loader") as db:
        db.execute("CREATE TABLE t AS SELECT 1 AS x")
    publish_reader_snapshot(warehouse)
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAREHOUSE_")}
    env["WAREHOUSE_DUCKDB_PATH"] = str(warehouse.duckdb_path)
    assert imported_packages("sql", "select x from t", env=env).isdisjoint(HEAVY)
