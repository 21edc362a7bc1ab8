"""DuckDB's memory cap and threads: validated at start, applied to every connection and to dbt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.database import connect
from kernel.dbt_profiles import DBT_PROJECT_DIR, dbt_env
from kernel.settings import Settings, SettingsError, load_settings

DBT = Path(sys.executable).parent / "dbt"
SHOW_LIMITS = "select current_setting('memory_limit') as memory_limit, current_setting('threads') as threads"


@pytest.fixture
def capped(tmp_path: Path) -> Settings:
    return Settings(duckdb_path=tmp_path / "w.duckdb", duckdb_memory_limit="512MB", duckdb_threads=1)


def test_the_loaders_and_readers_connections_run_under_the_caps(capped: Settings) -> None:
    with connect(capped.warehouse, "loader") as sink:
        assert sink.execute(SHOW_LIMITS) == [("488.2 MiB", 1)]  # 512 MB in DuckDB's own unit


def test_dbt_runs_under_the_same_caps(capped: Settings, tmp_path: Path) -> None:
    shown = subprocess.run(
        [str(DBT), "show", "--inline", SHOW_LIMITS, "--output", "json", "--quiet",
         "--target", "duckdb", "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path)],
        cwd=DBT_PROJECT_DIR, env={**os.environ, **dbt_env(capped)}, capture_output=True, text=True,
        timeout=120, check=False)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert json.loads(shown.stdout)["show"] == [{"memory_limit": "488.2 MiB", "threads": 1}]


@pytest.mark.parametrize(("variable", "value"), [
    ("WAREHOUSE_DUCKDB_MEMORY_LIMIT", "lots"),
    ("WAREHOUSE_DUCKDB_MEMORY_LIMIT", "2"),
    ("WAREHOUSE_DUCKDB_MEMORY_LIMIT", "0%"),
    ("WAREHOUSE_DUCKDB_THREADS", "0"),
])
def test_a_value_duckdb_cannot_use_stops_the_program_naming_the_variable(
        variable: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=f"{variable}={value!r}"):
        load_settings()


@pytest.mark.parametrize("value", ["2GB", "512 MB", "1.5GiB", "50%"])
def test_sizes_with_a_unit_and_shares_of_the_ram_are_accepted(value: str) -> None:
    assert Settings(duckdb_memory_limit=value).duckdb_config["memory_limit"] == value


def test_threads_default_to_the_cpu_count_at_most_four() -> None:
    assert Settings().duckdb_threads == min(os.cpu_count() or 1, 4)
