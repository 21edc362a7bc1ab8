"""What the marts must hold, computed straight from the dump files with Polars.

Independent of the loaders and of dbt: the dumps are parsed here by their documented
dialect (docs/source-format.md), bad rows dropped, times converted to UTC, and the
duplicate rule applied in plain dataframe terms. The tests compare the warehouse with
these figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

TS_FORMAT = "%Y-%m-%d %H:%M:%S%.f"


def known_signal_ids(signal_json: Path) -> set[int]:
    """Ids of the signal.json records a loader accepts: all keys present, SignalId an integer."""
    keys = {"SignalGId", "SignalId", "SignalName", "AssetId", "Unit"}
    known = set()
    for record in json.loads(signal_json.read_text(encoding="utf-8")):
        if (
            keys <= record.keys()
            and record["SignalId"].strip().isdigit()
            and record["AssetId"].strip().isdigit()
        ):
            known.add(int(record["SignalId"]))
    return known


def read_dump(path: Path, load_order: int, source_timezone: str) -> pl.DataFrame:
    """The readable rows of one dump: signal_id, measured_at (naive UTC), value, load_order, line_number."""
    text = path.read_text(encoding="utf-8-sig")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    frame = pl.DataFrame({"line": lines[1:]}).with_row_index("line_number", offset=2)
    fields = pl.col("line").str.strip_suffix("\r").str.split("|")
    parsed = (
        frame.filter(fields.list.len() == 3)
        .with_columns(
            ts=fields.list.get(0).str.to_datetime(TS_FORMAT, strict=False, time_unit="us"),
            signal_id=fields.list.get(1).str.strip_chars().cast(pl.Int64, strict=False),
            value=fields.list.get(2)
            .str.strip_chars()
            .str.replace(",", ".", literal=True)
            .cast(pl.Float64, strict=False),
        )
        .drop_nulls(["ts", "signal_id", "value"])
        .filter(pl.col("value").is_finite())
    )
    return parsed.select(
        "signal_id",
        measured_at=pl.col("ts")
        .dt.replace_time_zone(source_timezone, ambiguous="latest")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None),
        value="value",
        load_order=pl.lit(load_order),
        line_number=pl.col("line_number").cast(pl.Int64),
    )


@dataclass(frozen=True)
class Expected:
    """The marts as the sample dumps determine them."""

    readable: pl.DataFrame  # every readable row of known and unknown signals
    measurements: pl.DataFrame  # one row per (signal_id, measured_at), the winning value
    orphans: pl.DataFrame  # readable rows of unknown signals

    @property
    def duplicates_dropped(self) -> int:
        return self.readable.height - self.orphans.height - self.measurements.height

    def hourly(self) -> pl.DataFrame:
        return (
            self.measurements.sort("measured_at")
            .group_by("signal_id", pl.col("measured_at").dt.truncate("1h").alias("hour_utc"))
            .agg(
                n=pl.len(),
                min=pl.col("value").min(),
                max=pl.col("value").max(),
                avg=pl.col("value").mean(),
                first_value=pl.col("value").first(),
                last_value=pl.col("value").last(),
            )
        )

    def daily_gaps(self) -> pl.DataFrame:
        """Per signal and UTC day with readings: n, first_at, last_at, max_gap_seconds (the models' definition)."""
        data_end = self.measurements["measured_at"].max()
        readings = self.measurements.sort("signal_id", "measured_at").with_columns(
            day_utc=pl.col("measured_at").dt.date(),
            signal_first_at=pl.col("measured_at").min().over("signal_id"),
        )
        inner = readings.with_columns(
            gap=(
                pl.col("measured_at") - pl.col("measured_at").shift(1).over("signal_id", "day_utc")
            ).dt.total_microseconds()
            / 1e6
        )
        daily = inner.group_by("signal_id", "day_utc").agg(
            n=pl.len(),
            first_at=pl.col("measured_at").min(),
            last_at=pl.col("measured_at").max(),
            inner_gap=pl.col("gap").max(),
            signal_first_at=pl.col("signal_first_at").first(),
        )
        day_start = pl.col("day_utc").cast(pl.Datetime("us"))
        window_start = pl.max_horizontal(day_start, pl.col("signal_first_at"))
        window_end = pl.min_horizontal(day_start + timedelta(days=1), pl.lit(data_end))
        return daily.select(
            "signal_id",
            "day_utc",
            "n",
            "first_at",
            "last_at",
            max_gap_seconds=pl.max_horizontal(
                (pl.col("first_at") - window_start).dt.total_microseconds() / 1e6,
                pl.col("inner_gap").fill_null(0.0),
                (window_end - pl.col("last_at")).dt.total_microseconds() / 1e6,
            ),
        )


def expected_from_dumps(data_dir: Path, dumps: list[str], source_timezone: str) -> Expected:
    """Apply the duplicate rule to `dumps` (in load order): later dump, then later line, wins."""
    known = known_signal_ids(data_dir / "signal.json")
    readable = pl.concat(
        [read_dump(data_dir / name, order, source_timezone) for order, name in enumerate(dumps)]
    )
    is_known = pl.col("signal_id").is_in(list(known))
    measurements = (
        readable.filter(is_known)
        .sort("load_order", "line_number")
        .unique(["signal_id", "measured_at"], keep="last", maintain_order=True)
        .select("signal_id", "measured_at", "value")
    )
    return Expected(
        readable=readable, measurements=measurements, orphans=readable.filter(~is_known)
    )


def local_to_utc(local: str, source_timezone: str) -> datetime:
    """A local wall time of the dumps as naive UTC."""
    return (
        pl.Series([local])
        .str.to_datetime(TS_FORMAT)
        .dt.replace_time_zone(source_timezone)
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )[0]
