"""The plan of a set of dumps: blocks, the files they go to, where defects and anomalies go.

A dump is a series of blocks, one signal and one stretch of time each, newest row first
inside a block, blocks shuffled. The files split the time range (file 1 oldest) and each
file re-exports the last two hours of the file before it, so those rows appear twice.
Anomalies that are valid rows but wrong physics are planned here too: a stuck sensor and
a silence are stretches of their own, an out-of-range reading is one row of a plain block.

A block is a few numbers until it is generated, so the whole plan fits in memory however
many rows the dumps hold.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

from sample_data.catalogue import Signal
from sample_data.defects import DefectRates, place_defects, row_defect_counts
from sample_data.simulation import Timeline

_HOUR_MS = 3_600_000
_MAX_BLOCK_ROWS = 100_000  # bounds the memory of one block
_OVERLAP_MS = 2 * _HOUR_MS
_STUCK_PERIOD_MS = 15 * 60_000  # a stuck RTU still sends its cyclic integrity report

BlockKind = Literal["normal", "overlap", "stuck"]


@dataclass
class Block:
    """One signal over one stretch of time: a few numbers until it is generated."""

    signal: int
    t0_ms: int
    t1_ms: int
    rows: int
    kind: BlockKind
    file: int  # index of the file whose period holds it; an overlap block is also in the next
    block_id: int = -1
    # Positions (newest first) of the rows that carry a defect, by kind.
    defects: dict[str, np.ndarray] = field(default_factory=dict)
    out_of_range: int | None = None
    truncate_last: bool = False


class Window(NamedTuple):
    """A stretch of time in which one signal is stuck (with `rows` reports) or silent."""

    kind: Literal["stuck", "silence"]
    signal: int
    t0_ms: int
    t1_ms: int
    rows: int


@dataclass
class Plan:
    blocks: list[Block]
    file_orders: list[list[int]]  # block ids in writing order, per file
    row_defects: dict[str, int]
    truncate: bool
    overlap_rows: int
    windows: list[Window]


def plan_dumps(
    rng: np.random.Generator,
    specs: list[Signal],
    timeline: Timeline,
    rows: int,
    files: int,
    rates: DefectRates,
    with_anomalies: bool,
) -> Plan:
    """Plan `rows` lines over `files` dumps, defects at `rates`, anomalies if asked for."""
    row_defects = row_defect_counts(rates, rows)
    if sum(row_defects.values()) + rates.truncated_last_line > rows // 4:
        raise ValueError(
            f"{rows} rows are too few for the defect rates {rates}: lower the rate or raise rows"
        )
    # A duplicate line is added next to its original; every other line is a signal's own row.
    signal_rows = _apportion(
        rows - row_defects["exact_duplicate"] - row_defects["conflicting_duplicate"],
        np.array([spec.density for spec in specs]),
    )
    span = timeline.end_ms - timeline.start_ms
    file_starts = [timeline.start_ms + k * span // files for k in range(files)] + [timeline.end_ms]
    overlap_ms = min(_OVERLAP_MS, span // files // 4) if files > 1 else 0
    windows = (
        _choose_windows(rng, len(specs), signal_rows, file_starts, overlap_ms)
        if with_anomalies
        else []
    )

    blocks: list[Block] = []
    for index, spec in enumerate(specs):
        own_windows = [w for w in windows if w.signal == index]
        blocks += _signal_blocks(
            rng,
            index,
            spec,
            int(signal_rows[index]),
            timeline,
            file_starts,
            overlap_ms,
            own_windows,
        )
    for block_id, block in enumerate(blocks):
        block.block_id = block_id

    file_orders = []
    for file in range(files):
        members = [
            b for b in blocks if b.file == file or (b.kind == "overlap" and b.file == file - 1)
        ]
        file_orders.append(_shuffle_blocks(rng, members))
    if rates.truncated_last_line:
        _put_normal_block_last(file_orders[-1], blocks)
        blocks[file_orders[-1][-1]].truncate_last = True
    # Re-exported and stuck blocks stay clean, so every defect is counted once and the stuck
    # anomaly keeps its exact rows; the truncated last row carries no other defect.
    eligible = [b for b in blocks if b.kind == "normal"]
    placed = place_defects(rng, [b.rows - b.truncate_last for b in eligible], row_defects)
    for owner, positions in placed.items():
        eligible[owner].defects = positions
    if with_anomalies:
        _place_out_of_range(rng, blocks, specs, max(1, round(len(specs) / 13)))
    overlap_rows = sum(b.rows for b in blocks if b.kind == "overlap")
    return Plan(blocks, file_orders, row_defects, rates.truncated_last_line, overlap_rows, windows)


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` in proportion to `weights` exactly (largest remainder)."""
    shares = total * weights / weights.sum()
    counts = np.floor(shares).astype(np.int64)
    counts[np.argsort(counts - shares, kind="stable")[: total - counts.sum()]] += 1
    return counts


def _choose_windows(
    rng: np.random.Generator,
    signals: int,
    signal_rows: np.ndarray,
    file_starts: list[int],
    overlap_ms: int,
) -> list[Window]:
    """Stuck and silent stretches on the denser signals, each inside one file's own period."""
    hours = (file_starts[-1] - file_starts[0]) / _HOUR_MS
    # Only a signal that normally reports several times an hour can be seen to fall silent.
    dense = [int(i) for i in np.argsort(-signal_rows, kind="stable") if signal_rows[i] / hours >= 4]
    candidates = [int(i) for i in rng.permutation(dense[: max(1, signals // 2)])]
    wanted = (
        ("stuck", max(1, round(signals / 20)), 8, 30),
        ("silence", max(1, round(signals / 13)), 2, 5),
    )
    windows = []
    for kind, count, shortest_h, longest_h in wanted:
        for _ in range(count):
            if not candidates:
                return windows
            signal = candidates.pop()
            file = int(rng.integers(len(file_starts) - 1))
            earliest, latest = (
                file_starts[file] + _HOUR_MS,
                file_starts[file + 1] - overlap_ms - _HOUR_MS,
            )
            length = (
                min(int(rng.uniform(shortest_h, longest_h) * _HOUR_MS), (latest - earliest) // 3)
                // 1000
                * 1000
            )
            rows = length // _STUCK_PERIOD_MS if kind == "stuck" else 0
            if length < _HOUR_MS or rows > signal_rows[signal] // 4:
                continue
            t0 = int(rng.integers(earliest, latest - length)) // 1000 * 1000
            windows.append(Window(kind, signal, t0, t0 + length, int(rows)))
    return windows


def _signal_blocks(
    rng: np.random.Generator,
    index: int,
    spec: Signal,
    total: int,
    timeline: Timeline,
    file_starts: list[int],
    overlap_ms: int,
    windows: list[Window],
) -> list[Block]:
    """Cut one signal's time range into blocks and give each its number of rows.

    `total` counts lines, and a row of an overlap block is written twice (once per file), so
    the overlap rows are drawn first and count double.
    """
    # Stretches never cross a file boundary, the start of an overlap, or an anomaly window.
    cuts = {timeline.start_ms, timeline.end_ms, *file_starts}
    overlaps = {f - overlap_ms for f in file_starts[1:-1]} if overlap_ms else set()
    by_start = {w.t0_ms: w for w in windows}
    edges = sorted(cuts | overlaps | {w.t0_ms for w in windows} | {w.t1_ms for w in windows})
    stretches: list[tuple[int, int, str, int]] = []  # start, end, kind, fixed rows
    for t0, t1 in itertools.pairwise(edges):
        if t0 in by_start:
            stretches.append((t0, t1, by_start[t0].kind, by_start[t0].rows))
        elif t0 in overlaps:
            stretches.append((t0, t1, "overlap", 0))
        else:
            stretches += [(a, b, "normal", 0) for a, b in _random_cuts(rng, t0, t1)]

    starts = np.array([s[0] for s in stretches])
    ends = np.array([s[1] for s in stretches])
    kinds = np.array([s[2] for s in stretches])
    counts = np.array([s[3] for s in stretches], dtype=np.int64)
    weights = timeline.weight(spec.kind, starts, ends)
    remaining = total - int(counts.sum())
    overlap, normal = kinds == "overlap", kinds == "normal"
    if overlap.any():
        share = weights[overlap].sum() / weights[overlap | normal].sum()
        overlap_total = min(int(rng.binomial(remaining, share)), remaining // 2)
        counts[overlap] = rng.multinomial(overlap_total, _normalised(weights[overlap]))
        remaining -= 2 * overlap_total
    counts[normal] = rng.multinomial(remaining, _normalised(weights[normal]))

    blocks = []
    for (t0, t1, kind, _), count in zip(stretches, counts, strict=True):
        if count == 0:
            continue
        file = int(np.searchsorted(file_starts, t0, side="right")) - 1
        pieces = math.ceil(count / _MAX_BLOCK_ROWS)
        bounds = np.array([t0 + (t1 - t0) * k // pieces for k in range(pieces + 1)])
        piece_counts = rng.multinomial(
            count, _normalised(timeline.weight(spec.kind, bounds[:-1], bounds[1:]))
        )
        for a, b, n in zip(bounds[:-1], bounds[1:], piece_counts, strict=True):
            if n:
                blocks.append(
                    Block(index, int(a), int(b), int(n), kind, file)  # type: ignore[arg-type]
                )
    return blocks


def _normalised(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()


def _random_cuts(rng: np.random.Generator, t0: int, t1: int) -> list[tuple[int, int]]:
    """Export stretches of six hours to three days, as the operator's export job cuts them."""
    edges = [t0]
    while (cut := edges[-1] + int(rng.uniform(6, 72) * _HOUR_MS) // 1000 * 1000) < t1 - _HOUR_MS:
        edges.append(cut)
    edges.append(t1)
    return list(itertools.pairwise(edges))


def _shuffle_blocks(rng: np.random.Generator, members: list[Block]) -> list[int]:
    """Block ids in random order, no two blocks of one signal side by side where avoidable.

    The export moves on to another signal after each block, which is also what lets a reader
    tell the blocks apart.
    """
    order = [members[i] for i in rng.permutation(len(members))]

    def clashes(block: Block, at: int, ignoring: int) -> bool:
        return any(
            0 <= n < len(order) and n != ignoring and order[n].signal == block.signal
            for n in (at - 1, at + 1)
        )

    for i in range(1, len(order)):
        if order[i].signal == order[i - 1].signal:
            swap = next(
                (
                    j
                    for j in range(i + 1, len(order))
                    if not clashes(order[j], i, j) and not clashes(order[i], j, i)
                ),
                None,
            )
            if swap is not None:
                order[i], order[swap] = order[swap], order[i]
    return [b.block_id for b in order]


def _put_normal_block_last(order: list[int], blocks: list[Block]) -> None:
    """The truncated last line must cut a plain row, not a re-exported or a stuck one."""

    def signal_at(position: int) -> int | None:
        return blocks[order[position]].signal if 0 <= position < len(order) else None

    movable = [p for p in range(len(order) - 1, -1, -1) if blocks[order[p]].kind == "normal"]
    if not movable:
        raise ValueError("no block can carry the truncated last line: raise rows")
    # Prefer a block whose move keeps signals apart at both its old and its new place.
    fits = [
        p
        for p in movable
        if p == len(order) - 1
        or (
            signal_at(len(order) - 1) != blocks[order[p]].signal
            and signal_at(p - 1) != signal_at(p + 1)
        )
    ]
    order.append(order.pop((fits or movable)[0]))


def _place_out_of_range(
    rng: np.random.Generator, blocks: list[Block], specs: list[Signal], count: int
) -> None:
    """One 1000-fold reading (a V/kV slip) on a clean row of each of `count` voltage signals."""
    placed = 0
    for signal in rng.permutation([i for i, spec in enumerate(specs) if spec.kind == "U"]):
        if placed == count:
            return
        own = [b for b in blocks if b.signal == signal and b.kind == "normal"]
        if not own:
            continue
        block = own[int(rng.integers(len(own)))]
        taken = np.concatenate([np.zeros(0, dtype=np.int64), *block.defects.values()])
        free = np.setdiff1d(np.arange(block.rows - block.truncate_last), taken)
        if len(free):
            block.out_of_range = int(rng.choice(free))
            placed += 1
