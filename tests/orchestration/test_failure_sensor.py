"""A failed run is recorded in ops.run_failures (job, step, error) and posted to the webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from orchestration.definitions import build_definitions
from orchestration.instance import open_instance
from orchestration.runs import run_job
from tests.orchestration.conftest import build_settings, copy_sample_data, query
from warehouse.cli import main
from kernel.settings import Settings


class Webhook:
    """A local HTTP endpoint that keeps the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/warehouse"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory, webhook: Webhook, _no_warehouse_env: None):
    """A `refresh` run whose assets.json is not JSON: the raw step fails, dbt never starts."""
    root = tmp_path_factory.mktemp("failed-run")
    data = copy_sample_data(root / "data")
    (data / "assets.json").write_text('[{"AssetID": "1", ', encoding="utf-8")
    settings = build_settings(root, failure_webhook_url=webhook.url)
    report = run_job(settings, "refresh")
    return settings, report


def evaluate_failure_sensor(settings: Settings, run_id: str) -> None:
    instance = open_instance(settings)
    run = instance.get_run_by_id(run_id)
    [failure] = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    sensor = build_definitions(settings).get_repository_def().get_sensor_def("record_run_failures")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=failure.dagster_event, dagster_instance=instance,
        dagster_run=run).for_run_failure()
    sensor(context)


def test_the_broken_dump_fails_the_raw_step_and_names_the_file(failed_run) -> None:
    _, report = failed_run
    assert not report.success
    [failure] = report.step_failures
    assert failure.step == "raw_tables"
    assert "assets.json" in failure.error
    assert not any(outcome.asset.startswith("analytics/") for outcome in report.assets)


def test_the_failure_sensor_records_job_step_and_error(failed_run, webhook: Webhook) -> None:
    settings, report = failed_run
    # The run recorded itself (its failure hook, run_job): the sensor must do it alone too.
    query(settings, "DELETE FROM ops.run_failures")
    evaluate_failure_sensor(settings, report.run_id)
    rows = query(settings, "SELECT run_id, job_name, step_key, error, failed_at FROM ops.run_failures")
    [(run_id, job_name, step_key, error, failed_at)] = rows
    assert (run_id, job_name, step_key) == (report.run_id, "refresh", "raw_tables")
    assert "assets.json" in error
    assert failed_at is not None


def test_the_failure_is_posted_to_the_webhook(failed_run, webhook: Webhook) -> None:
    settings, report = failed_run
    if not webhook.bodies:
        evaluate_failure_sensor(settings, report.run_id)
    body = webhook.bodies[-1]
    assert body["run_id"] == report.run_id
    assert body["job_name"] == "refresh"
    assert body["failures"][0]["step_key"] == "raw_tables"
    assert "assets.json" in body["failures"][0]["error"]


def test_an_operator_lists_the_failures_from_the_cli(failed_run, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, report = failed_run
    if not query(settings, "SELECT count(*) FROM ops.run_failures")[0][0]:
        evaluate_failure_sensor(settings, report.run_id)
    monkeypatch.setenv("WAREHOUSE_DUCKDB_PATH", str(settings.duckdb_path))
    monkeypatch.setenv("WAREHOUSE_DAGSTER_HOME", str(settings.dagster_home))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    result = CliRunner().invoke(main, ["failures"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "refresh" in result.output and "raw_tables" in result.output
    assert report.run_id[:8] in result.output


def test_a_failed_step_records_itself_as_a_run_launched_by_the_ui_or_the_daemon_does(
        tmp_path: Path) -> None:
    # Executed as a run worker executes it: no run_job, no sensor; only the job's failure hook.
    settings = build_settings(tmp_path)
    job = build_definitions(settings).resolve_job_def("refresh")
    result = job.execute_in_process(instance=open_instance(settings), raise_on_error=False)
    assert not result.success
    rows = query(settings, "SELECT run_id, job_name, step_key, error FROM ops.run_failures")
    assert [row[:3] for row in rows] == [(result.run_id, "refresh", "raw_tables")]
    assert rows[0][3].startswith(f"data folder {settings.data_path} does not exist")


def test_a_webhook_that_is_down_does_not_lose_the_record(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from orchestration.defs.alerts.failure_log import RunFailure, post_failures, record_failures

    settings = Settings(duckdb_path=tmp_path / "w.duckdb", failure_webhook_url="http://127.0.0.1:9/down")
    failure = RunFailure("run-1", "refresh", None, "run failed", datetime(2026, 1, 1, tzinfo=UTC))
    record_failures(settings, [failure])
    with pytest.raises(OSError):
        post_failures(settings.failure_webhook_url, [failure])
    assert query(settings, "SELECT run_id, step_key FROM ops.run_failures") == [("run-1", None)]
