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

from api import models, page_json
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
    kind: str        # timestamp (naive UTC), timestamptz, date, double, int64, bool, string


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


def _listed(columns: Sequence[Column]) -> str:
    return ", ".join(column.name if column.expression == column.name else f"{column.expression} AS {column.name}"
                     for column in columns)


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
    """One page's statement, its parameters, and its columns (the first is the key the rows
    are ordered by, descending when `descending`)."""

    statement: str
    params: list[Any]
    columns: Sequence[Column]
    limit: int | None
    descending: bool = False


@dataclass(frozen=True)
class PageRows:
    """One page: its rows as a JSON array (api/page_json.py), how many there are, and the
    cursor of the next page (None on the last)."""

    json: bytes
    count: int
    next: str | None


@cache
def _list_of(model: type[models.Row]) -> TypeAdapter:
    # One validation of the whole list: half the time of one call per row.
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _validated(model: type[models.Row], names: Sequence[str], rows: Sequence[tuple]) -> list[Any]:
    return _list_of(model).validate_python([dict(zip(names, row, strict=True)) for row in rows])


def _page(db: Database, query: PageQuery, cursor_kind: str) -> PageRows:
    """One page: `limit` rows and one more, fetched to know whether another page follows;
    its JSON written by PostgreSQL, or by orjson for DuckDB (api/page_json.py says why)."""
    assert query.limit is not None
    if db.dialect == "postgres":
        statement = page_json.page_statement(query.statement, [(column.name, column.kind) for column in query.columns],
                                             query.columns[0].name, query.descending)
        ((rows_json, fetched, last_key),) = db.execute(statement, [query.limit, query.limit, *query.params])
        following = encode_cursor(cursor_kind, last_key) if fetched > query.limit else None
        return PageRows((rows_json or "[]").encode(), min(fetched, query.limit), following)
    rows = db.execute(query.statement, query.params)
    more = len(rows) > query.limit
    shown = rows[:query.limit] if more else rows
    following = encode_cursor(cursor_kind, shown[-1][0]) if more else None
    return PageRows(page_json.rows_json([column.name for column in query.columns], shown),
                    len(shown), following)


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
    return PageQuery(statement, params, tuple(columns), limit)


def measurements_page(db: Database, resolution: Resolution, signal_id: int, span: TimeRange,
                      cursor: str | None, limit: int) -> PageRows:
    columns = available_columns(db, resolution)
    query = measurements_query(resolution, columns, signal_id, span, cursor, limit)
    return _page(db, query, f"measurements/{resolution.name}")


QUALITY_COLUMNS = (_plain("day_utc", "date"), _plain("n", "int64"), _plain("first_at", "timestamp"),
                   _plain("last_at", "timestamp"), _plain("max_gap_seconds", "double"),
                   _plain("duplicates_dropped", "int64"), _plain("out_of_range", "int64"),
                   _plain("flatline", "bool"))


def quality_page(db: Database, signal_id: int, span: TimeRange, cursor: str | None, limit: int
                 ) -> PageRows:
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
    statement = (f"SELECT {_listed(QUALITY_COLUMNS)} FROM analytics.signal_daily_quality "
                 f"WHERE {' AND '.join(conditions)} ORDER BY day_utc LIMIT ?")
    query = PageQuery(statement, [*params, limit + 1], QUALITY_COLUMNS, limit)
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

LOAD_COLUMNS = (_plain("load_id", "int64"), _plain("source_file", "string"), _plain("file_kind", "string"),
                _plain("size_bytes", "int64"), _plain("sha256", "string"), _plain("rows_read", "int64"),
                _plain("rows_loaded", "int64"), _plain("rows_rejected", "int64"),
                Column("started_at", "started_at AT TIME ZONE 'UTC'", "timestamp"),
                Column("finished_at", "finished_at AT TIME ZONE 'UTC'", "timestamp"),
                _plain("status", "string"), _plain("error", "string"))
REJECTED_COLUMNS = (_plain("line_number", "int64"), _plain("raw_line", "string"), _plain("reason", "string"))
LOAD_STATUSES = ("loaded", "replaced", "failed")


def loads_page(db: Database, status: str | None, cursor: str | None, limit: int) -> PageRows:
    """The load ledger, newest load first."""
    conditions, params = ["1 = 1"], []
    if status is not None:
        conditions.append("status = ?")
        params.append(status)
    if cursor:
        conditions.append("load_id < ?")
        params.append(decode_cursor("loads", cursor))
    statement = (f"SELECT {_listed(LOAD_COLUMNS)} FROM raw.load_ledger WHERE {' AND '.join(conditions)} "
                 "ORDER BY load_id DESC LIMIT ?")
    return _page(db, PageQuery(statement, [*params, limit + 1], LOAD_COLUMNS, limit, descending=True), "loads")


def rejected_page(db: Database, load_id: int, cursor: str | None, limit: int) -> tuple[str, PageRows]:
    """The rejected lines of one load, in file order, with the load's file name."""
    found = db.execute("SELECT source_file FROM raw.load_ledger WHERE load_id = ?", [load_id])
    if not found:
        raise NotFound("load", "load_id", load_id)
    conditions, params = ["load_id = ?"], [load_id]
    if cursor:
        conditions.append("line_number > ?")
        params.append(decode_cursor(f"rejected/{load_id}", cursor))
    statement = (f"SELECT {_listed(REJECTED_COLUMNS)} FROM raw.rejected_rows "
                 f"WHERE {' AND '.join(conditions)} ORDER BY line_number LIMIT ?")
    query = PageQuery(statement, [*params, limit + 1], REJECTED_COLUMNS, limit)
    return found[0][0], _page(db, query, f"rejected/{load_id}")
