"""`verify`: every check over whole tables, on a warehouse `refresh` built; builds nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.runs import RunReport, run_job
from tests.orchestration.conftest import Build, query
from tests.orchestration.test_full_build import EXPECTED_WARNINGS

pytestmark = pytest.mark.timeout(900)

WAREHOUSE = Path(sys.executable).parent / "warehouse"


@pytest.fixture(scope="module")
def verified(duckdb_build: Build) -> RunReport:
    return run_job(duckdb_build.settings, "verify")


def test_verify_runs_every_check_of_the_graph_and_materializes_nothing(
    duckdb_build: Build, verified: RunReport
) -> None:
    from orchestration.definitions import build_definitions

    graph = build_definitions(duckdb_build.settings).get_repository_def().asset_graph
    assert verified.success, verified.step_failures
    assert verified.assets == []
    ran = {(check.asset, check.check) for check in verified.checks}
    assert ran == {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert {(c.asset, c.check) for c in verified.checks if not c.passed} == EXPECTED_WARNINGS
    assert verified.ok


def test_verify_asks_dbt_for_whole_table_tests_and_runs_no_model(
    duckdb_build: Build, verified: RunReport
) -> None:
    messages = [entry.user_message for entry in duckdb_build.instance.all_logs(verified.run_id)]
    [command] = [message for message in messages if message.startswith("Running dbt command")]
    assert '--vars {"check_scope": "full"}' in command
    selected = command.split("--select", 1)[1].split()
    assert "gridwarehouse.assert_measurement_files_reconcile" in selected
    assert all(name.split(".")[-1] not in ("measurements", "stg_raw__measurements") for name in selected)


def test_verify_carries_the_writer_tag_so_it_never_runs_beside_a_write(
    duckdb_build: Build, verified: RunReport
) -> None:
    run = duckdb_build.instance.get_run_by_id(verified.run_id)
    assert run.tags["gridwarehouse/writes"] == "warehouse"


def warehouse_verify(build: Build, duckdb_path: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("WAREHOUSE_", "DAGSTER_"))}
    env.update({
        "WAREHOUSE_DUCKDB_PATH": str(duckdb_path),
        "WAREHOUSE_DATA_DIR": str(build.settings.data_path),
        "WAREHOUSE_DAGSTER_HOME": str(build.settings.dagster_home),
    })
    return subprocess.run([str(WAREHOUSE), "verify"], capture_output=True, text=True, env=env,
                          timeout=600, check=False)


def test_warehouse_verify_exits_1_when_an_error_check_fails(duckdb_build: Build, tmp_path: Path) -> None:
    # A copy of the built warehouse that lost one reading from analytics.measurements.
    broken = tmp_path / "warehouse.duckdb"
    shutil.copyfile(duckdb_build.settings.duckdb_path, broken)
    copy = duckdb_build.settings.model_copy(update={"duckdb_path": broken})
    query(copy, "DELETE FROM analytics.measurements WHERE (signal_id, measured_at) IN "
                "(SELECT signal_id, measured_at FROM analytics.measurements LIMIT 1)")

    completed = warehouse_verify(duckdb_build, broken)
    # The failed build keeps dbt's folder to look at; this one has been looked at.
    kept = re.search(r"compiled SQL of this build: (\S+)", completed.stdout + completed.stderr)
    if kept:
        shutil.rmtree(kept.group(1), ignore_errors=True)
    assert completed.returncode == 1, completed.stderr[-3000:]
    rows = [line.split("│")[1:4] for line in completed.stdout.splitlines() if line.startswith("│")]
    assert [cell.strip() for cell in rows[0]] == ["analytics/measurements", "assert_measurement_files_reconcile",
                                                  "failed"]
    assert "checks: 86 passed, 3 warned, 1 failed" in completed.stdout


def test_warehouse_verify_exits_0_and_prints_the_checks_on_a_sound_warehouse(duckdb_build: Build) -> None:
    completed = warehouse_verify(duckdb_build, duckdb_build.settings.duckdb_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "checks: 87 passed, 3 warned, 0 failed" in completed.stdout
