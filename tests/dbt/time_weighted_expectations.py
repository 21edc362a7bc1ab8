"""The time-weighted marts recomputed with Polars, independently of the SQL.

The method (dbt_project/README.md, "Time-weighted figures"): for one signal, readings
ordered by time, reading i holds its value over [t_i, e_i), e_i the earliest of the next
reading's time, t_i + the hold limit and the end of the data (the latest reading of any
signal). A bucket's covered seconds, integral and average follow from the parts of those
intervals inside it. The SQL splits intervals into a piece in the reading's own bucket
plus a series of later ones; here every interval is expanded with
`pl.datetime_ranges` over the buckets it touches and clipped, in plain dataframe terms.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

HOLD_SECONDS = 21_600  # dbt var time_weight_max_hold_seconds, default
# unit -> (energy column, factor from value x hours to kWh or kvarh)
ENERGY = {"kW": ("energy_kwh", 1.0), "MW": ("energy_kwh", 1000.0), "MVAr": ("reactive_energy_kvarh", 1000.0)}
BUCKETS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "1d": timedelta(days=1)}


def signal_catalogue(signal_json: Path) -> pl.DataFrame:
    """signal_id, signal_name, unit of the signal.json records that have all three."""
    records = json.loads(signal_json.read_text(encoding="utf-8"))
    return pl.DataFrame(
        [(int(r["SignalId"]), r["SignalName"], r["Unit"]) for r in records
         if r.get("SignalId", "").isdigit() and "Unit" in r and "SignalName" in r],
        schema={"signal_id": pl.Int64, "signal_name": pl.String, "unit": pl.String}, orient="row",
    )


def hold_intervals(measurements: pl.DataFrame, hold_seconds: int = HOLD_SECONDS) -> pl.DataFrame:
    """signal_id, value, held_from, held_until: one row per reading (signal_id, measured_at, value)."""
    data_end = measurements["measured_at"].max()
    return measurements.sort("signal_id", "measured_at").select(
        "signal_id",
        "value",
        held_from=pl.col("measured_at"),
        held_until=pl.min_horizontal(
            pl.col("measured_at").shift(-1).over("signal_id").fill_null(data_end),
            pl.col("measured_at") + timedelta(seconds=hold_seconds),
            pl.lit(data_end),
        ),
    )


def buckets(measurements: pl.DataFrame, every: str, hold_seconds: int = HOLD_SECONDS) -> pl.DataFrame:
    """Per signal and bucket (`every`: 15m, 1h, 1d) that a reading falls in or a value holds
    into: readings, covered_seconds, integral, avg_time_weighted, min, max, value_at_start."""
    length = BUCKETS[every]
    intervals = hold_intervals(measurements, hold_seconds)
    first_bucket = pl.col("held_from").dt.truncate(every)
    last_bucket = pl.max_horizontal(first_bucket, (pl.col("held_until") - timedelta(microseconds=1)).dt.truncate(every))
    pieces = (
        intervals.with_columns(bucket_at=pl.datetime_ranges(first_bucket, last_bucket, interval=every))
        .explode("bucket_at")
        .with_columns(
            seconds=(
                pl.min_horizontal("held_until", pl.col("bucket_at") + length)
                - pl.max_horizontal("held_from", "bucket_at")
            ).dt.total_microseconds()
            / 1e6
        )
    )
    per_bucket = pieces.group_by("signal_id", "bucket_at").agg(
        readings=(pl.col("held_from") >= pl.col("bucket_at")).sum().cast(pl.Int64),
        covered_seconds=pl.col("seconds").sum(),
        integral=(pl.col("value") * pl.col("seconds")).sum(),
        min=pl.col("value").min(),
        max=pl.col("value").max(),
        value_at_start=pl.col("value")
        .filter((pl.col("held_from") <= pl.col("bucket_at")) & (pl.col("held_until") > pl.col("bucket_at")))
        .first(),
    )
    return per_bucket.with_columns(
        avg_time_weighted=pl.when(pl.col("covered_seconds") > 0).then(pl.col("integral") / pl.col("covered_seconds"))
    ).sort("signal_id", "bucket_at")


def with_energy(frame: pl.DataFrame, units: dict[int, str]) -> pl.DataFrame:
    """energy_kwh and reactive_energy_kvarh from the integral (value x seconds), by unit."""
    unit = pl.col("signal_id").replace_strict(units, default=None, return_dtype=pl.String)
    columns = {}
    for column in ("energy_kwh", "reactive_energy_kvarh"):
        factor = pl.lit(None, dtype=pl.Float64)
        for name, (target, per_kilo) in ENERGY.items():
            if target == column:
                factor = pl.when(unit == name).then(pl.lit(per_kilo)).otherwise(factor)
        columns[column] = pl.when(pl.col("covered_seconds") > 0).then(pl.col("integral") * factor / 3600)
    return frame.with_columns(**columns)


def fifteen_minutes(measurements: pl.DataFrame, units: dict[int, str]) -> pl.DataFrame:
    """analytics.measurements_15min as the method defines it."""
    return with_energy(buckets(measurements, "15m"), units).select(
        "signal_id", "readings", "covered_seconds", "avg_time_weighted", "min", "max", "value_at_start",
        "energy_kwh", "reactive_energy_kvarh", "integral", interval_start_utc="bucket_at",
    )


def hourly(measurements: pl.DataFrame) -> pl.DataFrame:
    """The time-weighted columns of analytics.measurements_hourly: hours with readings only."""
    return (
        buckets(measurements, "1h")
        .filter(pl.col("readings") > 0)
        .select("signal_id", hour_utc="bucket_at", n="readings", covered_seconds="covered_seconds",
                avg_time_weighted="avg_time_weighted")
    )


def daily(measurements: pl.DataFrame, units: dict[int, str]) -> pl.DataFrame:
    """analytics.signal_daily: every day from a signal's first reading to the end of the data."""
    data_end: datetime = measurements["measured_at"].max()
    spans = measurements.group_by("signal_id").agg(first_at=pl.col("measured_at").min())
    days = spans.with_columns(
        day_utc=pl.date_ranges(pl.col("first_at").dt.date(), pl.lit(data_end.date()), interval="1d")
    ).explode("day_utc")
    day_start = pl.col("day_utc").cast(pl.Datetime("us"))
    window = (
        pl.min_horizontal(day_start + timedelta(days=1), pl.lit(data_end))
        - pl.max_horizontal(day_start, pl.col("first_at"))
    ).dt.total_microseconds() / 1e6
    per_day = with_energy(buckets(measurements, "1d"), units).with_columns(
        day_utc=pl.col("bucket_at").dt.date()
    )
    return (
        days.with_columns(window_seconds=window)
        .join(per_day, on=["signal_id", "day_utc"], how="left")
        .select(
            "signal_id",
            "day_utc",
            readings=pl.col("readings").fill_null(0),
            covered_seconds=pl.col("covered_seconds").fill_null(0.0),
            coverage_share=pl.when(pl.col("window_seconds") > 0).then(
                pl.col("covered_seconds").fill_null(0.0) / pl.col("window_seconds")
            ),
            avg_time_weighted="avg_time_weighted",
            min="min",
            max="max",
            energy_kwh="energy_kwh",
            reactive_energy_kvarh="reactive_energy_kvarh",
        )
        .sort("signal_id", "day_utc")
    )


def differences(actual: pl.DataFrame, wanted: pl.DataFrame, keys: list[str], tolerance: float = 1e-9) -> pl.DataFrame:
    """The rows one side lacks or holds other values for: numbers compared to `tolerance`
    relative to their size (absolute below 1), nulls only where the other has nulls."""
    joined = wanted.with_columns(_wanted=pl.lit(True)).join(
        actual.select(wanted.columns).with_columns(_actual=pl.lit(True)),
        on=keys, how="full", coalesce=True, suffix="_actual",
    )
    checks = [pl.col("_wanted").is_null() | pl.col("_actual").is_null()]
    for column in wanted.columns:
        if column in keys:
            continue
        mine, theirs = pl.col(column), pl.col(f"{column}_actual")
        if wanted.schema[column].is_numeric():
            differ = (mine - theirs).abs() > tolerance * pl.max_horizontal(pl.lit(1.0), mine.abs())
        else:
            differ = mine != theirs
        checks.append(differ.fill_null(False) | (mine.is_null() != theirs.is_null()))
    return joined.filter(pl.any_horizontal(checks))
