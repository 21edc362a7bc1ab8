"""A loader killed in the middle of a file leaves the warehouse as it was before that file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.database import connect
from kernel.settings import Settings

WAREHOUSE = Path(sys.executable).parent / "warehouse"


def write_big_dump(path: Path, rows: int) -> None:
    line = "2021-11-20 10:00:00.000|427038|117,25\n"
    path.write_text("\ufeffTs|SignalId|MeasurementValue\n" + line * rows, encoding="utf-8")


@pytest.mark.parametrize("target", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_killed_load_leaves_no_rows_and_no_ledger_row(target: str, tmp_path: Path,
                                                      request: pytest.FixtureRequest) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_big_dump(data_dir / "measurements_001.csv", 3_000_000)
    env = {**os.environ, "WAREHOUSE_TARGET": target, "WAREHOUSE_DATA_DIR": str(data_dir),
           "WAREHOUSE_BATCH_ROWS": "50000"}
    if target == "duckdb":
        settings = Settings(target="duckdb", data_dir=data_dir, duckdb_path=tmp_path / "w.duckdb")
        env["WAREHOUSE_DUCKDB_PATH"] = str(settings.duckdb_path)
    else:
        settings = Settings(target="postgres", data_dir=data_dir, pg_dsn=request.getfixturevalue("pg_dsn"))
        env["WAREHOUSE_PG_DSN"] = settings.pg_dsn

    loader = subprocess.Popen([WAREHOUSE, "load"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        # The first progress line means batches are already being written.
        progress = loader.stderr.readline()
        assert "rows read" in progress, progress
    finally:
        os.killpg(loader.pid, signal.SIGKILL)
        loader.wait()

    with connect(settings.warehouse, "loader") as sink:
        assert sink.execute("SELECT count(*) FROM raw.measurements") == [(0,)]
        assert sink.execute("SELECT count(*) FROM raw.load_ledger") == [(0,)]
        assert sink.execute("SELECT count(*) FROM raw.rejected_rows") == [(0,)]
