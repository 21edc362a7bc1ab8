"""A run whose process is gone stops counting as in flight: it is marked failed, says why,
and gives back the pool slot it held; a run whose process lives is left alone.

The runs are records in a real Dagster instance made from orchestration/dagster.yaml; the
processes they name are real: one that has exited, this test's own, and a dbt stand-in
left running.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from orchestration.defs.automation.jobs import writer_run_in_flight
from orchestration.defs.dead_runs import (
    HOST_TAG,
    PID_TAG,
    PROCESS_START_TAG,
    SUBPROCESS_TAG,
    process_alive,
    process_tags,
    record_subprocess,
)
from orchestration.defs.warehouse_access import WRITER_RUN_TAGS
from orchestration.instance import open_instance
from tests.orchestration.test_dump_sensor import DUMP, Ticks
from kernel.settings import Settings

LINUX_PROC = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")


@pytest.fixture
def instance(tmp_path: Path) -> dg.DagsterInstance:
    return open_instance(Settings(dagster_home=tmp_path / "dagster_home"))


def exited_process_tags() -> dict[str, str]:
    """Tags as a `warehouse run` that has since died would have left them."""
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    pid = int(finished.stdout)
    assert not process_alive(pid)
    tags = process_tags()
    del tags[PROCESS_START_TAG]
    return {**tags, PID_TAG: str(pid)}


def writing_run(instance: dg.DagsterInstance, tags: dict[str, str]) -> str:
    run = create_run_for_test(instance, job_name="refresh", tags={**WRITER_RUN_TAGS, **tags},
                              status=dg.DagsterRunStatus.STARTED)
    return run.run_id


def run_messages(instance: dg.DagsterInstance, run_id: str) -> str:
    return "\n".join(entry.message or "" for entry in instance.all_logs(run_id))


def test_a_dead_runs_slot_and_place_in_the_queue_are_freed_and_its_log_says_why(
        instance: dg.DagsterInstance) -> None:
    tags = exited_process_tags()
    run_id = writing_run(instance, tags)
    # What a killed run used to leave behind: `"warehouse": 1 / 1 slots occupied`.
    storage = instance.event_log_storage
    storage.set_concurrency_slots("warehouse", 1)
    assert storage.claim_concurrency_slot("warehouse", run_id, "raw_tables").is_claimed

    assert writer_run_in_flight(instance, by="the test") is None

    run = instance.get_run_by_id(run_id)
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert (f"Marked failed by the test: the run's process (pid {tags[PID_TAG]} on host "
            f"{socket.gethostname()}) no longer exists") in run_messages(instance, run_id)
    assert storage.get_concurrency_info("warehouse").active_slot_count == 0


def test_a_run_whose_process_lives_is_still_in_flight(instance: dg.DagsterInstance) -> None:
    run_id = writing_run(instance, process_tags())
    assert writer_run_in_flight(instance, by="the test") == run_id
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED


@LINUX_PROC
def test_a_reused_pid_is_not_taken_for_the_dead_runs_process(instance: dg.DagsterInstance) -> None:
    # This process has the recorded pid, but started at another time: the run's is gone.
    run_id = writing_run(instance, {**process_tags(), PROCESS_START_TAG: "another-boot:12345"})
    assert writer_run_in_flight(instance, by="the test") is None
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE


def test_a_run_recorded_on_another_host_is_left_to_that_host(instance: dg.DagsterInstance) -> None:
    run_id = writing_run(instance, {**exited_process_tags(), HOST_TAG: "another-host"})
    assert writer_run_in_flight(instance, by="the test") == run_id


@LINUX_PROC
def test_a_process_the_dead_run_started_is_stopped(instance: dg.DagsterInstance) -> None:
    # A dbt the killed run left running (its parent is this test: it stays reapable here).
    left_behind = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        run_id = writing_run(instance, exited_process_tags())
        record_subprocess(instance, run_id, left_behind.pid)
        started = time.monotonic()
        assert writer_run_in_flight(instance, by="the test") is None
        assert left_behind.wait(timeout=1) != 0  # stopped by SIGINT, within the 5 s it gets
        assert time.monotonic() - started < 6
        assert f"stopped process {left_behind.pid}" in run_messages(instance, run_id)
        assert instance.get_run_by_id(run_id).tags[SUBPROCESS_TAG].startswith(f"{left_behind.pid}/")
    finally:
        left_behind.kill()
        left_behind.wait()


def test_the_dump_sensor_requests_a_run_once_the_dead_one_is_cleared(
        instance: dg.DagsterInstance, tmp_path: Path) -> None:
    from orchestration.definitions import build_definitions

    data = tmp_path / "data"
    data.mkdir()
    (data / "measurements_001.csv").write_text(DUMP, encoding="utf-8")
    settings = Settings(data_dir=data, duckdb_path=tmp_path / "w.duckdb")
    sensor = build_definitions(settings).get_repository_def().get_sensor_def("new_dump_sensor")
    run_id = writing_run(instance, exited_process_tags())

    [request] = Ticks(sensor, instance).tick().run_requests

    assert request.tags["gridwarehouse/changed_files"] == "measurements_001.csv"
    assert "Marked failed by the new_dump_sensor" in run_messages(instance, run_id)
