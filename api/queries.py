"""What each endpoint reads, as SQL over the analytics contract (and the ledger for operators).

Every value reaches the database as a bound parameter (`?`); table and column names
come only from the constants here, never from a request. The statements run unchanged
on DuckDB and PostgreSQL.

Measurements are read at a *resolution*, each served by one mart (`RESOLUTIONS`):

    raw      analytics.measurements          one row per reading, keyed by measured_at
    15min    analytics.measurements_15min    one row per 15-minute interval (when the mart exists)
    hourly   analytics.measurements_hourly   one row per UTC hour
    daily    analytics.measurements_hourly   rolled up per UTC day

A range [start, end) selects the rows whose time (a reading's, or a period's start)
falls in it; for the daily roll-up, the days whose midnight does, so a day is never cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import TypeAdapter

from api import models
from api.errors import BadParameter, NotFound
from api.paging import decode_cursor, encode_cursor
from kernel.database import Database

TIME_EXPECTED = "an ISO 8601 date or UTC time, e.g. 2022-01-01 or 2022-01-01T10:00:00Z"


# --- the range ------------------------------------------------------------------------------

def parse_time(parameter: str, value: str | None) -> datetime | None:
    """A query parameter's time as naive UTC (how the marts store it); None when absent."""
    if value is None or value == "":
        return None
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadParameter(parameter, TIME_EXPECTED, value) from None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


@dataclass(frozen=True)
class TimeRange:
    """[start, end): either end may be open."""

    start: datetime | None
    end: datetime | None

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> TimeRange:
        lower, upper = parse_time("start", start), parse_time("end", end)
        if lower is not None and upper is not None and upper <= lower:
            raise BadParameter("end", f"a time after start ({lower.isoformat()}Z)", end)
        return cls(lower, upper)


def ceil_to_day(moment: datetime) -> datetime:
    """The first midnight at or after `moment`: days are in a range when their midnight is."""
    midnight = datetime.combine(moment.date(), time())
    return midnight if midnight == moment else midnight + timedelta(days=1)


# --- resolutions ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    name: str
    expression: str  # SQL over the resolution's table
    kind: str        # arrow type: timestamp, date, double, int64, bool, string


@dataclass(frozen=True)
class Resolution:
    """One `resolution` value: the mart that serves it and how its rows are read."""

    name: str
    table: str           # the mart, schema-qualified
    time_column: str     # the mart's time column: what the range and the cursor filter
    columns: tuple[Column, ...]  # the answer's columns, the first is the row's key
    row_type: type  # its rows' TypedDict in api/models.py
    # Rows are periods rolled up from a finer mart: the range's ends round up to a period.
    rollup_day: bool = False

    @property
    def key(self) -> str:
        return self.columns[0].name

    def select(self, columns: Sequence[Column] | None = None) -> str:
        chosen = columns or self.columns
        listed = ", ".join(f"{column.expression} AS {column.name}" for column in chosen)
        group = " GROUP BY 1" if self.rollup_day else ""
        return f"SELECT {listed} FROM {self.table} WHERE {{where}}{group} ORDER BY 1"


def _plain(name: str, kind: str) -> Column:
    return Column(name, name, kind)


RAW = Resolution(
    "raw", "analytics.measurements", "measured_at",
    (_plain("measured_at", "timestamp"), _plain("value", "double"), _plain("load_id", "int64"),
     _plain("duplicates_dropped", "int64")),
    models.Reading)

HOURLY_COLUMNS = (_plain("n", "int64"), _plain("min", "double"), _plain("max", "double"),
                  _plain("avg", "double"), _plain("first_value", "double"), _plain("last_value", "double"))

HOURLY = Resolution(
    "hourly", "analytics.measurements_hourly", "hour_utc",
    (_plain("hour_utc", "timestamp"), *HOURLY_COLUMNS), models.HourlyAggregate)

# The day's figures from its hours: counts add up, extremes are the hours' extremes, the
# mean of the readings is the hours' means weighted by their counts, the first and last
# values are those of the first and last hour.
DAILY = Resolution(
    "daily", "analytics.measurements_hourly", "hour_utc",
    (Column("day_utc", "CAST(date_trunc('day', hour_utc) AS DATE)", "date"),
     Column("n", "CAST(SUM(n) AS BIGINT)", "int64"),
     Column("min", "MIN(min)", "double"),
     Column("max", "MAX(max)", "double"),
     Column("avg", "SUM(avg * n) / CAST(SUM(n) AS DOUBLE PRECISION)", "double"),
     Column("first_value", "(array_agg(first_value ORDER BY hour_utc))[1]", "double"),
     Column("last_value", "(array_agg(last_value ORDER BY hour_utc DESC))[1]", "double")),
    models.DailyAggregate, rollup_day=True)

# Built by a mart of the time-weighted analytics; served as soon as the warehouse has it.
QUARTER_HOUR = Resolution(
    "15min", "analytics.measurements_15min", "interval_start_utc",
    (_plain("interval_start_utc", "timestamp"), _plain("readings", "int64"),
     _plain("covered_seconds", "double"), _plain("avg_time_weighted", "double"),
     _plain("min", "double"), _plain("max", "double"), _plain("value_at_start", "double"),
     _plain("energy_kwh", "double"), _plain("reactive_energy_kvarh", "double")),
    models.QuarterHourAggregate)

RESOLUTIONS: dict[str, Resolution] = {r.name: r for r in (RAW, QUARTER_HOUR, HOURLY, DAILY)}


def table_columns(db: Database, qualified: str) -> list[str]:
    schema, table = qualified.split(".")
    return [name for (name,) in db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position", (schema, table))]


SQL_TYPES = {"timestamp": "TIMESTAMP", "date": "DATE", "double": "DOUBLE PRECISION", "int64": "BIGINT",
             "bool": "BOOLEAN", "string": "TEXT"}


def available_columns(db: Database, resolution: Resolution) -> tuple[Column, ...]:
    """The resolution's columns as its mart has them; BadParameter when the mart is not there.

    The contract's marts always are; a mart another change adds (15min) may not be yet,
    and may come with fewer columns, which then answer null.
    """
    if resolution is not QUARTER_HOUR:
        return resolution.columns
    present = set(table_columns(db, resolution.table))
    if not {"signal_id", resolution.time_column} <= present:
        served = ", ".join(name for name, r in RESOLUTIONS.items() if r is not QUARTER_HOUR)
        raise BadParameter("resolution", f"one of {served} ({resolution.table} does not exist in this "
                                         "warehouse yet)", resolution.name)
    return tuple(column if column.name in present else
                 Column(column.name, f"CAST(NULL AS {SQL_TYPES[column.kind]})", column.kind)
                 for column in resolution.columns)


# --- pages ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PageQuery:
    """One page's statement, its parameters, and how to build its rows and next cursor."""

    statement: str
    params: list[Any]
    names: list[str]
    limit: int | None


@cache
def _list_of(model: type[models.Row]) -> TypeAdapter:
    # One validation of the whole list: half the time of one call per row.
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _validated(model: type[models.Row], names: Sequence[str], rows: Sequence[tuple]) -> list[Any]:
    return _list_of(model).validate_python([dict(zip(names, row, strict=True)) for row in rows])


def _as_dicts(names: Sequence[str], rows: Sequence[tuple]) -> list[dict[str, Any]]:
    """Rows as dicts, their times in UTC with the zone attached (a naive time from the marts is
    UTC; a timestamptz comes in the session's zone): pydantic then writes them with a `Z`."""
    if not rows:
        return []
    times = []
    for index in range(len(names)):
        # A column's type shows in its first non-null value.
        first = next((row[index] for row in rows if row[index] is not None), None)
        if isinstance(first, datetime):
            times.append(index)
    if not times:
        return [dict(zip(names, row, strict=True)) for row in rows]
    converted = []
    for row in rows:
        values = list(row)
        for index in times:
            moment = values[index]
            if moment is not None:
                values[index] = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        converted.append(dict(zip(names, values, strict=True)))
    return converted


def _page(db: Database, query: PageQuery, cursor_kind: str) -> tuple[list[dict[str, Any]], str | None]:
    """The rows of one page (one more is fetched to know whether another follows), as dicts
    for the page's model to check."""
    fetched = db.execute(query.statement, query.params)
    assert query.limit is not None
    rows = _as_dicts(query.names, fetched[:query.limit])
    following = None
    if len(fetched) > query.limit:
        following = encode_cursor(cursor_kind, fetched[query.limit - 1][0])
    return rows, following


def measurements_query(resolution: Resolution, columns: Sequence[Column], signal_id: int,
                       span: TimeRange, cursor: str | None, limit: int | None) -> PageQuery:
    """The statement of one page (`limit`) or of the whole range (`limit` None, for streams)."""
    conditions, params = ["signal_id = ?"], [signal_id]
    lower, upper = span.start, span.end
    if resolution.rollup_day:
        lower = ceil_to_day(lower) if lower else None
        upper = ceil_to_day(upper) if upper else None
    after = decode_cursor(f"measurements/{resolution.name}", cursor) if cursor else None
    if after is not None:
        if resolution.rollup_day:
            # After day d come the hours from the next midnight on.
            assert isinstance(after, date)
            after_start = datetime.combine(after, time()) + timedelta(days=1)
            lower = max(lower, after_start) if lower else after_start
        else:
            assert isinstance(after, datetime)
            conditions.append(f"{resolution.time_column} > ?")
            params.append(after)
    if lower is not None:
        conditions.append(f"{resolution.time_column} >= ?")
        params.append(lower)
    if upper is not None:
        conditions.append(f"{resolution.time_column} < ?")
        params.append(upper)
    statement = resolution.select(columns).format(where=" AND ".join(conditions))
    if limit is not None:
        statement += " LIMIT ?"
        params.append(limit + 1)
    return PageQuery(statement, params, [column.name for column in columns], limit)


def measurements_page(db: Database, resolution: Resolution, signal_id: int, span: TimeRange,
                      cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    columns = available_columns(db, resolution)
    query = measurements_query(resolution, columns, signal_id, span, cursor, limit)
    return _page(db, query, f"measurements/{resolution.name}")


QUALITY_COLUMNS = ("day_utc", "n", "first_at", "last_at", "max_gap_seconds", "duplicates_dropped",
                   "out_of_range", "flatline")


def quality_page(db: Database, signal_id: int, span: TimeRange, cursor: str | None, limit: int
                 ) -> tuple[list[dict[str, Any]], str | None]:
    """Days of analytics.signal_daily_quality whose midnight falls in the range."""
    conditions, params = ["signal_id = ?"], [signal_id]
    if span.start is not None:
        conditions.append("day_utc >= ?")
        params.append(ceil_to_day(span.start).date())
    if span.end is not None:
        conditions.append("day_utc < ?")
        params.append(ceil_to_day(span.end).date())
    if cursor:
        conditions.append("day_utc > ?")
        params.append(decode_cursor("quality", cursor))
    statement = (f"SELECT {', '.join(QUALITY_COLUMNS)} FROM analytics.signal_daily_quality "
                 f"WHERE {' AND '.join(conditions)} ORDER BY day_utc LIMIT ?")
    query = PageQuery(statement, [*params, limit + 1], list(QUALITY_COLUMNS), limit)
    return _page(db, query, "quality")


# --- the catalogue --------------------------------------------------------------------------

ASSET_COLUMNS = ("asset_id", "asset_name", "latitude", "longitude")
SIGNAL_COLUMNS = ("signal_id", "signal_gid", "asset_id", "signal_name", "unit", "nominal_voltage_kv",
                  "plausible_min", "plausible_max")


def _rows(db: Database, model: type[models.Row], names: Sequence[str], statement: str,
          params: Sequence[Any] = ()) -> list[Any]:
    return _validated(model, names, db.execute(statement, list(params)))


def assets(db: Database) -> list[models.Asset]:
    return _rows(db, models.Asset, ASSET_COLUMNS,
                 f"SELECT {', '.join(ASSET_COLUMNS)} FROM analytics.assets ORDER BY asset_id")


def asset(db: Database, asset_id: int) -> models.AssetWithSignals:
    found = _rows(db, models.Asset, ASSET_COLUMNS,
                  f"SELECT {', '.join(ASSET_COLUMNS)} FROM analytics.assets WHERE asset_id = ?", [asset_id])
    if not found:
        raise NotFound("asset", "asset_id", asset_id)
    return models.AssetWithSignals(**found[0].model_dump(), signals=signals(db, asset_id=asset_id))


def signals(db: Database, *, asset_id: int | None = None, unit: str | None = None) -> list[models.Signal]:
    conditions, params = ["1 = 1"], []
    if asset_id is not None:
        conditions.append("asset_id = ?")
        params.append(asset_id)
    if unit is not None:
        conditions.append("unit = ?")
        params.append(unit)
    return _rows(db, models.Signal, SIGNAL_COLUMNS,
                 f"SELECT {', '.join(SIGNAL_COLUMNS)} FROM analytics.signals "
                 f"WHERE {' AND '.join(conditions)} ORDER BY signal_id", params)


def signal(db: Database, signal_id: int) -> models.Signal:
    found = _rows(db, models.Signal, SIGNAL_COLUMNS,
                  f"SELECT {', '.join(SIGNAL_COLUMNS)} FROM analytics.signals WHERE signal_id = ?", [signal_id])
    if not found:
        raise NotFound("signal", "signal_id", signal_id)
    return found[0]


# --- operations -----------------------------------------------------------------------------

LOAD_COLUMNS = ("load_id", "source_file", "file_kind", "size_bytes", "sha256", "rows_read", "rows_loaded",
                "rows_rejected", "started_at", "finished_at", "status", "error")
LOAD_STATUSES = ("loaded", "replaced", "failed")


def loads_page(db: Database, status: str | None, cursor: str | None, limit: int
               ) -> tuple[list[dict[str, Any]], str | None]:
    """The load ledger, newest load first."""
    conditions, params = ["1 = 1"], []
    if status is not None:
        conditions.append("status = ?")
        params.append(status)
    if cursor:
        conditions.append("load_id < ?")
        params.append(decode_cursor("loads", cursor))
    statement = (f"SELECT {', '.join(LOAD_COLUMNS)} FROM raw.load_ledger WHERE {' AND '.join(conditions)} "
                 "ORDER BY load_id DESC LIMIT ?")
    return _page(db, PageQuery(statement, [*params, limit + 1], list(LOAD_COLUMNS), limit), "loads")


def rejected_page(db: Database, load_id: int, cursor: str | None, limit: int
                  ) -> tuple[str, list[dict[str, Any]], str | None]:
    """The rejected lines of one load, in file order, with the load's file name."""
    found = db.execute("SELECT source_file FROM raw.load_ledger WHERE load_id = ?", [load_id])
    if not found:
        raise NotFound("load", "load_id", load_id)
    conditions, params = ["load_id = ?"], [load_id]
    if cursor:
        conditions.append("line_number > ?")
        params.append(decode_cursor(f"rejected/{load_id}", cursor))
    statement = ("SELECT line_number, raw_line, reason FROM raw.rejected_rows "
                 f"WHERE {' AND '.join(conditions)} ORDER BY line_number LIMIT ?")
    query = PageQuery(statement, [*params, limit + 1], ["line_number", "raw_line", "reason"], limit)
    rows, following = _page(db, query, f"rejected/{load_id}")
    return found[0][0], rows, following
