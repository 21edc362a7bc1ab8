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

from kernel.database import ConnectionFailed, WarehouseBusyError
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
    ConnectionFailed('cannot open DuckDB file w.duckdb as loader: IO Error: Could not set lock on file '
                     '"w.duckdb": Conflicting lock is held'),
    ConnectionFailed("cannot connect to PostgreSQL at x@db:5432/w for the writer lock: connection failed: "
                     "FATAL: the database system is starting up"),
])
def test_lock_conflicts_and_lost_connections_are_transient(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize("reason", [
    'connection to server at "127.0.0.1", port 5999 failed: Connection refused',
    'failed to resolve host "nosuchhost": [Errno -2] Name or service not known',
    "connection timeout expired",
    'password authentication failed for user "x"',
])
def test_a_server_that_cannot_be_reached_at_a_step_s_start_is_not_retried(reason: str) -> None:
    # Also when the connection was made for the writer lock, whose message says "writer lock".
    for what in ("as loader", "for the writer lock"):
        assert not is_transient(ConnectionFailed(f"cannot connect to PostgreSQL at x@h:5999/w {what}: {reason}"))


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


def test_after_the_last_retry_the_step_fails_with_the_error_itself() -> None:
    context = SimpleNamespace(retry_number=4, log=logging.getLogger("test"))
    error = RuntimeError("busy")
    assert retry_later(context, error) is error


def test_a_retry_request_carries_the_error_as_its_cause() -> None:
    context = SimpleNamespace(retry_number=0, log=logging.getLogger("test"))
    error = RuntimeError("busy")
    with pytest.raises(dg.RetryRequested) as raised, retrying_transient_errors(context):
        raise WarehouseBusyError("another writer")
    assert isinstance(raised.value.__cause__, WarehouseBusyError)
    assert retry_later(context, error).__cause__ is error


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
