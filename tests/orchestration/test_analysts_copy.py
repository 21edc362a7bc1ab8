"""Analysts and the pipeline never block each other on DuckDB: real processes throughout.

An analyst's process holds the analysts' copy open, a query half read, while
`warehouse run` loads a new dump and builds: the run neither waits nor retries, the open
connection goes on reading what it had, and a connection opened afterwards sees the new
data. `warehouse load` publishes too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from kernel.settings import Settings
from orchestration.definitions import build_definitions
from orchestration.defs.ingest.assets import RAW_KEYS
from tests.orchestration.conftest import build_settings, query

pytestmark = pytest.mark.timeout(900)

WAREHOUSE = Path(sys.executable).parent / "warehouse"

# Counts raw.measurements, starts reading it row by row and stops after ten rows; on a
# line from stdin it reads the rest of that same result, counts again on the same
# connection, closes it and counts on a new one.
ANALYST = """
import sys, duckdb
copy = sys.argv[1]
count = "SELECT count(*) FROM raw.measurements"
conn = duckdb.connect(copy, read_only=True)
print(conn.execute(count).fetchone()[0], flush=True)
reading = conn.cursor().execute("SELECT * FROM raw.measurements")
rows = len(reading.fetchmany(10))
print("reading", flush=True)
sys.stdin.readline()
rows += len(reading.fetchall())
print(rows, conn.execute(count).fetchone()[0], flush=True)
conn.close()
conn = duckdb.connect(copy, read_only=True)
print(conn.execute(count).fetchone()[0],
      conn.execute("SELECT count(*) FROM analytics.measurements").fetchone()[0], flush=True)
"""


def cli(settings: Settings, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WAREHOUSE_", "DAGSTER_"))}
    env.update({
        "WAREHOUSE_DATA_DIR": str(settings.data_dir),
        "WAREHOUSE_DUCKDB_PATH": str(settings.duckdb_path),
        "WAREHOUSE_DAGSTER_HOME": str(settings.dagster_home),
        "WAREHOUSE_AUTOMATION_ENABLED": "false",
    })
    return subprocess.run([str(WAREHOUSE), *args], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_an_analyst_holding_the_copy_open_neither_waits_for_nor_stops_a_run(tmp_path: Path) -> None:
    settings = build_settings(tmp_path)
    generated = cli(settings, "generate", "--out", str(tmp_path / "dumps"), "--rows", "2000", "--files", "2")
    assert generated.returncode == 0, generated.stderr
    settings.data_dir.mkdir()
    for name in ("assets.json", "signal.json", "measurements_001.csv"):
        shutil.copy2(tmp_path / "dumps" / name, settings.data_dir / name)

    loaded = cli(settings, "load")
    assert loaded.returncode == 0, loaded.stderr
    assert f"analysts' copy published: {settings.reader_path}" in loaded.stderr
    first_rows = query(settings, "SELECT count(*) FROM raw.measurements")[0][0]

    analyst = subprocess.Popen([sys.executable, "-c", ANALYST, str(settings.reader_path)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout.readline().strip() == str(first_rows)
        assert analyst.stdout.readline().strip() == "reading"

        shutil.copy2(tmp_path / "dumps" / "measurements_002.csv", settings.data_dir / "measurements_002.csv")
        run = cli(settings, "run")
        assert run.returncode == 0, run.stdout + run.stderr
        output = analyst.communicate("go\n", timeout=60)[0]
    finally:
        analyst.kill()

    # Nothing in the run waited for anyone or tried a step twice.
    for waited in ("transient warehouse error", "is being written by", "Conflicting lock"):
        assert waited not in run.stderr
    assert f"analysts' copy published: {settings.reader_path}" in run.stderr
    all_rows = query(settings, "SELECT count(*) FROM raw.measurements")[0][0]
    marts_rows = query(settings, "SELECT count(*) FROM analytics.measurements")[0][0]
    assert all_rows > first_rows and marts_rows > 0
    held, fresh = output.strip().splitlines()
    assert held.split() == [str(first_rows), str(first_rows)]  # the open connection: the old copy
    assert fresh.split() == [str(all_rows), str(marts_rows)]  # a new connection: the new one

    counted = cli(settings, "sql", "select count(*) as readings from analytics.measurements", "--format", "csv",
                  timeout=120)
    assert (counted.returncode, counted.stdout) == (0, f"readings\n{marts_rows}\n"), counted.stderr


def test_a_run_that_changes_nothing_copies_nothing(tmp_path: Path) -> None:
    settings = build_settings(tmp_path)
    generated = cli(settings, "generate", "--out", str(settings.data_dir), "--rows", "2000", "--files", "1")
    assert generated.returncode == 0, generated.stderr
    assert cli(settings, "load").returncode == 0
    copied = settings.reader_path.stat()

    again = cli(settings, "load")
    assert again.returncode == 0, again.stderr
    assert "analysts' copy published" not in again.stderr
    assert settings.reader_path.stat().st_ino == copied.st_ino


def test_raw_tables_materialized_on_their_own_publish_the_copy(tmp_path: Path) -> None:
    settings = build_settings(tmp_path)
    generated = cli(settings, "generate", "--out", str(settings.data_dir), "--rows", "2000", "--files", "1")
    assert generated.returncode == 0, generated.stderr
    # What the UI runs for "materialize the raw tables": the refresh job without its dbt step.
    job = build_definitions(settings).resolve_job_def("refresh").get_subset(
        asset_selection=set(RAW_KEYS.values()), asset_check_selection=set())
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    with duckdb.connect(str(settings.reader_path), read_only=True) as conn:
        copied = conn.execute("SELECT count(*) FROM raw.measurements").fetchone()[0]
    assert copied == query(settings, "SELECT count(*) FROM raw.measurements")[0][0] > 0
