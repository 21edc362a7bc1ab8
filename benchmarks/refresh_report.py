"""The refresh benchmark's results: what was measured, the ceiling's agreement, the
refresh's target figures, and how they are printed."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

# The ceiling's row in the results: not a target of the warehouse, DuckDB by hand.
CEILING = "duckdb-sql"
STEP_LABELS = {
    "full": "full build",
    "refresh": "refresh +1 dump",
    "noop": "no-op refresh",
    "ceiling": "hand-written SQL",
}


@dataclass(frozen=True)
class Measurement:
    target: str
    rows: int
    step: str
    dumps: int
    seconds: float
    # CPU time of the process and the children it waited for (dbt): less moved by other
    # jobs on a shared machine than wall time. PostgreSQL's server work is not in it.
    cpu_seconds: float
    peak_rss_mb: float
    # The largest single process of the tree (wait4), a cross-check on the sampled sum.
    largest_process_rss_mb: float
    # The machine's 1-minute load average as the step ended: how shared it was.
    load_average: float
    log: str


@dataclass(frozen=True)
class Agreement:
    """Rows and value sums of the warehouse's marts against the ceiling's tables."""

    target: str
    table: str
    warehouse_rows: int
    ceiling_rows: int
    warehouse_sum: float
    ceiling_sum: float

    @property
    def agrees(self) -> bool:
        return self.warehouse_rows == self.ceiling_rows and math.isclose(
            self.warehouse_sum, self.ceiling_sum, rel_tol=1e-9)


@dataclass(frozen=True)
class Acceptance:
    target: str
    figure: str
    value: float
    limit: float
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.value <= self.limit


@dataclass
class Results:
    measurements: list[Measurement] = field(default_factory=list)
    agreements: list[Agreement] = field(default_factory=list)
    dbt_parse_seconds: dict[str, float] = field(default_factory=dict)

    def seconds(self, target: str, rows: int, step: str) -> float | None:
        return next((m.seconds for m in self.measurements
                     if (m.target, m.rows, m.step) == (target, rows, step)), None)


def acceptance_figures(results: Results, rows: int, compare_rows: int | None,
                       targets: Iterable[str]) -> list[Acceptance]:
    """The refresh's target figures, from what this run measured; the scaling figure per
    target in the order of `targets`."""
    figures = []
    pg = {step: results.seconds("postgres", rows, step) for step in ("full", "refresh")}
    if pg["full"] and pg["refresh"]:
        figures.append(Acceptance("postgres", "1% dump / full build",
                                  pg["refresh"] / pg["full"], 0.15))
    duck = {step: results.seconds("duckdb", rows, step) for step in ("full", "refresh", "noop")}
    if duck["noop"]:
        figures.append(Acceptance("duckdb", "no-op run", duck["noop"], 10, " s"))
        figures.append(Acceptance("duckdb", "1% dump / no-op", duck["refresh"] / duck["noop"], 2))
    ceiling = results.seconds(CEILING, rows, "ceiling")
    if duck["full"] and ceiling:
        figures.append(Acceptance("duckdb", "full build / hand-written ceiling",
                                  duck["full"] / ceiling, 2))
    if compare_rows and compare_rows != rows:
        small, large = sorted((rows, compare_rows))
        for target in targets:
            at_small = results.seconds(target, small, "refresh")
            at_large = results.seconds(target, large, "refresh")
            if at_small and at_large:
                figures.append(Acceptance(target, f"same dump at {large:,} / at {small:,} rows",
                                          at_large / at_small, 1.3))
    return figures


def print_progress(m: Measurement) -> None:
    """One line as a step ends, before the table."""
    print(f"{m.target:<10} {m.rows:>12,} rows  {STEP_LABELS[m.step]:<16} {m.seconds:8.1f} s  "
          f"peak {m.peak_rss_mb:,.0f} MB  (load {m.load_average:.1f})", flush=True)


def print_results(results: Results, acceptance: list[Acceptance]) -> None:
    """The table of measurements, the ceiling's agreement and the acceptance figures."""
    print()
    print(f"{'target':<10} {'rows':>12} {'step':<16} {'dumps':>5} {'wall s':>8} {'cpu s':>8} "
          f"{'peak RSS MB':>12} {'load':>5}  ratio (wall)")
    for m in results.measurements:
        print(f"{m.target:<10} {m.rows:>12,} {STEP_LABELS[m.step]:<16} {m.dumps:>5} "
              f"{m.seconds:>8.1f} {m.cpu_seconds:>8.1f} {m.peak_rss_mb:>12,.0f} "
              f"{m.load_average:>5.1f}  {_ratio(results, m)}")
    if results.agreements:
        print()
        for a in results.agreements:
            verdict = "same as the ceiling" if a.agrees else (
                f"DIFFERS from the ceiling ({a.ceiling_rows:,} rows, sum {a.ceiling_sum:,.4f})")
            print(f"{a.target:<10} analytics.{a.table:<20} {a.warehouse_rows:>12,} rows, "
                  f"sum {a.warehouse_sum:,.4f}: {verdict}")
    if acceptance:
        print("\nacceptance figures (this run)")
        for a in acceptance:
            print(f"  {a.target:<10} {a.figure:<45} {a.value:>8.2f}{a.unit:<2}  "
                  f"target <= {a.limit:g}{a.unit:<2}  {'met' if a.met else 'NOT met'}")


def _ratio(results: Results, m: Measurement) -> str:
    full = results.seconds(m.target, m.rows, "full")
    if m.step == "full":
        ceiling = results.seconds(CEILING, m.rows, "ceiling")
        return f"full/ceiling {m.seconds / ceiling:.2f}" if ceiling else ""
    if m.step == "refresh" and full:
        return f"refresh/full {m.seconds / full:.2f}"
    if m.step == "noop" and full:
        return f"no-op/full {m.seconds / full:.2f}"
    return ""
