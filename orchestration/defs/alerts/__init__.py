"""Alerts: failed runs recorded where an operator can query them, and posted to a webhook."""

import dagster as dg

from orchestration.defs.alerts.sensors import failure_sensor
from kernel.settings import Settings


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(sensors=[failure_sensor(settings)])
