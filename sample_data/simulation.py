"""What the sensors report: a grid-wide load shape, report times and quantised values.

Measurements are report-by-exception: a row when the value moves past the sensor's dead
band, so gaps range from seconds to hours, values are multiples of a per-signal sensor
step, and some signals are a thousand times denser than others. Power and current follow a
daily load shape (weekends and the Christmas fortnight lower); voltages sit a few percent
above nominal.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from sample_data.catalogue import Signal

_MS_PER_DAY = 86_400_000
_GRID_MS = 300_000  # the report intensity is resolved to five minutes


class Timeline:
    """The generated time range and the grid-wide shapes every signal shares."""

    def __init__(self, start: datetime, days: int) -> None:
        self.start_ms = (start - datetime(1970, 1, 1)) // timedelta(milliseconds=1)
        self.end_ms = self.start_ms + days * _MS_PER_DAY
        self.first_day = self.start_ms // _MS_PER_DAY
        # One factor per calendar day: weekends and the Christmas fortnight draw less power.
        day_factors = []
        for offset in range(days + 2):
            day = datetime(1970, 1, 1) + timedelta(days=int(self.first_day + offset))
            factor = {5: 0.82, 6: 0.74}.get(day.weekday(), 1.0)
            if (day.month, day.day) in {(12, 24), (12, 25), (12, 26), (12, 31), (1, 1), (1, 2)}:
                factor = 0.7
            elif (day.month == 12 and day.day >= 27) or (day.month == 1 and day.day <= 6):
                factor = min(factor, 0.86)
            day_factors.append(factor)
        self.day_factors = np.array(day_factors)
        self.grid_ms = np.arange(self.start_ms, self.end_ms + _GRID_MS, _GRID_MS, dtype=np.int64)
        load = self.load(self.grid_ms)
        ramp = np.abs(np.gradient(load)) * (3_600_000 / _GRID_MS)  # change per hour
        # Reports come when the value moves: flows move with load and its ramps, voltages
        # mostly with noise, a little more by day.
        intensity = {"flow": 0.25 + load + 6.0 * ramp, "U": 0.7 + 0.3 * load}
        self.cumulative = {
            kind: np.concatenate([[0.0], np.cumsum((values[:-1] + values[1:]) / 2)])
            for kind, values in intensity.items()
        }

    def load(self, t_ms: np.ndarray) -> np.ndarray:
        """Share of peak load at each time: morning and evening peaks, a night trough."""
        hours = (t_ms % _MS_PER_DAY) / 3_600_000
        shape = (
            0.36
            + 0.30 * np.exp(-(((hours - 10.5) / 3.0) ** 2))
            + 0.12 * np.exp(-(((hours - 14.0) / 4.0) ** 2))
            + 0.26 * np.exp(-(((hours - 18.0) / 1.8) ** 2))
        )
        return shape * self.day_factors[t_ms // _MS_PER_DAY - self.first_day]

    def weight(self, kind: str, t0_ms: int | np.ndarray, t1_ms: int | np.ndarray) -> np.ndarray:
        """Expected share of reports in [t0, t1), unnormalised."""
        cumulative = self.cumulative["U" if kind == "U" else "flow"]
        return np.interp(t1_ms, self.grid_ms, cumulative) - np.interp(
            t0_ms, self.grid_ms, cumulative
        )

    def to_datetime(self, t_ms: int) -> datetime:
        return datetime(1970, 1, 1) + timedelta(milliseconds=int(t_ms))


def block_rows(
    rng: np.random.Generator,
    spec: Signal,
    timeline: Timeline,
    t0_ms: int,
    t1_ms: int,
    rows: int,
    stuck: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Times (ms) and values (in 10**-decimals units) of `rows` reports in [t0, t1), newest first.

    A stuck sensor repeats one value, sent by its cyclic integrity report at even intervals.
    """
    if stuck:
        period = (t1_ms - t0_ms) // rows
        jitter = rng.integers(-2_000, 2_000, rows)
        times = t0_ms + period // 2 + np.arange(rows, dtype=np.int64) * period + jitter
        frozen = _quantised(_physical_values(rng, spec, times[:1], timeline), spec, rng)
        steps = np.repeat(frozen, rows)
    else:
        times = _report_times(rng, spec, timeline, t0_ms, t1_ms, rows)
        steps = _quantised(_physical_values(rng, spec, times, timeline), spec, rng)
    return times[::-1], steps[::-1] * spec.step_units


def _report_times(
    rng: np.random.Generator, spec: Signal, timeline: Timeline, t0: int, t1: int, n: int
) -> np.ndarray:
    """Distinct report times in [t0, t1), ascending, in epoch milliseconds.

    The rows of an inhomogeneous Poisson process with the signal kind's intensity, made
    bursty by a random factor per five-minute cell, and exactly `n` of them.
    """
    if n > t1 - t0:
        raise ValueError(f"{n} rows do not fit into {t1 - t0} ms: too many rows for the time range")
    inner = timeline.grid_ms[
        np.searchsorted(timeline.grid_ms, t0, "right") : np.searchsorted(timeline.grid_ms, t1)
    ]
    edges = np.concatenate([[t0], inner, [t1]]).astype(np.float64)
    cell = timeline.weight(spec.kind, edges[:-1], edges[1:]) * rng.lognormal(
        0.0, 0.8, len(edges) - 1
    )
    cumulative = np.concatenate([[0.0], np.cumsum(cell)])
    # Normalised partial sums of exponentials are sorted uniforms, drawn in one pass.
    spacing = np.cumsum(rng.standard_exponential(n + 1))
    times = np.floor(
        np.interp(spacing[:-1] / spacing[-1] * cumulative[-1], cumulative, edges)
    ).astype(np.int64)
    # Millisecond ties would be duplicates of their own; push them apart, staying inside the block.
    steps = np.arange(n, dtype=np.int64)
    times = np.maximum.accumulate(np.maximum(times, t0) - steps) + steps
    times = np.minimum.accumulate((np.minimum(times, t1 - 1) + (n - 1 - steps))[::-1])[::-1] - (
        n - 1 - steps
    )
    return times


def _physical_values(
    rng: np.random.Generator, spec: Signal, t_ms: np.ndarray, timeline: Timeline
) -> np.ndarray:
    """The quantity the sensor sees at each time, before quantisation."""
    seconds = (t_ms - timeline.start_ms) / 1000.0
    slow = sum(a * np.sin(2 * np.pi * seconds / period + phase) for a, period, phase in spec.slow)
    load = timeline.load(t_ms)
    effective = np.clip(load * (1 + 0.15 * slow), 0.05, 1.15)
    if spec.kind == "U":
        # Voltage sags a little under load and drifts with the day-to-day swing.
        values = spec.level_kv * (spec.rating + 0.006 * slow - 0.02 * (load - 0.6))
    elif spec.kind == "I":
        values = spec.rating * effective
    elif spec.kind == "P":
        values = spec.rating * (effective - spec.reverse_bias)
    else:
        values = spec.rating * (0.5 * effective - 0.25 + 0.2 * slow)
    values = values + rng.normal(0.0, spec.noise_steps * spec.step, len(values))
    return np.clip(values, *spec.bounds)


def _quantised(values: np.ndarray, spec: Signal, rng: np.random.Generator) -> np.ndarray:
    """Values in sensor steps; a report means the value moved, so no step repeats the last."""
    steps = np.rint(values / spec.step).astype(np.int64)
    repeated = np.flatnonzero(steps[1:] == steps[:-1]) + 1
    steps[repeated] += rng.choice(np.array([-1, 1]), size=len(repeated))
    low, high = spec.bounds
    return np.clip(steps, math.ceil(low / spec.step), math.floor(high / spec.step))
