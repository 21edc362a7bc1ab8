"""`refresh` on a clock (WAREHOUSE_REFRESH_CRON, hourly by default)."""

import dagster as dg

from orchestration.defs.automation.jobs import refresh_job, writer_run_in_flight
from warehouse.settings import Settings


def refresh_schedule(settings: Settings) -> dg.ScheduleDefinition:
    status = (dg.DefaultScheduleStatus.RUNNING if settings.automation_enabled
              else dg.DefaultScheduleStatus.STOPPED)

    @dg.schedule(
        name="refresh_schedule",
        job=refresh_job,
        cron_schedule=settings.refresh_cron,
        execution_timezone="UTC",
        default_status=status,
        description="Runs `refresh` on WAREHOUSE_REFRESH_CRON; skips a tick while a writing run is "
                    "still queued or running rather than queueing another behind it.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        busy = writer_run_in_flight(context.instance, by="the refresh_schedule")
        if busy:
            return dg.SkipReason(f"run {busy} is still writing to the warehouse")
        return dg.RunRequest(tags={"gridwarehouse/trigger": "schedule"})

    return _schedule
