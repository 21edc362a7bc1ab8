"""One full build of the sample data per warehouse, as `warehouse run` does it, read many ways.

The sample data in data/ carries documented defects (data/README.md): 2 bad records in
assets.json and in signal.json, 151 unreadable measurement lines, 50 readings of unknown
signals, 3 out-of-range readings. Every error-severity check passes on it; exactly the
checks that exist to flag those defects warn.
"""

from __future__ import annotations

import dagster as dg
import pytest
from rich.console import Console

from orchestration.runs import print_run_report, run_job
from tests.orchestration.conftest import Build, analytics_snapshot, query

pytestmark = pytest.mark.timeout(900)

BUILDS = ["duckdb_build", pytest.param("postgres_build", marks=pytest.mark.postgres)]
EXPECTED_WARNINGS = {
    ("raw/assets", "rejected_share_below_threshold"),  # 2 of 12 records: 17 % > 5 %
    ("analytics/orphan_measurements", "warn_orphan_readings"),  # 50 readings of unknown signals
    ("analytics/measurements", "within_signal_range_measurements_value__ref_signals_"),  # 3 anomalies
}
RAW_ROWS = {"raw/assets": 10, "raw/signals": 40, "raw/measurements": 299_849, "raw/rejected_rows": 155}
RAW_TABLES = ("assets", "signals", "measurements", "rejected_rows", "load_ledger")
MART_ROWS = {"analytics/assets": 10, "analytics/signals": 40, "analytics/measurements": 299_458}


@pytest.fixture(params=BUILDS)
def build(request: pytest.FixtureRequest) -> Build:
    return request.getfixturevalue(request.param)


def latest_metadata(build: Build, asset: str) -> dict[str, dg.MetadataValue]:
    event = build.instance.get_latest_materialization_event(dg.AssetKey.from_user_string(asset))
    assert event is not None, asset
    return dict(event.asset_materialization.metadata)


def test_refresh_materializes_every_asset_and_every_error_check_passes(build: Build) -> None:
    report = build.report
    assert report.success, report.step_failures
    materialized = {outcome.asset for outcome in report.assets}
    assert {*RAW_ROWS, "raw/load_ledger", *MART_ROWS, "staging/stg_raw__measurements"} <= materialized
    assert report.count("failed") == 0
    assert {(c.asset, c.check) for c in report.checks if not c.passed} == EXPECTED_WARNINGS
    assert report.ok


def test_every_check_of_the_graph_ran(build: Build) -> None:
    from orchestration.definitions import build_definitions

    graph = build_definitions(build.settings).get_repository_def().asset_graph
    ran = {(c.asset, c.check) for c in build.report.checks}
    assert ran == {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}


def test_raw_materializations_carry_the_load_counts_as_plottable_numbers(build: Build) -> None:
    metadata = latest_metadata(build, "raw/measurements")
    assert metadata["rows_read"] == dg.IntMetadataValue(300_000)
    assert metadata["rows_loaded"] == dg.IntMetadataValue(299_849)
    assert metadata["rows_rejected"] == dg.IntMetadataValue(151)
    assert metadata["files_loaded"] == dg.IntMetadataValue(2)
    assert isinstance(metadata["rows_per_second"], dg.FloatMetadataValue)
    assert metadata["rows_per_second"].value > 0
    assert metadata["dagster/row_count"] == dg.IntMetadataValue(299_849)


def test_raw_materializations_name_files_checksums_columns_and_a_preview(build: Build) -> None:
    from loaders.ledger import SourceFile

    metadata = latest_metadata(build, "raw/measurements")
    files = metadata["files"].value
    for name in ("measurements_001.csv", "measurements_002.csv"):
        assert SourceFile.fingerprint(build.settings.data_path / name, "measurements").sha256 in files
    columns = [column.name for column in metadata["dagster/column_schema"].value.columns]
    assert columns[:3] == ["ts", "signal_id", "measurement_value"]
    assert len(metadata["preview"].value.splitlines()) == 1 + 1 + 5  # header, rule, five rows
    assert metadata["dagster/table_name"].value == "raw.measurements"


def test_raw_columns_carry_the_descriptions_the_database_holds(build: Build) -> None:
    for table in RAW_TABLES:
        columns = latest_metadata(build, f"raw/{table}")["dagster/column_schema"].value.columns
        assert [column.name for column in columns if not column.description] == [], table
    schema = latest_metadata(build, "raw/measurements")["dagster/column_schema"].value
    columns = {column.name: column.description for column in schema.columns}
    assert columns["measurement_value"] == "MeasurementValue, the decimal comma already read."


def test_each_load_records_its_dump_files_version_and_the_raw_tables_name_it_as_their_input(
    build: Build,
) -> None:
    from loaders.dump_kinds import DUMP_KINDS
    from orchestration.defs.ingest.dump_files import DUMP_KEYS, observe_kind

    for kind in DUMP_KINDS:
        [record] = build.instance.fetch_observations(DUMP_KEYS[kind.name], limit=1).records
        version = record.asset_observation.tags["dagster/data_version"]
        # The same version the UI's "Observe sources" finds, so the raw table is not behind.
        assert version == observe_kind(kind, build.settings.data_path).data_version.value
        raw = build.instance.get_latest_materialization_event(dg.AssetKey(["raw", kind.table]))
        assert raw.asset_materialization.tags[f"dagster/input_data_version/dumps/{kind.name}"] == version


def check_evaluations(build: Build) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    """The build's check evaluations as the instance stored them (what the UI reads)."""
    records = build.instance.get_records_for_run(
        run_id=build.report.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    evaluations = [record.event_log_entry.dagster_event.event_specific_data for record in records]
    return {(e.asset_key.to_user_string(), e.check_name): e for e in evaluations}


def test_the_checks_that_warn_fail_with_severity_warn_dbt_tests_and_loader_checks_alike(build: Build) -> None:
    evaluations = check_evaluations(build)
    not_passed = {key: evaluation.severity for key, evaluation in evaluations.items()
                  if not evaluation.passed}
    assert not_passed == dict.fromkeys(EXPECTED_WARNINGS, dg.AssetCheckSeverity.WARN)


UI_CHECKS = """
query {
  assetNodes {
    assetKey { path }
    assetChecksOrError { ... on AssetChecks { checks {
      name
      executionForLatestMaterialization { status evaluation { severity } }
    } } }
  }
}"""


def test_the_ui_draws_the_warnings_as_warnings_and_nothing_as_an_error(
    duckdb_build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the UI's GraphQL answers for each check's latest execution: the UI draws a
    FAILED execution of severity WARN as a yellow warning, of severity ERROR as a red error."""
    import logging

    from dagster._core.test_utils import in_process_test_workspace
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster_graphql.test.utils import execute_dagster_graphql

    from kernel.logging_config import DBT_LOGGER, LOGGERS

    settings = duckdb_build.settings
    for name, value in (("DATA_DIR", settings.data_dir), ("DUCKDB_PATH", settings.duckdb_path),
                        ("DAGSTER_HOME", settings.dagster_home), ("AUTOMATION_ENABLED", "false")):
        monkeypatch.setenv(f"WAREHOUSE_{name}", str(value))
    handlers = {name: logging.getLogger(name).handlers[:] for name in (*LOGGERS, DBT_LOGGER)}
    location = LoadableTargetOrigin(module_name="orchestration.definitions", attribute="defs")
    try:
        with in_process_test_workspace(duckdb_build.instance, location) as workspace:
            nodes = execute_dagster_graphql(workspace, UI_CHECKS).data["assetNodes"]
    finally:
        for name, saved in handlers.items():  # the code location configures logging when it loads
            logging.getLogger(name).handlers[:] = saved
    shown = {("/".join(node["assetKey"]["path"]), check["name"]): check["executionForLatestMaterialization"]
             for node in nodes for check in node["assetChecksOrError"].get("checks", [])}
    not_passed = {key: (execution["status"], execution["evaluation"]["severity"])
                  for key, execution in shown.items() if execution and execution["status"] != "SUCCEEDED"}
    assert not_passed == dict.fromkeys(EXPECTED_WARNINGS, ("FAILED", "WARN"))


@pytest.mark.parametrize("asset", list(RAW_ROWS))
def test_raw_row_counts_match_the_sample_data(build: Build, asset: str) -> None:
    assert latest_metadata(build, asset)["dagster/row_count"].value == RAW_ROWS[asset]


def test_dbt_materializations_carry_the_tables_row_counts(build: Build) -> None:
    for asset, rows in MART_ROWS.items():
        assert latest_metadata(build, asset)["dagster/row_count"].value == rows
        table = asset.replace("/", ".")
        assert query(build.settings, f"SELECT count(*) FROM {table}")[0][0] == rows
    hourly = latest_metadata(build, "analytics/measurements_hourly")
    assert hourly["dagster/row_count"].value == len(build.analytics["measurements_hourly"])
    assert "preview" in hourly
    assert "dagster/column_schema" in latest_metadata(build, "staging/stg_raw__measurements")


def test_both_warehouses_build_the_same_analytics_tables(duckdb_build: Build, postgres_build: Build) -> None:
    rows = {table: len(content) for table, content in duckdb_build.analytics.items()}
    assert rows == {table: len(content) for table, content in postgres_build.analytics.items()}
    assert duckdb_build.analytics["assets"] == postgres_build.analytics["assets"]
    assert duckdb_build.analytics["signals"] == postgres_build.analytics["signals"]


def test_the_summary_names_assets_rows_and_check_outcomes(duckdb_build: Build) -> None:
    console = Console(record=True, width=160)
    print_run_report(duckdb_build.report, console)
    text = console.export_text()
    assert "analytics/measurements" in text and "299,458" in text
    assert "87 passed, 3 warned, 0 failed" in text.replace("checks: ", "")
    assert "succeeded" in text


def test_a_repeated_load_skips_every_file_and_the_ledger_still_reconciles(duckdb_build: Build) -> None:
    # The raw step of `refresh` again (dbt's incremental runs are the dbt tests' subject).
    from orchestration.definitions import build_definitions

    raw_keys = {dg.AssetKey(["raw", table]) for table in RAW_TABLES}
    job = build_definitions(duckdb_build.settings).resolve_job_def("refresh")
    loader_checks = {check for check in job.asset_layer.asset_graph.asset_check_keys
                     if check.name in ("ledger_reconciles", "rejected_share_below_threshold")}
    job = job.get_subset(asset_selection=raw_keys, asset_check_selection=loader_checks)
    ledger = query(duckdb_build.settings, "SELECT load_id, status FROM raw.load_ledger ORDER BY load_id")
    result = job.execute_in_process(instance=duckdb_build.instance, raise_on_error=False)
    assert result.success
    metadata = latest_metadata(duckdb_build, "raw/measurements")
    assert (metadata["files_skipped"].value, metadata["rows_loaded"].value) == (2, 0)
    reconciled = [evaluation.passed for evaluation in result.get_asset_check_evaluations()
                  if evaluation.check_name == "ledger_reconciles"]
    assert reconciled == [True] * 4
    ledger_after = query(duckdb_build.settings, "SELECT load_id, status FROM raw.load_ledger ORDER BY load_id")
    assert ledger_after == ledger


# Last in the module: it empties and refills the DuckDB build's warehouse.
def test_reseed_rebuilds_the_same_analytics_tables_as_a_fresh_build(duckdb_build: Build) -> None:
    refused = run_job(duckdb_build.settings, "reseed", run_config={"confirm": False})
    assert not refused.success
    assert "confirm: true" in refused.step_failures[0].error
    assert query(duckdb_build.settings, "SELECT count(*) FROM raw.measurements")[0][0] == 299_849

    report = run_job(duckdb_build.settings, "reseed", run_config={"confirm": True})
    assert report.ok, report.step_failures
    loaded = {outcome.asset: outcome.rows_loaded for outcome in report.assets}
    assert loaded["raw/measurements"] == 299_849  # every file read again
    assert analytics_snapshot(duckdb_build.settings) == duckdb_build.analytics
