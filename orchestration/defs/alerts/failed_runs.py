"""Failed runs as the Dagster instance knows them, turned into rows of ops.run_failures.

Whichever process sees a run fail records it: the run itself (a failure hook on every
job's steps, and `warehouse run` at its end), the run-failure sensor when the daemon is
up, and `warehouse failures`, which first records every failed run of the instance that
the table lacks (a run that failed while the warehouse could not be written, or was
marked failed after its process died). `record_failures` keeps one row per run and step
however many of them record the same failure.

The error kept is the one the step's code raised, in its own words (`data folder /x does
not exist`), without the Dagster exceptions wrapped around it; the instance's event log
keeps the stack traces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg

from orchestration.defs.alerts.failure_log import RunFailure, recorded_failures, recorded_run_ids, record_failures

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

    from kernel.settings import Settings

ERROR_CHARS = 4000
# The warehouse a run of `warehouse run` wrote (kernel.database.Warehouse.label): one
# Dagster home may serve a DuckDB and a PostgreSQL warehouse in turn, and a failure is
# recorded only in the warehouse of its run. Runs without it (launched by the daemon or
# the UI) are the code location's, whose settings are the same.
WAREHOUSE_TAG = "gridwarehouse/warehouse"
# How many of the latest failed runs `warehouse failures` makes sure are recorded.
RECONCILED_RUNS = 100
# The exceptions Dagster wraps around the one a step raised ("Error occurred while
# executing op ..."), and the retry request wrapped around a transient error.
_WRAPPER_MODULES = ("dagster.", "dagster_shared.")
_QUALIFIED_NAME = re.compile(r"^[A-Za-z_][\w.]*$")
# Errors whose message is written for the operator and reads without the class's name:
# the project's own (which name the place and what to do) and dagster.Failure's.
_OWN_MODULES = ("kernel.", "loaders.", "orchestration.", "sample_data.", "dagster.")


def failure_message(error: SerializableErrorInfo) -> str:
    """What the code that failed said, without Dagster's wrappers around it.

    `dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing
    op "raw_tables"` caused by `loaders.errors.LoaderError: data folder /x does not exist`
    gives `data folder /x does not exist`; another library's error keeps its class's name
    (`KeyError: 'x'`).
    """
    while error.cause is not None and (error.message.startswith(_WRAPPER_MODULES)
                                       or error.cls_name == "RetryRequested"):
        error = error.cause
    message = error.message.strip()
    prefix, separator, rest = message.partition(": ")
    if separator and _QUALIFIED_NAME.match(prefix) and prefix.rsplit(".", 1)[-1] == error.cls_name:
        message = rest.strip() if prefix.startswith(_OWN_MODULES) else f"{error.cls_name}: {rest.strip()}"
    return message or (error.cls_name or "error")


def clip(text: str) -> str:
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def failures_of_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[RunFailure]:
    """One RunFailure per failed step of `run`, or one for the run when no step failed."""
    events = instance.all_logs(run.run_id, of_type={dg.DagsterEventType.STEP_FAILURE,
                                                     dg.DagsterEventType.RUN_FAILURE})
    steps = [event for event in events if event.dagster_event_type == dg.DagsterEventType.STEP_FAILURE]
    if steps:
        return [_step_failure(run, event) for event in steps]
    runs = [event for event in events if event.dagster_event_type == dg.DagsterEventType.RUN_FAILURE]
    if runs:
        event = runs[-1]
        data = event.dagster_event.event_specific_data if event.dagster_event else None
        error = getattr(data, "error", None)
        message = event.dagster_event.message if event.dagster_event else None
        text = failure_message(error) if error is not None else (message or "run failed")
        return [RunFailure(run.run_id, run.job_name, None, clip(text), _at(event.timestamp))]
    record = instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record is not None and record.end_time else None
    return [RunFailure(run.run_id, run.job_name, None, "run failed",
                       _at(ended) if ended else datetime.now(UTC))]


def step_failure_of(instance: dg.DagsterInstance, run_id: str, step_key: str) -> RunFailure | None:
    """The recorded failure of one step of a run, or None if the instance has none (yet)."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return None
    for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        if event.step_key == step_key:
            return _step_failure(run, event)
    return None


def _step_failure(run: dg.DagsterRun, event: dg.EventLogEntry) -> RunFailure:
    dagster_event = event.dagster_event
    error = dagster_event.step_failure_data.error if dagster_event else None
    text = failure_message(error) if error is not None else (dagster_event and dagster_event.message) or "step failed"
    return RunFailure(run.run_id, run.job_name, event.step_key, clip(text), _at(event.timestamp))


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def warehouse_tags(settings: Settings) -> dict[str, str]:
    """The tags naming the warehouse a run writes."""
    return {WAREHOUSE_TAG: settings.warehouse.label}


def latest_failed_runs(settings: Settings, instance: dg.DagsterInstance, limit: int) -> list[dg.DagsterRun]:
    """The latest failed runs of the instance that wrote (or may have written) this warehouse."""
    label = settings.warehouse.label
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]), limit=limit)
    return [run for run in runs if run.tags.get(WAREHOUSE_TAG, label) == label]


def record_failed_runs(settings: Settings, instance: dg.DagsterInstance, run_ids: Iterable[str],
                       *, attempts: int | None = None) -> list[RunFailure]:
    """Record the failures of these runs (those that failed) in ops.run_failures; return them."""
    failures = []
    for run_id in dict.fromkeys(run_ids):
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status == dg.DagsterRunStatus.FAILURE:
            failures += failures_of_run(instance, run)
    options = {} if attempts is None else {"attempts": attempts}
    record_failures(settings, failures, **options)
    return failures


def reconcile(settings: Settings, instance: dg.DagsterInstance, runs: int = RECONCILED_RUNS) -> list[RunFailure]:
    """Record the latest failed runs of the instance that ops.run_failures lacks; return their rows.

    Raises the warehouse's DatabaseError when it cannot be read or written.
    """
    failed = [run.run_id for run in latest_failed_runs(settings, instance, runs)]
    if not failed:
        return []
    missing = [run_id for run_id in failed if run_id not in recorded_run_ids(settings, failed)]
    # One attempt: a warehouse held by a running build stays held for minutes.
    return record_failed_runs(settings, instance, missing, attempts=1) if missing else []


@dataclass(frozen=True)
class FailureListing:
    failures: list[RunFailure]
    # Why ops.run_failures could not be read or brought up to date; then `failures` come
    # from the Dagster instance alone.
    problem: str | None = None


def list_failures(settings: Settings, instance: dg.DagsterInstance | None, limit: int) -> FailureListing:
    """The latest failures, newest first: ops.run_failures once brought up to date with the
    instance, or, when the warehouse cannot be written, the instance's failed runs alone."""
    from kernel.database import DatabaseError

    try:
        if instance is not None:
            reconcile(settings, instance)
        return FailureListing(recorded_failures(settings, limit))
    except DatabaseError as error:
        problem = str(error)
    failures = []
    if instance is not None:
        for run in latest_failed_runs(settings, instance, limit):
            failures += failures_of_run(instance, run)
    failures.sort(key=lambda failure: failure.failed_at, reverse=True)
    return FailureListing(failures[:limit], problem)
