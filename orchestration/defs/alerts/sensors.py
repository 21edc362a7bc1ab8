"""The run failure sensor: every failed run of this code location, recorded and posted."""

import dagster as dg

from orchestration.defs.alerts.failed_runs import failures_of_run
from orchestration.defs.alerts.failure_log import RunFailure, post_failures, record_failures
from kernel.settings import Settings


def failures_of(context: dg.RunFailureSensorContext) -> list[RunFailure]:
    """One RunFailure per failed step, or one for the run when no step failed."""
    return failures_of_run(context.instance, context.dagster_run)


def failure_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="record_run_failures",
        description="Records every failed run (job, step, error) in ops.run_failures, unless the run "
                    "or `warehouse failures` did already, and posts it to WAREHOUSE_FAILURE_WEBHOOK_URL "
                    "when that is set.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def record_run_failures(context: dg.RunFailureSensorContext) -> None:
        failures = failures_of(context)
        added = record_failures(settings, failures)
        context.log.info(f"recorded {added} new failure(s) of run {context.dagster_run.run_id} "
                         f"({len(failures) - added} recorded before)")
        if settings.failure_webhook_url:
            try:
                post_failures(settings.failure_webhook_url, failures)
            except OSError as error:
                # The record is written; a webhook that is down must not stall the sensor.
                context.log.warning(f"could not post the failure to the webhook: {error}")

    return record_run_failures
