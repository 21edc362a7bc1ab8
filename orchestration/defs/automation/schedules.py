"""`refresh` on a clock (WAREHOUSE_REFRESH_CRON, hourly by default), `verify` daily
(WAREHOUSE_VERIFY_CRON)."""

import dagster as dg

from orchestration.defs.automation.jobs import refresh_job, verify_job, writer_run_in_flight
from kernel.settings import Settings


def _status(settings: Settings) -> dg.DefaultScheduleStatus:
    return (dg.DefaultScheduleStatus.RUNNING if settings.automation_enabled
            else dg.DefaultScheduleStatus.STOPPED)


def refresh_schedule(settings: Settings) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="refresh_schedule",
        job=refresh_job,
        cron_schedule=settings.refresh_cron,
        execution_timezone="UTC",
        default_status=_status(settings),
        description="Runs `refresh` on WAREHOUSE_REFRESH_CRON; skips a tick while a writing run is "
                    "still queued or running rather than queueing another behind it.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        busy = writer_run_in_flight(context.instance, by="the refresh_schedule")
        if busy:
            return dg.SkipReason(f"run {busy} is still writing to the warehouse")
        return dg.RunRequest(tags={"gridwarehouse/trigger": "schedule"})

    return _schedule


def verify_schedule(settings: Settings) -> dg.ScheduleDefinition:
    # A writing run in flight is waited for in the run queue: the day's check is not skipped.
    return dg.ScheduleDefinition(
        name="verify_schedule",
        job=verify_job,
        cron_schedule=settings.verify_cron,
        execution_timezone="UTC",
        default_status=_status(settings),
        tags={"gridwarehouse/trigger": "schedule"},
        description="Runs `verify` on WAREHOUSE_VERIFY_CRON: every check over whole tables.",
    )
