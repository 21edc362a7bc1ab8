"""The code location: what it holds, wired the way the UI and the run queue expect."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from loaders.dump_kinds import DUMP_KINDS
from orchestration.definitions import build_definitions
from orchestration.defs.transform.project import prepare_manifest
from orchestration.instance import open_instance
from kernel.settings import Settings

RAW = ["assets", "signals", "measurements", "rejected_rows", "load_ledger"]
MARTS = ["assets", "signals", "measurements", "measurements_hourly", "measurements_15min",
         "signal_daily_quality", "signal_daily", "orphan_measurements"]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, _no_warehouse_env: None) -> Settings:
    root = tmp_path_factory.mktemp("location")
    return Settings(data_dir=root / "data", duckdb_path=root / "w.duckdb", dagster_home=root / "home",
                    refresh_cron="*/15 * * * *", verify_cron="45 2 * * 1", automation_enabled=True)


@pytest.fixture(scope="module")
def graph(settings: Settings):
    return build_definitions(settings).get_repository_def().asset_graph


@pytest.fixture(scope="module")
def repository(settings: Settings):
    return build_definitions(settings).get_repository_def()


def key(*path: str) -> dg.AssetKey:
    return dg.AssetKey(list(path))


def test_every_raw_table_is_an_asset_keyed_as_its_dbt_source(graph) -> None:
    for table in RAW:
        assert graph.get(key("raw", table)).is_materializable, table


def test_the_only_assets_not_built_are_the_dump_files_which_are_observed(graph) -> None:
    # No loose ends in the lineage: what is not built is a dump kind's files, observable.
    external = {k for k in graph.get_all_asset_keys() if not graph.get(k).is_materializable}
    assert external == {key("dumps", kind.name) for kind in DUMP_KINDS}
    assert all(graph.get(k).is_observable and graph.get(k).parent_keys == set() for k in external)


def test_the_dump_files_are_the_first_nodes_upstream_of_the_raw_tables(graph) -> None:
    for kind in DUMP_KINDS:
        assert graph.get(key("raw", kind.table)).parent_keys == {key("dumps", kind.name)}
    every_dump = {key("dumps", kind.name) for kind in DUMP_KINDS}
    for table in ("rejected_rows", "load_ledger"):
        assert graph.get(key("raw", table)).parent_keys == every_dump
    assert key("dumps", "measurements") in set(graph.upstream_key_iterator(key("analytics", "measurements")))


def test_lineage_runs_from_raw_through_staging_to_the_marts(graph) -> None:
    ancestors = graph.upstream_key_iterator(key("analytics", "measurements"))
    upstream = set(ancestors)
    assert key("staging", "stg_raw__measurements") in upstream
    stg_parents = graph.get(key("staging", "stg_raw__measurements")).parent_keys
    assert key("raw", "measurements") in stg_parents
    for mart in MARTS:
        assert graph.get(key("analytics", mart)).is_materializable, mart


def test_assets_are_grouped_by_warehouse_schema(graph) -> None:
    assert graph.get(key("raw", "measurements")).group_name == "raw"
    assert graph.get(key("staging", "stg_raw__signals")).group_name == "staging"
    assert graph.get(key("analytics", "measurements_hourly")).group_name == "analytics"


def test_every_dbt_test_is_an_asset_check_source_tests_and_singular_tests_included(
    graph, settings: Settings
) -> None:
    manifest = json.loads(prepare_manifest(settings).read_text())
    dbt_tests = {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "test"}
    check_names = {check.name for check in graph.asset_check_keys}
    assert dbt_tests <= check_names
    checks = {(c.asset_key, c.name) for c in graph.asset_check_keys}
    assert (key("analytics", "measurements"), "assert_measurement_files_reconcile") in checks
    assert (key("analytics", "orphan_measurements"), "warn_orphan_readings") in checks


def test_loader_checks_sit_on_each_raw_table(graph) -> None:
    checks = {(c.asset_key, c.name) for c in graph.asset_check_keys}
    for table in ("assets", "signals", "measurements", "rejected_rows"):
        assert (key("raw", table), "ledger_reconciles") in checks
    for table in ("assets", "signals", "measurements"):
        assert (key("raw", table), "rejected_share_below_threshold") in checks


def test_every_mart_has_a_freshness_check(graph) -> None:
    checks = {(c.asset_key, c.name) for c in graph.asset_check_keys}
    for mart in MARTS:
        assert (key("analytics", mart), "freshness_check") in checks


def test_refresh_and_reseed_run_in_process_with_the_writer_tag(repository) -> None:
    for name in ("refresh", "reseed"):
        job = repository.get_job(name)
        assert job.executor_def.name == "in_process"
        assert job.tags["gridwarehouse/writes"] == "warehouse"
        everything = repository.asset_graph.materializable_asset_keys
        assert len(job.asset_layer.selected_asset_keys) == len(everything)


def test_verify_runs_every_check_and_builds_no_asset_with_the_writer_tag(repository) -> None:
    job = repository.get_job("verify")
    assert job.executor_def.name == "in_process"
    assert job.tags["gridwarehouse/writes"] == "warehouse"
    layer = job.asset_layer
    assert layer.selected_asset_keys == set()
    checks = set().union(*(data.assets_def.check_keys for data in layer.data))
    assert checks == set(repository.asset_graph.asset_check_keys)


def test_the_verify_schedule_runs_verify_on_the_configured_cron(repository) -> None:
    schedule = repository.get_schedule_def("verify_schedule")
    assert schedule.job_name == "verify"
    assert schedule.cron_schedule == "45 2 * * 1"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_verify_runs_daily_at_half_past_three_by_default() -> None:
    assert Settings(_env_file=None).verify_cron == "30 3 * * *"


def test_reseed_demands_a_confirm_flag_in_its_run_config(repository) -> None:
    job = repository.get_job("reseed")
    with pytest.raises(dg.DagsterInvalidConfigError, match="confirm"):
        job.execute_in_process(run_config={})


def test_the_schedule_runs_refresh_on_the_configured_cron(repository) -> None:
    schedule = repository.get_schedule_def("refresh_schedule")
    assert schedule.job_name == "refresh"
    assert schedule.cron_schedule == "*/15 * * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_sensors_watch_the_dumps_the_failures_and_the_marts_freshness(repository) -> None:
    sensors = {sensor.name: sensor for sensor in repository.sensor_defs}
    assert set(sensors) == {"new_dump_sensor", "record_run_failures", "mart_freshness_sensor"}
    assert sensors["new_dump_sensor"].job_name == "refresh"
    assert sensors["record_run_failures"].default_status == dg.DefaultSensorStatus.RUNNING


def test_automation_starts_stopped_when_disabled(tmp_path: Path) -> None:
    repository = build_definitions(Settings(data_dir=tmp_path, automation_enabled=False)).get_repository_def()
    assert repository.get_schedule_def("refresh_schedule").default_status == dg.DefaultScheduleStatus.STOPPED
    assert repository.get_schedule_def("verify_schedule").default_status == dg.DefaultScheduleStatus.STOPPED
    assert repository.get_sensor_def("new_dump_sensor").default_status == dg.DefaultSensorStatus.STOPPED


def test_no_step_claims_a_concurrency_pool_slot_a_killed_run_would_keep(repository) -> None:
    # One writer at a time is the writer lock's job (tests/orchestration/test_crash_recovery.py).
    nodes = repository.get_job("refresh").nodes_in_topological_order
    assert {node.definition.name: node.definition.pool for node in nodes
            if node.definition.pool is not None} == {}


def test_the_instance_admits_one_writing_run_at_a_time(settings: Settings) -> None:
    config = open_instance(settings).get_concurrency_config()
    assert config.pool_config.default_pool_limit is None
    assert {"key": "gridwarehouse/writes", "value": "warehouse", "limit": 1} in \
        config.run_queue_config.tag_concurrency_limits


def test_dagster_validates_the_code_location_named_in_pyproject() -> None:
    import subprocess
    import sys

    project_root = Path(__file__).resolve().parents[2]
    dagster = Path(sys.executable).parent / "dagster"
    completed = subprocess.run([str(dagster), "definitions", "validate"], cwd=project_root,
                               capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Validation successful for code location gridwarehouse" in completed.stdout + completed.stderr
