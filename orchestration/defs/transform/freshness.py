"""Freshness checks on the marts: the analyst contract is stale when `refresh` stops running.

Each check passes while the mart's last materialization is younger than
`settings.mart_max_age_hours`; it runs right after every build (and passes then) and,
between builds, from the freshness sensor, which is what notices a stopped schedule.
"""

import warnings
from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

SENSOR_INTERVAL_SECONDS = 300


def mart_freshness_checks(
    marts: Sequence[dg.AssetKey], max_age_hours: float
) -> Sequence[dg.AssetChecksDefinition]:
    if not marts:
        return []
    with warnings.catch_warnings():
        # Dagster 1.13 marks these "superseded" by FreshnessPolicy, which is a state the
        # UI shows but not an asset check a run reports; we want the checks.
        warnings.simplefilter("ignore")
        return dg.build_last_update_freshness_checks(
            assets=list(marts), lower_bound_delta=timedelta(hours=max_age_hours),
            severity=dg.AssetCheckSeverity.WARN)


def freshness_sensor(checks: Sequence[dg.AssetChecksDefinition], *, running: bool) -> dg.SensorDefinition:
    """Re-evaluates the freshness checks between builds (each run only reads Dagster's log)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=checks, name="mart_freshness_sensor",
            minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
            default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED)
