"""The API's answers as pydantic models: what OpenAPI documents and what JSON carries.

Field names are the analytics contract's column names (dbt_project/models/marts/), so
an answer reads like the SQL row it came from. Times are UTC and carry their `Z`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # pydantic wants this one before Python 3.12


def as_utc(value: datetime) -> datetime:
    """A naive time is UTC (the marts store naive UTC); an aware one is converted to UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class Row(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- catalogue ------------------------------------------------------------------------------

class Asset(Row):
    """A substation: analytics.assets."""

    asset_id: int
    asset_name: str | None
    latitude: float
    longitude: float


class Signal(Row):
    """A measurement channel: analytics.signals."""

    signal_id: int
    signal_gid: str
    asset_id: int
    signal_name: str
    unit: str
    nominal_voltage_kv: int | None
    plausible_min: float
    plausible_max: float


class AssetWithSignals(Asset):
    signals: list[Signal]


# --- rows of the paged answers -----------------------------------------------------------------
# Pages hold up to 10,000 rows: their rows are TypedDicts, which pydantic checks and
# writes an order of magnitude faster than models, and documents the same way.

class Reading(TypedDict):
    """One real reading: analytics.measurements (resolution=raw)."""

    measured_at: datetime
    value: float
    load_id: int
    duplicates_dropped: int


class HourlyAggregate(TypedDict):
    """A signal's readings in one UTC hour: analytics.measurements_hourly (resolution=hourly)."""

    hour_utc: datetime
    n: int
    min: float
    max: float
    avg: float
    first_value: float
    last_value: float


class DailyAggregate(TypedDict):
    """A signal's readings on one UTC day (resolution=daily), rolled up from
    analytics.measurements_hourly: `avg` is the mean of the day's readings."""

    day_utc: date
    n: int
    min: float
    max: float
    avg: float
    first_value: float
    last_value: float


class QuarterHourAggregate(TypedDict):
    """A signal's 15-minute UTC interval: analytics.measurements_15min (resolution=15min),
    time-weighted; served once the warehouse has that mart (a column it lacks is null)."""

    interval_start_utc: datetime
    readings: int | None
    covered_seconds: float | None
    avg_time_weighted: float | None
    min: float | None
    max: float | None
    value_at_start: float | None
    energy_kwh: float | None
    reactive_energy_kvarh: float | None


class DailyQuality(TypedDict):
    """A signal's health on one UTC day: analytics.signal_daily_quality."""

    day_utc: date
    n: int
    first_at: datetime | None
    last_at: datetime | None
    max_gap_seconds: float
    duplicates_dropped: int
    out_of_range: int
    flatline: bool


class Load(TypedDict):
    """One file load: raw.load_ledger."""

    load_id: int
    source_file: str
    file_kind: str
    size_bytes: int
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    error: str | None


class RejectedRow(TypedDict):
    """A line of a file that could not be typed: raw.rejected_rows."""

    line_number: int
    raw_line: str | None
    reason: str


RowT = TypeVar("RowT", Reading, QuarterHourAggregate, HourlyAggregate, DailyAggregate)


class Page(BaseModel):
    """A page of rows in key order; `next` is the cursor of the following page (null on the last)."""

    next: str | None = Field(description="Opaque cursor: pass it as `cursor` for the next page; null when this is the last.")
    next_url: str | None = Field(description="This request's URL with the next page's cursor.")


class MeasurementsPage(Page, Generic[RowT]):
    signal_id: int
    resolution: Literal["raw", "15min", "hourly", "daily"]
    start: UtcDatetime | None
    end: UtcDatetime | None
    rows: list[RowT]


class QualityPage(Page):
    signal_id: int
    rows: list[DailyQuality]


class LoadsPage(Page):
    rows: list[Load]


class RejectedPage(Page):
    load_id: int
    source_file: str
    rows: list[RejectedRow]


# --- probes -----------------------------------------------------------------------------------

class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Condition(BaseModel):
    ok: bool
    detail: str


class FailedLoad(BaseModel):
    load_id: int
    source_file: str
    finished_at: UtcDatetime | None


class Readiness(BaseModel):
    """Whether the API serves fresh data, and if not, which condition failed and why."""

    ready: bool
    failed: list[str] = Field(description="Names of the conditions that failed: `database`, `refresh`.")
    conditions: dict[str, Condition]
    checked_at: UtcDatetime
    max_age_hours: float
    latest_reading_at: UtcDatetime | None = Field(description="The newest reading in analytics.measurements.")
    last_refresh_at: UtcDatetime | None = Field(
        description="When the newest load the marts reflect finished loading (raw.load_ledger joined "
                    "with refresh_state.applied_loads): the last successful refresh that brought data.")
    loads_waiting: int | None = Field(description="Loads in the ledger that the marts do not reflect yet.")
    failed_loads: list[FailedLoad] = Field(
        description="Files whose latest load failed (each is retried only once it changes).")
