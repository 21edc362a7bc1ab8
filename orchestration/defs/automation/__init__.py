"""Automation: the jobs, their schedules, and the sensor that watches the data folder."""

import dagster as dg

from orchestration.defs.automation.dump_sensor import dump_sensor
from orchestration.defs.automation.jobs import JOBS
from orchestration.defs.automation.schedules import refresh_schedule, verify_schedule
from kernel.settings import Settings


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(jobs=JOBS, schedules=[refresh_schedule(settings), verify_schedule(settings)],
                          sensors=[dump_sensor(settings)])
