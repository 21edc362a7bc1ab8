"""Transient database errors become step retries with backoff; anything else fails the step."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import psycopg
import pytest

from kernel.database import WarehouseBusyError
from loaders.errors import UnreadableFileError
from orchestration.definitions import build_definitions
from orchestration.defs.warehouse_access import is_transient, retry_later, retrying_transient_errors
from tests.orchestration.conftest import SAMPLE_DATA, query
from kernel.settings import Settings

RAW_KEYS = [dg.AssetKey(["raw", table]) for table in ("assets", "signals", "measurements", "rejected_rows",
                                                      "load_ledger")]


@pytest.mark.parametrize("error", [
    duckdb.IOException('Could not set lock on file "w.duckdb": Conflicting lock is held'),
    psycopg.OperationalError("connection refused"),
    WarehouseBusyError("another loader holds the warehouse writer lock on PostgreSQL"),
    RuntimeError("dbt: Could not set lock on file /x/warehouse.duckdb"),
])
def test_lock_conflicts_and_lost_connections_are_transient(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize("error", [
    ValueError("bad value"),
    UnreadableFileError(Path("assets.json"), expected="a JSON array of records", found="an empty file"),
    duckdb.CatalogException("Table raw.nope does not exist"),
])
def test_errors_a_retry_cannot_fix_are_not_transient(error: Exception) -> None:
    assert not is_transient(error)


@pytest.mark.parametrize(("retry_number", "delay"), [(0, 5), (1, 10), (2, 20), (3, 40)])
def test_each_retry_waits_twice_as_long(retry_number: int, delay: float) -> None:
    context = SimpleNamespace(retry_number=retry_number, log=logging.getLogger("test"))
    request = retry_later(context, RuntimeError("busy"))
    assert (request.seconds_to_wait, request.max_retries) == (delay, 4)


def test_a_non_transient_error_passes_through_unchanged() -> None:
    context = SimpleNamespace(retry_number=0, log=logging.getLogger("test"))
    with pytest.raises(ValueError), retrying_transient_errors(context):
        raise ValueError("bad value")


def test_a_warehouse_locked_by_another_process_is_loaded_on_retry(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("assets.json", "signal.json"):
        shutil.copy2(SAMPLE_DATA / name, data / name)
    settings = Settings(data_dir=data, duckdb_path=tmp_path / "w.duckdb")
    # Only the raw step (the dbt step would run the raw tables' source tests).
    job = build_definitions(settings).resolve_job_def("refresh").get_subset(
        asset_selection=set(RAW_KEYS), asset_check_selection=set())
    # Another process opens the DuckDB file for writing and holds it for six seconds.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('locked', flush=True); time.sleep(6)", str(settings.duckdb_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    finally:
        holder.wait(timeout=30)
    assert result.success
    retried = [event for event in result.all_events
               if event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert retried and {event.step_key for event in retried} == {"raw_tables"}
    assert query(settings, "SELECT count(*) FROM raw.assets")[0][0] == 10
