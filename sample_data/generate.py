"""`generate_dumps`: plans a set of dumps, then generates and writes it block by block.

Blocks are planned up front (a few numbers each), then produced and written one at a time
from a random generator seeded by (seed, block), so memory stays flat and the same seed
always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from sample_data import writer
from sample_data.catalogue import STATIONS, Signal, asset_records, make_signals, signal_records
from sample_data.defects import (
    ROW_DEFECTS,
    DefectCounts,
    DefectRates,
    add_defective_asset_records,
    add_defective_signal_records,
    inject_defects,
    orphan_ids,
)
from sample_data.plan import Block, Plan, plan_dumps
from sample_data.simulation import Timeline, block_rows

# Independent random streams, so that e.g. changing `rows` does not reshuffle the master data.
_MASTER_STREAM, _PLAN_STREAM, _BLOCK_STREAM = 1, 2, 3


@dataclass(frozen=True)
class Anomaly:
    """Valid rows with implausible physics, which the quality marts should flag.

    stuck:        the signal reports one value every ~15 minutes from `start` to `end`.
    silence:      the signal has no row in [start, end).
    out_of_range: one reading at `start` (= `end`) is 1000 times too large (a kV/V slip).
    """

    kind: Literal["stuck", "silence", "out_of_range"]
    signal_id: str
    start: datetime
    end: datetime
    rows: int
    value: float | None


@dataclass(frozen=True)
class GeneratedDumps:
    """What `generate_dumps` wrote: files, row counts and the defects and anomalies in them."""

    assets_path: Path
    signals_path: Path
    measurement_paths: tuple[Path, ...]
    #: Data lines after the header per file, defects, re-exported rows and a truncated
    #: last line included.
    rows_per_file: tuple[int, ...]
    #: Blocks (one signal, one stretch of time, newest first) per file.
    blocks_per_file: tuple[int, ...]
    #: Rows written into two consecutive files by the re-export overlap (counted in both).
    overlap_rows: int
    asset_records: int
    signal_records: int
    orphan_signal_ids: tuple[str, ...]
    defects: DefectCounts
    anomalies: tuple[Anomaly, ...]

    @property
    def rows(self) -> int:
        """Data lines over all measurement files."""
        return sum(self.rows_per_file)

    def __str__(self) -> str:
        files = ", ".join(
            f"{p.name} {n:,} rows"
            for p, n in zip(self.measurement_paths, self.rows_per_file, strict=True)
        )
        defects = ", ".join(f"{k} {v}" for k, v in vars(self.defects).items() if v) or "none"
        anomalies = (
            ", ".join(f"{a.kind} {a.signal_id} {a.start:%Y-%m-%d %H:%M}" for a in self.anomalies)
            or "none"
        )
        return (
            f"{self.asset_records} assets, {self.signal_records} signals; {files}; "
            f"{self.overlap_rows:,} rows re-exported in two files\n"
            f"defects: {defects}\nanomalies: {anomalies}"
        )


def generate_dumps(
    out_dir: Path,
    rows: int,
    seed: int = 42,
    *,
    assets: int = 10,
    signals: int = 40,
    files: int = 2,
    defect_rate: float = 0.001,
    defects: DefectRates | None = None,
    anomalies: bool = True,
    start: datetime = datetime(2021, 11, 7),
    days: int = 92,
    bom: bool = True,
    crlf: bool = False,
    progress: Callable[[int], None] | None = None,
) -> GeneratedDumps:
    """Write a sample set of operator dumps into `out_dir` and account for what is in it.

    `rows` is the exact number of data lines over all measurement files (0 writes
    header-only dumps). `defects`, when given, overrides `defect_rate` kind by kind.
    `anomalies=False` leaves out stuck sensors, silences and out-of-range readings. `start`
    is naive local time, written as is. `bom` and `crlf` shape the measurement files only.
    `progress` is called after each block with the number of lines that block added.
    Existing dumps in `out_dir` are replaced (see `existing_dumps`), and numbered
    measurement dumps beyond `files` removed.
    """
    if rows < 0:
        raise ValueError(f"rows must not be negative, got {rows}")
    if not 1 <= assets <= len(STATIONS):
        raise ValueError(f"assets must be between 1 and {len(STATIONS)}, got {assets}")
    if signals < assets:
        raise ValueError(
            f"signals ({signals}) must be at least assets ({assets}): every asset has one"
        )
    if files < 1 or days < 1:
        raise ValueError(f"files and days must be at least 1, got files={files}, days={days}")
    if start.tzinfo is not None:
        raise ValueError("start must be a naive datetime: the dumps carry no time-zone offset")
    rates = defects if defects is not None else DefectRates.uniform(defect_rate)
    if rows == 0:
        # Header-only dumps, a case real exports produce too: no row to be defective.
        rates = replace(rates, **dict.fromkeys(ROW_DEFECTS, 0.0), truncated_last_line=False)

    out_dir.mkdir(parents=True, exist_ok=True)
    # The order of the draws from `master` is part of what a seed means: keep it.
    master = np.random.default_rng([seed, _MASTER_STREAM])
    stations, signal_specs = make_signals(master, assets, signals)
    orphans = orphan_ids(master, signal_specs)
    assets_json = asset_records(master, stations)
    if rates.json_records:
        add_defective_asset_records(master, assets_json, stations)
    signals_json = signal_records(signal_specs)
    if rates.json_records:
        add_defective_signal_records(master, signals_json, signal_specs)
    assets_path = writer.write_assets_json(out_dir, assets_json)
    signals_path = writer.write_signals_json(out_dir, signals_json)
    # A previous run with more files must not leave a stale dump behind for the loaders.
    writer.remove_measurement_dumps(out_dir)

    timeline = Timeline(start, days)
    plan = plan_dumps(
        np.random.default_rng([seed, _PLAN_STREAM]),
        signal_specs,
        timeline,
        rows,
        files,
        rates,
        anomalies,
    )
    written = _write_measurements(
        out_dir, plan, signal_specs, orphans, timeline, seed, bom, crlf, progress
    )

    counts = DefectCounts(
        **plan.row_defects,
        truncated_last_line=int(plan.truncate),
        # One record of each kind in assets.json and one in signal.json.
        json_missing_key=2 * rates.json_records,
        json_not_a_number=2 * rates.json_records,
    )
    return GeneratedDumps(
        assets_path=assets_path,
        signals_path=signals_path,
        measurement_paths=written.paths,
        rows_per_file=written.rows_per_file,
        blocks_per_file=tuple(len(order) for order in plan.file_orders),
        overlap_rows=plan.overlap_rows,
        asset_records=len(assets_json),
        signal_records=len(signals_json),
        orphan_signal_ids=orphans,
        defects=counts,
        anomalies=_anomalies(plan, signal_specs, timeline, written.notable),
    )


class _Written(NamedTuple):
    paths: tuple[Path, ...]
    rows_per_file: tuple[int, ...]
    notable: dict[int, tuple[int, float]]  # block id -> time and value of its anomaly reading


def _write_measurements(
    out_dir: Path,
    plan: Plan,
    specs: list[Signal],
    orphans: tuple[str, ...],
    timeline: Timeline,
    seed: int,
    bom: bool,
    crlf: bool,
    progress: Callable[[int], None] | None,
) -> _Written:
    paths, rows_per_file, notable = [], [], {}
    for number, order in enumerate(plan.file_orders, start=1):
        dump = writer.DumpWriter(writer.measurements_path(out_dir, number), bom, crlf)
        try:
            for block_id in order:
                block = plan.blocks[block_id]
                # Seeded by block, so a re-exported block comes out byte for byte the same.
                rng = np.random.default_rng([seed, _BLOCK_STREAM, block_id])
                spec = specs[block.signal]
                times, units = block_rows(
                    rng, spec, timeline, block.t0_ms, block.t1_ms, block.rows, block.kind == "stuck"
                )
                reading = _anomalous_reading(block, times, units, 10**spec.decimals)
                if reading is not None:
                    notable[block_id] = reading
                lines = inject_defects(rng, spec, times, units, block.defects, orphans)
                dump.add(lines)
                if block.truncate_last:
                    # Cut inside the timestamp, as a killed export does: no row can be misread.
                    dump.flush(truncate_at=int(rng.integers(5, 23)))
                if progress is not None:
                    progress(len(lines.times))
        finally:
            dump.close()
        paths.append(dump.path)
        rows_per_file.append(dump.lines)
    return _Written(tuple(paths), tuple(rows_per_file), notable)


def _anomalous_reading(
    block: Block, times: np.ndarray, units: np.ndarray, scale: int
) -> tuple[int, float] | None:
    """Plant the block's out-of-range reading in `units`; return the time and value to report.

    A stuck block reports its frozen value at its oldest row.
    """
    reading = None
    if block.kind == "stuck":
        reading = (int(times[-1]), int(units[0]) / scale)
    if block.out_of_range is not None:
        units[block.out_of_range] *= 1000
        reading = (int(times[block.out_of_range]), int(units[block.out_of_range]) / scale)
    return reading


def _anomalies(
    plan: Plan, specs: list[Signal], timeline: Timeline, notable: dict[int, tuple[int, float]]
) -> tuple[Anomaly, ...]:
    found = []
    for window in plan.windows:
        value = None
        if window.kind == "stuck":
            stuck = next(b for b in plan.blocks if b.kind == "stuck" and b.signal == window.signal)
            value = notable[stuck.block_id][1]
        found.append(
            Anomaly(
                window.kind,
                specs[window.signal].signal_id,
                timeline.to_datetime(window.t0_ms),
                timeline.to_datetime(window.t1_ms),
                window.rows,
                value,
            )
        )
    for block in plan.blocks:
        if block.out_of_range is not None:
            at, value = notable[block.block_id]
            moment = timeline.to_datetime(at)
            found.append(
                Anomaly("out_of_range", specs[block.signal].signal_id, moment, moment, 1, value)
            )
    return tuple(found)
