"""A failed command ends in one clear line, and every failed run is recorded.

Real processes on real databases: `.venv/bin/warehouse` is run as a subprocess with a
Dagster home and a warehouse of its own under a temporary folder, and no daemon, so no
failure sensor, runs. A PostgreSQL that is down is a port on 127.0.0.1 where nothing
listens.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.instance import open_instance
from orchestration.runs import run_job
from tests.orchestration.conftest import _no_warehouse_env, build_settings, query  # noqa: F401 (a fixture)
from kernel.settings import Settings

pytestmark = pytest.mark.timeout(600)

WAREHOUSE = Path(sys.executable).parent / "warehouse"
RUN_SECONDS = 300
# A refused connection fails at once; the rest is starting Python (and Dagster, for the
# commands that read the run history) on a machine shared with other work.
UNREACHABLE_SECONDS = 15
MISSING = "/nonexistent-dumps"


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def lines(self) -> list[str]:
        """The non-empty lines of both streams."""
        return [line for line in self.output.splitlines() if line.strip()]

    @property
    def last_error_line(self) -> str:
        return [line for line in self.stderr.splitlines() if line.strip()][-1]


def warehouse(settings: Settings, *args: str, extra_env: dict[str, str] | None = None,
              timeout: float = RUN_SECONDS) -> Completed:
    """Run `warehouse *args` in a process of its own, on the warehouse of `settings`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WAREHOUSE_", "DAGSTER_"))}
    env.update({
        "WAREHOUSE_TARGET": settings.target,
        "WAREHOUSE_DUCKDB_PATH": str(settings.duckdb_path),
        "WAREHOUSE_DAGSTER_HOME": str(settings.dagster_home),
        "WAREHOUSE_AUTOMATION_ENABLED": "false",
        "COLUMNS": "200",
    })
    if settings.pg_dsn:
        env["WAREHOUSE_PG_DSN"] = settings.pg_dsn
    env.update(extra_env or {})
    started = time.monotonic()
    completed = subprocess.run([str(WAREHOUSE), *args], env=env, cwd=settings.duckdb_path.parent,
                               capture_output=True, text=True, timeout=timeout, check=False)
    return Completed(completed.returncode, completed.stdout, completed.stderr, time.monotonic() - started)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def failure_rows(settings: Settings) -> list[tuple]:
    return query(settings, "SELECT run_id, job_name, step_key, error FROM ops.run_failures ORDER BY run_id, step_key")


def latest_run_id(settings: Settings) -> str:
    [run] = open_instance(settings).get_runs(limit=1)
    return run.run_id


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory, _no_warehouse_env: None) -> tuple[Settings, Completed]:
    """`warehouse run` on a data folder that does not exist, on DuckDB, with no daemon."""
    settings = build_settings(tmp_path_factory.mktemp("failed-run"))
    return settings, warehouse(settings, "run", "--data-dir", MISSING)


def test_a_missing_data_folder_is_one_line_naming_the_folder_and_the_step(failed_run) -> None:
    _, run = failed_run
    assert run.returncode == 1, run.output
    assert "Traceback" not in run.output and "Stack Trace" not in run.output, run.output
    assert len(run.lines) <= 6, run.output
    [cause] = [line for line in run.lines if line.startswith("step raw_tables failed:")]
    assert cause.startswith(f"step raw_tables failed: data folder {MISSING} does not exist"), run.output


def test_the_failed_run_is_recorded_without_a_daemon(failed_run) -> None:
    settings, _ = failed_run
    run_id = latest_run_id(settings)
    [(recorded_run, job, step, error)] = failure_rows(settings)
    assert (recorded_run, job, step) == (run_id, "refresh", "raw_tables")
    assert error.startswith(f"data folder {MISSING} does not exist")


def test_warehouse_failures_lists_the_failed_run(failed_run) -> None:
    settings, _ = failed_run
    listed = warehouse(settings, "failures")
    assert listed.returncode == 0, listed.output
    [row] = [line for line in listed.lines if latest_run_id(settings)[:8] in line]
    assert "refresh" in row and "raw_tables" in row and MISSING in row


def test_the_sensor_and_warehouse_failures_add_no_second_row(failed_run) -> None:
    settings, _ = failed_run
    instance = open_instance(settings)
    run = instance.get_run_by_id(latest_run_id(settings))
    [failure] = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    sensor = build_definitions(settings).get_repository_def().get_sensor_def("record_run_failures")
    sensor(dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=failure.dagster_event, dagster_instance=instance,
        dagster_run=run).for_run_failure())
    assert warehouse(settings, "failures").returncode == 0
    assert len(failure_rows(settings)) == 1


def test_warehouse_failures_records_a_failed_run_the_table_lacks(failed_run) -> None:
    settings, _ = failed_run
    before = failure_rows(settings)
    # As if the run had failed while the warehouse could not be written.
    query(settings, "DELETE FROM ops.run_failures")
    listed = warehouse(settings, "failures")
    assert listed.returncode == 0, listed.output
    assert failure_rows(settings) == before


def test_debug_shows_dagster_s_stack_trace(tmp_path: Path) -> None:
    settings = build_settings(tmp_path)
    run = warehouse(settings, "--debug", "run", "--data-dir", MISSING)
    assert run.returncode == 1
    assert "Stack Trace" in run.output and "loaders/pipeline.py" in run.output, run.output


@pytest.mark.parametrize("command", ["load", "migrate", "failures", "run"])
def test_an_unreachable_postgres_fails_within_seconds_in_one_line(command: str, tmp_path: Path) -> None:
    port = free_port()
    settings = build_settings(tmp_path, target="postgres", pg_dsn=f"postgresql://x@127.0.0.1:{port}/db")
    (tmp_path / "data").mkdir()
    args = [command, "--data-dir", str(tmp_path / "data")] if command in ("load", "run") else [command]
    completed = warehouse(settings, *args)
    assert completed.returncode == 1, completed.output
    assert completed.seconds < UNREACHABLE_SECONDS, completed.output
    assert "Traceback" not in completed.output, completed.output
    [line] = completed.lines
    assert f"127.0.0.1:{port}" in line and "Connection refused" in line, line


@pytest.mark.parametrize("debug", [["--debug"], []], ids=["--debug", "WAREHOUSE_LOG_LEVEL"])
def test_debug_shows_the_traceback_of_a_failed_command(debug: list[str], tmp_path: Path) -> None:
    port = free_port()
    settings = build_settings(tmp_path, target="postgres", pg_dsn=f"postgresql://x@127.0.0.1:{port}/db")
    completed = warehouse(settings, *debug, "migrate",
                          extra_env=None if debug else {"WAREHOUSE_LOG_LEVEL": "DEBUG"})
    assert completed.returncode == 1
    assert "Traceback (most recent call last)" in completed.output
    assert completed.last_error_line.startswith("Error: cannot connect to PostgreSQL at ")


def test_a_run_that_cannot_reach_postgres_fails_at_once_and_is_listed_from_the_run_history(
        tmp_path: Path, _no_warehouse_env: None) -> None:
    port = free_port()
    settings = build_settings(tmp_path, target="postgres", pg_dsn=f"postgresql://x@127.0.0.1:{port}/db")
    (tmp_path / "data").mkdir()
    # In process, as the UI or a schedule would start it (`warehouse run` stops before).
    report = run_job(settings, "refresh")
    [failure] = report.step_failures
    assert failure.step == "raw_tables"
    assert f"127.0.0.1:{port}" in failure.error and "\n" not in failure.error
    retried = open_instance(settings).all_logs(report.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert retried == []  # a refused connection at a step's start is not worth waiting for

    listed = warehouse(settings, "failures")
    assert listed.returncode == 1
    assert any(report.run_id[:8] in line and "raw_tables" in line for line in listed.lines), listed.output
    assert f"127.0.0.1:{port}" in listed.last_error_line and "Dagster run history" in listed.last_error_line


def test_a_failed_run_on_postgres_is_recorded_and_listed(tmp_path: Path, pg_dsn: str) -> None:
    settings = build_settings(tmp_path, target="postgres", pg_dsn=pg_dsn)
    run = warehouse(settings, "run", "--data-dir", MISSING)
    assert run.returncode == 1, run.output
    assert "Traceback" not in run.output and "Stack Trace" not in run.output, run.output
    run_id = latest_run_id(settings)
    assert [row[:3] for row in failure_rows(settings)] == [(run_id, "refresh", "raw_tables")]
    listed = warehouse(settings, "failures")
    assert listed.returncode == 0, listed.output
    assert any(run_id[:8] in line and "raw_tables" in line for line in listed.lines), listed.output
