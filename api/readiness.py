"""Is the warehouse ready to serve? Decided from what the warehouse itself records.

Two conditions, each reported with why it holds or not:

    database  the reader connects and reads analytics.measurements
    refresh   the marts reflect a load that finished within the maximum age
              (WAREHOUSE_READY_MAX_AGE_HOURS): the newest load in raw.load_ledger that
              refresh_state.applied_loads lists, i.e. the last refresh that succeeded and
              brought data

A refresh that keeps failing leaves new loads waiting outside the marts, so the newest
reflected load ages past the limit; so does a source that stopped delivering dumps. Both
are what a monitor should hear about. Failed loads (files whose latest load failed) are
reported, but do not make the warehouse unready: the rest of the data is still served.
Nothing here asks Dagster.
"""

from __future__ import annotations

from datetime import UTC, datetime

from api.errors import ApiError
from api.models import Condition, FailedLoad, Readiness, as_utc
from api.readers import Readers
from kernel.database import Database

MAX_AGE_VARIABLE = "WAREHOUSE_READY_MAX_AGE_HOURS"


def latest_reading(db: Database) -> datetime | None:
    if db.dialect == "postgres":
        # The unique (signal_id, measured_at) index answers each signal's newest reading;
        # a plain max() would read the whole table.
        statement = ("SELECT max(latest.measured_at) FROM analytics.signals AS s CROSS JOIN LATERAL "
                     "(SELECT max(m.measured_at) AS measured_at FROM analytics.measurements AS m "
                     "WHERE m.signal_id = s.signal_id) AS latest")
    else:
        statement = "SELECT max(measured_at) FROM analytics.measurements"
    return db.execute(statement)[0][0]


def assess(readers: Readers, max_age_hours: float, now: datetime | None = None) -> Readiness:
    now = now or datetime.now(UTC)
    conditions: dict[str, Condition] = {}
    latest = last_refresh = None
    waiting: int | None = None
    failed_loads: list[FailedLoad] = []
    try:
        with readers.reading() as db:
            latest = latest_reading(db)
        conditions["database"] = Condition(ok=True, detail=f"{readers.label} answers the reader")
    except ApiError as error:
        conditions["database"] = Condition(ok=False, detail=error.message)
        conditions["refresh"] = Condition(ok=False, detail="not checked: the database does not answer")
    if "refresh" not in conditions:
        try:
            with readers.reading() as db:
                last_refresh, waiting, failed_loads = _refresh_state(db)
            conditions["refresh"] = _refresh_condition(now, last_refresh, waiting, max_age_hours)
        except ApiError as error:
            conditions["refresh"] = Condition(ok=False, detail=f"cannot tell when the marts were last "
                                                               f"refreshed: {error.message}")
    failed = [name for name, condition in conditions.items() if not condition.ok]
    return Readiness(ready=not failed, failed=failed, conditions=conditions, checked_at=now,
                     max_age_hours=max_age_hours, latest_reading_at=latest, last_refresh_at=last_refresh,
                     loads_waiting=waiting, failed_loads=failed_loads)


def _refresh_state(db: Database) -> tuple[datetime | None, int, list[FailedLoad]]:
    (last_refresh, waiting), = db.execute(
        "SELECT (SELECT max(finished_at) FROM raw.load_ledger "
        "        WHERE load_id IN (SELECT load_id FROM refresh_state.applied_loads)), "
        "       (SELECT count(*) FROM raw.load_ledger WHERE status = 'loaded' "
        "        AND load_id NOT IN (SELECT load_id FROM refresh_state.applied_loads))")
    failed = [FailedLoad(load_id=load_id, source_file=source_file, finished_at=finished_at)
              for load_id, source_file, finished_at in db.execute(
                  "SELECT load_id, source_file, finished_at FROM raw.load_ledger AS failed "
                  "WHERE status = 'failed' AND NOT EXISTS (SELECT 1 FROM raw.load_ledger AS later "
                  "WHERE later.source_file = failed.source_file AND later.load_id > failed.load_id) "
                  "ORDER BY load_id")]
    return last_refresh, int(waiting), failed


def _refresh_condition(now: datetime, last_refresh: datetime | None, waiting: int,
                       max_age_hours: float) -> Condition:
    pending = f"; {waiting} load(s) wait for a refresh" if waiting else ""
    if last_refresh is None:
        return Condition(ok=False, detail=f"no refresh has brought data into the marts yet{pending}")
    age_hours = (now - as_utc(last_refresh)).total_seconds() / 3600
    limit = f"{max_age_hours:g} h ({MAX_AGE_VARIABLE})"
    if age_hours > max_age_hours:
        return Condition(ok=False, detail=f"stale: the newest load the marts reflect finished "
                                          f"{age_hours:.2f} h ago, more than {limit}{pending}")
    return Condition(ok=True, detail=f"the newest load the marts reflect finished {age_hours:.2f} h ago, "
                                     f"within {limit}{pending}")
