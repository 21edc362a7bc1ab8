"""Running a job in this process and telling what it did (`warehouse run`, `warehouse reseed`).

The run is recorded in the warehouse's Dagster instance like one launched from the UI;
the report lists each materialized asset with its rows and every check's outcome. A
failed run is also recorded in ops.run_failures before `run_job` returns.

The terminal gets one line per thing worth seeing: the run's log lines, and a failed
step as its cause in the words of the code that raised it. Dagster's stack traces stay in
the run's event log (the UI shows them) and reach the terminal only at log level DEBUG
(`warehouse --debug`, WAREHOUSE_LOG_LEVEL=DEBUG).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagster import DagsterInstance
    from rich.console import Console

    from kernel.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssetOutcome:
    asset: str
    row_count: int | None
    rows_loaded: int | None
    rows_rejected: int | None


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    severity: str  # ERROR or WARN: what a failure of this check means

    @property
    def state(self) -> str:
        if self.passed:
            return "passed"
        return "warned" if self.severity == "WARN" else "failed"


@dataclass(frozen=True)
class StepFailure:
    step: str
    error: str


@dataclass
class RunReport:
    run_id: str
    job_name: str
    success: bool
    seconds: float
    # Stopped by Ctrl-C or SIGTERM (Dagster records it as an unexpected termination).
    interrupted: bool = False
    assets: list[AssetOutcome] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    step_failures: list[StepFailure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a step had nothing to do

    def count(self, state: str) -> int:
        return sum(check.state == state for check in self.checks)

    @property
    def ok(self) -> bool:
        """The run succeeded and no error-severity check failed."""
        return self.success and self.count("failed") == 0


def run_job(settings: Settings, job_name: str, *, run_config: Mapping[str, Any] | None = None,
            instance: DagsterInstance | None = None, tags: Mapping[str, str] | None = None) -> RunReport:
    """Execute one of the code location's jobs in this process and report on it.

    Runs of earlier `warehouse` processes that were killed are marked failed first, and
    this run records its own process (orchestration.defs.dead_runs) for the next one.
    """
    import os

    from orchestration.definitions import build_definitions
    from orchestration.defs.alerts.failed_runs import warehouse_tags
    from orchestration.defs.dead_runs import fail_dead_runs, process_tags
    from orchestration.instance import open_instance

    job = build_definitions(settings).resolve_job_def(job_name)
    # The run's event log keeps everything; the terminal what terminal_logger lets through,
    # in the warehouse's format (WAREHOUSE_LOG_FORMAT).
    job = job.with_logger_defs({"console": terminal_logger(
        debug=settings.log_level == "DEBUG", log_format=settings.log_format)})
    instance = instance or open_instance(settings)
    dead = fail_dead_runs(instance, by=f"a new {job_name} run (pid {os.getpid()})")
    started = time.perf_counter()
    # A logger is used only when the run config names it (else Dagster's default console);
    # a job with a config mapping (reseed) names it in its mapping.
    loggers = {} if job.config_mapping else {"loggers": {"console": {}}}
    result = job.execute_in_process(
        run_config={**dict(run_config or {}), **loggers}, instance=instance,
        raise_on_error=False, tags={**process_tags(), **warehouse_tags(settings), **dict(tags or {})})
    report = report_of(result, job_name, time.perf_counter() - started)
    # Ctrl-C or SIGTERM: Dagster fails the run with this reason.
    run = instance.get_run_by_id(result.run_id)
    report.interrupted = (run is not None
                          and run.tags.get("dagster/failure_reason") == "UNEXPECTED_TERMINATION")
    # An interrupted run must end within seconds (docker stop kills after 10): the sensor
    # or `warehouse failures` records it.
    ended = [] if result.success or report.interrupted else [result.run_id]
    record_failed(settings, instance, [*dead, *ended])
    return report


def record_failed(settings: Settings, instance: DagsterInstance, run_ids: list[str]) -> None:
    """Record these runs' failures in ops.run_failures (the failure hook may have already).

    Without a daemon nothing else would; a warehouse that cannot be written only costs a
    warning, since `warehouse failures` records the runs from the instance later.
    """
    if not run_ids:
        return
    from kernel.database import first_line
    from orchestration.defs.alerts.failed_runs import record_failed_runs

    try:
        record_failed_runs(settings, instance, run_ids, attempts=1)
    except Exception as error:
        log.warning("failed run not recorded in ops.run_failures yet (%s); `warehouse failures` "
                    "records it from the run history", first_line(error))


# Dagster's line for each step that a failed step kept from running: the failure itself is
# already on the terminal.
_NOT_EXECUTED = re.compile(r"^Dependencies for step .* Not executing\.$", re.DOTALL)


def terminal_logger(*, debug: bool, log_format: str = "text") -> Any:
    """The Dagster logger of an in-process run's terminal, in the warehouse's format.

    With `debug`, every event at DEBUG, an error with its stack trace. Otherwise INFO and
    above, one line each: an event carrying an error shows the error's cause in one line,
    the run's final failure event is left to the report, and the "Dependencies for step
    ... Not executing" lines that follow a failed step are dropped. Text or JSON lines
    (orchestration/run_console.py), the run id and the step in their fields.
    """
    import dagster as dg

    from kernel.logging_config import make_handler
    from orchestration.run_console import DagsterLineFilter

    @dg.logger(description="The run's lines in the warehouse's format; without debug, one line each.")
    def warehouse_console(init_context: dg.InitLoggerContext) -> logging.Logger:
        logger = logging.Logger("dagster", logging.DEBUG if debug else logging.INFO)  # not registered
        handler = make_handler(log_format)
        lines = [DagsterLineFilter()] if debug else [_worth_a_line, DagsterLineFilter(_one_line_error)]
        handler.filters[0:0] = lines
        logger.addHandler(handler)
        return logger

    return warehouse_console


def _worth_a_line(record: logging.LogRecord) -> bool:
    meta = getattr(record, "dagster_meta", None)
    if not isinstance(meta, dict):
        return True
    event = meta.get("dagster_event")
    if event is None and _NOT_EXECUTED.match(str(meta.get("orig_message") or "")):
        return False
    return not (event is not None and event.is_run_failure)


def _one_line_error(message: str, error: Any) -> str:
    from orchestration.defs.alerts.failed_runs import failure_message

    return f"{message.rstrip('.:')}: {one_line(failure_message(error))}"


def one_line(text: str) -> str:
    """`text` on one line: its lines joined, runs of blanks made one."""
    return " ".join(text.split())


def report_of(result: Any, job_name: str, seconds: float) -> RunReport:
    """A RunReport from an ExecuteInProcessResult."""
    report = RunReport(result.run_id, job_name, result.success, seconds)
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        report.assets.append(AssetOutcome(
            materialization.asset_key.to_user_string(), metadata.get("dagster/row_count"),
            metadata.get("rows_loaded"), metadata.get("rows_rejected")))
    for event in result.get_asset_observation_events():
        metadata = {key: value.value for key, value in event.asset_observation_data.asset_observation.metadata.items()}
        if metadata.get("dbt_build") == "skipped" and f"dbt build skipped: {metadata['reason']}" not in report.skipped:
            report.skipped.append(f"dbt build skipped: {metadata['reason']}")
    for evaluation in result.get_asset_check_evaluations():
        report.checks.append(CheckOutcome(
            evaluation.asset_key.to_user_string(), evaluation.check_name, evaluation.passed,
            evaluation.severity.value))
    from orchestration.defs.alerts.failed_runs import failure_message

    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        message = failure_message(error) if error else (event.message or "step failed")
        report.step_failures.append(StepFailure(event.step_key, message))
    return report


def print_run_report(report: RunReport, console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    if report.interrupted:
        # One line: what was interrupted, and that nothing is left half-written.
        where = ", ".join(f"step {failure.step}" for failure in report.step_failures) or "between steps"
        console.print(f"[bold red]run {report.run_id} ({report.job_name}) interrupted[/] in {where} after "
                      f"{report.seconds:.1f} s and marked failed: its uncommitted work was rolled back and "
                      f"no process of it is left; the next run carries on from there", soft_wrap=True)
        return

    assets = Table(title=f"{report.job_name}: assets", title_justify="left")
    for column in ("asset", "rows", "loaded", "rejected"):
        assets.add_column(column, justify="left" if column == "asset" else "right")
    for outcome in sorted(report.assets, key=lambda outcome: outcome.asset):
        assets.add_row(outcome.asset, *(f"{value:,}" if isinstance(value, int) else ""
                                         for value in (outcome.row_count, outcome.rows_loaded,
                                                       outcome.rows_rejected)))
    if report.assets:  # `verify` materializes none
        console.print(assets)

    not_passed = [check for check in report.checks if not check.passed]
    if not_passed:
        checks = Table(title="checks not passed", title_justify="left")
        for column in ("asset", "check", "outcome"):
            checks.add_column(column)
        styles = {"warned": "yellow", "failed": "bold red"}
        for check in sorted(not_passed, key=lambda check: (check.state, check.asset, check.check)):
            checks.add_row(check.asset, check.check, f"[{styles[check.state]}]{check.state}[/]")
        console.print(checks)
    if report.checks or report.success:  # a run that failed before any check has none to count
        console.print(f"checks: [green]{report.count('passed')} passed[/], "
                      f"[yellow]{report.count('warned')} warned[/], "
                      f"[{'bold red' if report.count('failed') else 'green'}]{report.count('failed')} failed[/]")
    for reason in report.skipped:
        console.print(reason)
    for failure in report.step_failures:
        console.print(f"[bold red]step {failure.step} failed[/]: {escape(one_line(failure.error))}",
                      soft_wrap=True, highlight=False)
    outcome = "[green]succeeded[/]" if report.success else "[bold red]failed[/]"
    console.print(f"run {report.run_id} ({report.job_name}) {outcome} in {report.seconds:.1f} s")
