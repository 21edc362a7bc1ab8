"""What the `warehouse` command prints: its version, and a failed file's message once."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path


def warehouse(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "warehouse.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


def test_version_prints_the_installed_package_version() -> None:
    completed = warehouse("--version")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"warehouse {importlib.metadata.version('gridwarehouse')}\n"


def test_load_names_a_failed_file_once_with_what_was_expected_and_found(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "measurements_001.csv").write_text("Timestamp;Signal;Value\n1;2;3\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAREHOUSE_")}
    # Wide enough that the table and the message are not wrapped.
    env.update({"WAREHOUSE_DATA_DIR": str(data_dir), "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
                "COLUMNS": "200"})
    completed = warehouse("load", env=env)
    assert completed.returncode == 1
    message = ("measurements_001.csv, line 1: expected header 'Ts|SignalId|MeasurementValue', "
               "found 'Timestamp;Signal;Value'")
    assert completed.stdout.splitlines()[-1] == message
    assert completed.stdout.count("measurements_001.csv") == 2  # its row in the table, its message
    again = warehouse("load", env=env)
    assert again.stdout.splitlines()[-1] == f"unchanged since failed load 1: {message}"
    assert again.stdout.count("measurements_001.csv") == 2
