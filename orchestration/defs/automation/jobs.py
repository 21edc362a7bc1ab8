"""The jobs: `refresh` (incremental) and `reseed` (from scratch) write the warehouse,
`verify` runs every check over whole tables.

`refresh` and `reseed` select the whole graph (raw tables, dbt models, every check);
`verify` only the checks. All run in one process: steps are few and long, and each step
of a multiprocess run would re-import Dagster, dbt and Polars. All carry the writer tag
the run queue admits one run of: `verify` only reads, but it must read while nothing
writes, and on DuckDB dbt needs the file to itself. A failed step of any of them records
itself in ops.run_failures (alerts/hooks.py), with or without the daemon.
"""

import dagster as dg

from orchestration.defs.alerts.hooks import record_failed_step
from orchestration.defs.dead_runs import fail_dead_runs
from orchestration.defs.warehouse_access import WRITER_RUN_TAGS

RAW_STEP = "raw_tables"
DBT_STEP = "dbt_models"

refresh_job = dg.define_asset_job(
    name="refresh",
    selection=dg.AssetSelection.all(),
    description="Load new or changed dump files into the raw tables, then build the dbt models "
                "incrementally and run every check.",
    executor_def=dg.in_process_executor,
    tags=WRITER_RUN_TAGS,
    hooks={record_failed_step},
)


def _reseed_run_config(values: dict) -> dict:
    return {
        "ops": {
            RAW_STEP: {"config": {"reseed": True, "confirm": values["confirm"]}},
            DBT_STEP: {"config": {"full_refresh": True}},
        },
        # The run config behind a mapping can only come from here: name the console logger,
        # Dagster's unless `warehouse reseed` puts its own in (orchestration/runs.py).
        "loggers": {"console": {}},
    }


reseed_job = dg.define_asset_job(
    name="reseed",
    selection=dg.AssetSelection.all(),
    description="Empty the raw tables and the load ledger, reload every dump file, and rebuild "
                "every dbt model from scratch (--full-refresh). Asks for `confirm: true`.",
    executor_def=dg.in_process_executor,
    tags=WRITER_RUN_TAGS,
    hooks={record_failed_step},
    config=dg.ConfigMapping(
        config_schema={"confirm": dg.Field(
            bool, description="Set to true to empty the raw tables and rebuild everything.")},
        config_fn=_reseed_run_config,
    ),
)

verify_job = dg.define_asset_job(
    name="verify",
    # Checks only: dagster-dbt then selects just the dbt tests, and the dbt step builds nothing.
    selection=dg.AssetSelection.all_asset_checks(),
    description="Run every check over whole tables: each dbt data test with check_scope full "
                "(a refresh tests only its batch on the big tables), the raw tables' ledger "
                "checks and the marts' freshness. Builds nothing.",
    executor_def=dg.in_process_executor,
    tags=WRITER_RUN_TAGS,
    hooks={record_failed_step},
    config={"ops": {DBT_STEP: {"config": {"check_scope": "full"}}}},
)

JOBS = [refresh_job, reseed_job, verify_job]


def writer_run_in_flight(instance: dg.DagsterInstance, *, by: str) -> str | None:
    """The id of a queued or running warehouse-writing run, if there is one.

    A run whose process died is not in flight: it is marked failed first (`by` names who
    noticed, in that run's event log), or it would hold the schedule and sensor for ever.
    """
    fail_dead_runs(instance, by=by)
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags=WRITER_RUN_TAGS, statuses=[
            dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
            dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]),
        limit=1)
    return runs[0].run_id if runs else None
