"""Draw one signal's day: its readings as a step line (each value holds until the next
reading), with the hourly mean of the readings and the hourly time-weighted average over
it, as the marts hold them. Saved as a PNG (the one in the README: docs/time_weighted.png).

Reads the warehouse the settings name (WAREHOUSE_*; by default the DuckDB file that
`make run` builds from data/), so build it first:

    make run
    .venv/bin/python docs/figures/time_weighted.py                      # the README's picture
    .venv/bin/python docs/figures/time_weighted.py --signal LAUFLA220SOAZZAU_L12 --day 2022-02-06 --out /tmp/day.png

matplotlib is a development dependency (uv.lock); nothing is downloaded at run time.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from kernel.database import connect
from kernel.paths import PROJECT_ROOT
from kernel.settings import Settings, load_settings

SIGNAL = "GRYAAT220TR_2++P"
DAY = date(2021, 11, 19)
OUT = PROJECT_ROOT / "docs" / "time_weighted.png"
# dbt var time_weight_max_hold_seconds (dbt_project.yml): how long a value holds at most
HOLD_SECONDS = 21_600


@dataclass(frozen=True)
class SignalDay:
    name: str
    unit: str
    day: date
    # (from, until, value): each reading's hold interval, clipped to the day
    holds: list[tuple[datetime, datetime, float]]
    readings: list[tuple[datetime, float]]
    # (hour, mean of the readings, time-weighted average)
    hours: list[tuple[datetime, float, float | None]]


def read_signal_day(settings: Settings, signal_name: str, day: date, hold_seconds: int) -> SignalDay:
    """The readings of `day` (UTC) and the value carried into it, and the hourly figures of
    analytics.measurements_hourly, for the signal called `signal_name`."""
    start = datetime.combine(day, datetime.min.time())
    end = start + timedelta(days=1)
    with connect(settings.warehouse, "reader") as database:
        found = database.execute(
            "select signal_id, unit from analytics.signals where signal_name = ?", (signal_name,))
        if not found:
            raise SystemExit(f"no signal called {signal_name} in analytics.signals")
        (signal_id, unit), = found
        (data_end,), = database.execute("select max(measured_at) from analytics.measurements")
        # the readings that can hold into the day, and the first one after it
        rows = database.execute(
            "select measured_at, value from analytics.measurements "
            "where signal_id = ? and measured_at >= ? and measured_at < ? order by measured_at",
            (signal_id, start - timedelta(seconds=hold_seconds), end + timedelta(seconds=hold_seconds)))
        hours = database.execute(
            "select hour_utc, avg, avg_time_weighted from analytics.measurements_hourly "
            "where signal_id = ? and hour_utc >= ? and hour_utc < ? order by hour_utc",
            (signal_id, start, end))
    holds = []
    for (at, value), following in zip(rows, [*rows[1:], (None, None)], strict=True):
        until = min(following[0] or data_end, at + timedelta(seconds=hold_seconds), data_end)
        if until > start and at < end:
            holds.append((max(at, start), min(until, end), value))
    readings = [(at, value) for at, value in rows if start <= at < end]
    return SignalDay(signal_name, unit, day, holds, readings, [tuple(hour) for hour in hours])


def render(signal_day: SignalDay, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(12, 5.2), dpi=110)
    for index, (held_from, held_until, value) in enumerate(signal_day.holds):
        axes.hlines(value, held_from, held_until, color="#7f7f7f", linewidth=1.2,
                    label="readings, each held until the next" if index == 0 else None)
        following = signal_day.holds[index + 1] if index + 1 < len(signal_day.holds) else None
        if following and following[0] == held_until:
            axes.vlines(held_until, value, following[2], color="#7f7f7f", linewidth=1.2)
    axes.plot([at for at, _ in signal_day.readings], [value for _, value in signal_day.readings],
              "o", color="#4d4d4d", markersize=2.5, label=f"readings ({len(signal_day.readings)})")
    hour = timedelta(hours=1)
    for index, (start, mean, weighted) in enumerate(signal_day.hours):
        axes.hlines(mean, start, start + hour, color="#d95f02", linewidth=2.2, linestyles="dashed",
                    label="hourly mean of the readings (avg)" if index == 0 else None)
        if weighted is not None:
            axes.hlines(weighted, start, start + hour, color="#1b9e77", linewidth=2.6,
                        label="hourly time-weighted average (avg_time_weighted)" if index == 0 else None)
    day_start = datetime.combine(signal_day.day, datetime.min.time())
    axes.set_xlim(day_start, day_start + timedelta(days=1))
    axes.xaxis.set_major_locator(mdates.HourLocator(interval=2))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    axes.set_xlabel(f"{signal_day.day:%Y-%m-%d}, UTC")
    axes.set_ylabel(signal_day.unit)
    axes.set_title(f"{signal_day.name}: readings arrive when the value moves, so the mean of the "
                   "readings over-weights busy minutes", fontsize=11)
    axes.grid(True, color="#e6e6e6")
    axes.legend(loc="best", fontsize=9, framealpha=0.9)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signal", default=SIGNAL, help=f"signal name (default {SIGNAL})")
    parser.add_argument("--day", type=date.fromisoformat, default=DAY, help=f"UTC day (default {DAY})")
    parser.add_argument("--out", type=Path, default=OUT, help="PNG to write (default docs/time_weighted.png)")
    parser.add_argument("--hold-seconds", type=int, default=HOLD_SECONDS,
                        help="the dbt var time_weight_max_hold_seconds the marts were built with")
    args = parser.parse_args()
    signal_day = read_signal_day(load_settings(), args.signal, args.day, args.hold_seconds)
    render(signal_day, args.out)
    print(f"{args.out}: {signal_day.name} on {signal_day.day}, {len(signal_day.readings)} readings")


if __name__ == "__main__":
    main()
