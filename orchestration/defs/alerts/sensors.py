"""The run failure sensor: every failed run of this code location, recorded and posted."""

from datetime import UTC, datetime

import dagster as dg

from orchestration.defs.alerts.failure_log import RunFailure, post_failures, record_failures
from kernel.settings import Settings

ERROR_CHARS = 4000


def failures_of(context: dg.RunFailureSensorContext) -> list[RunFailure]:
    """One RunFailure per failed step, or one for the run when no step failed."""
    run = context.dagster_run
    stats = context.instance.get_run_stats(run.run_id)
    failed_at = datetime.fromtimestamp(stats.end_time, UTC) if stats.end_time else datetime.now(UTC)
    step_events = context.get_step_failure_events()
    if not step_events:
        message = context.failure_event.message or "run failed"
        return [RunFailure(run.run_id, run.job_name, None, _clip(message), failed_at)]
    return [RunFailure(run.run_id, run.job_name, event.step_key, _clip(_error_text(event)), failed_at)
            for event in step_events]


def _error_text(event: dg.DagsterEvent) -> str:
    error = event.step_failure_data.error
    if error is None:
        return event.message or "step failed"
    parts = [error.message.strip()]
    cause = error.cause
    while cause is not None:
        parts.append(f"caused by {cause.message.strip()}")
        cause = cause.cause
    return "\n".join(parts)


def _clip(text: str) -> str:
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def failure_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="record_run_failures",
        description="Records every failed run (job, step, error) in ops.run_failures and posts it to "
                    "WAREHOUSE_FAILURE_WEBHOOK_URL when that is set.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def record_run_failures(context: dg.RunFailureSensorContext) -> None:
        failures = failures_of(context)
        record_failures(settings, failures)
        context.log.info(f"recorded {len(failures)} failure(s) of run {context.dagster_run.run_id}")
        if settings.failure_webhook_url:
            try:
                post_failures(settings.failure_webhook_url, failures)
            except OSError as error:
                # The record is written; a webhook that is down must not stall the sensor.
                context.log.warning(f"could not post the failure to the webhook: {error}")

    return record_run_failures
