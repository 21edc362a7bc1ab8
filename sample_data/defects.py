"""Defects real dumps have, injected at a configurable rate and counted exactly.

Row-level defects (an empty or non-numeric value, a timestamp that does not parse, a
SignalId that `signal.json` lacks, an exact or a conflicting duplicate) are placed on rows
of plain blocks when the dumps are planned, and written into a block's lines when it is
generated. The truncated last line is the writer's to cut. Each JSON file gains one record
with a key missing and one with a number that is not a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from sample_data.catalogue import SIGNAL_IDS, STATIONS, Signal, Station, coordinate, random_gid
from sample_data.writer import BlockLines

ROW_DEFECTS = (
    "empty_value",
    "non_numeric_value",
    "unparseable_ts",
    "orphan_signal_id",
    "exact_duplicate",
    "conflicting_duplicate",
)
_NON_NUMERIC = ("n/a", "#WERT!", "#NV", "---", "ERR")


@dataclass(frozen=True)
class DefectRates:
    """How often each kind of defect is injected.

    Row-level rates are shares of all measurement rows; each kind with a positive rate
    occurs `max(1, round(rate * rows))` times, exactly.
    """

    empty_value: float = 0.0
    non_numeric_value: float = 0.0
    unparseable_ts: float = 0.0
    orphan_signal_id: float = 0.0
    exact_duplicate: float = 0.0
    conflicting_duplicate: float = 0.0
    truncated_last_line: bool = False
    #: One record with a key missing and one with a number that is not a number, in each
    #: JSON file. They are extra records that no measurement refers to.
    json_records: bool = False

    @classmethod
    def uniform(cls, rate: float) -> DefectRates:
        """Split `rate` equally over the six row-level kinds; 0 gives a clean set."""
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"defect rate must be in [0, 1), got {rate}")
        each = rate / len(ROW_DEFECTS)
        return cls(
            **dict.fromkeys(ROW_DEFECTS, each), truncated_last_line=rate > 0, json_records=rate > 0
        )


@dataclass(frozen=True)
class DefectCounts:
    """Exactly how many defects of each kind the dumps hold.

    `exact_duplicate` and `conflicting_duplicate` count the extra lines (a pair counts once).
    Rows re-exported by the file overlap are exact duplicates too, but are counted in
    `GeneratedDumps.overlap_rows`, not here.
    """

    empty_value: int = 0
    non_numeric_value: int = 0
    unparseable_ts: int = 0
    orphan_signal_id: int = 0
    exact_duplicate: int = 0
    conflicting_duplicate: int = 0
    truncated_last_line: int = 0
    json_missing_key: int = 0
    json_not_a_number: int = 0


def row_defect_counts(rates: DefectRates, rows: int) -> dict[str, int]:
    """How many rows of each row-level kind `rows` rows get at `rates`."""
    counts = {}
    for kind in ROW_DEFECTS:
        rate = getattr(rates, kind)
        counts[kind] = max(1, round(rate * rows)) if rate > 0 else 0
    return counts


def place_defects(
    rng: np.random.Generator, slots: list[int], row_defects: Mapping[str, int]
) -> dict[int, dict[str, np.ndarray]]:
    """Spread the defect rows over blocks with `slots` eligible rows each, one defect a row.

    Returns, for each block that got any, the sorted row positions (newest first) by kind.
    """
    capacity = np.array(slots, dtype=np.int64)
    labels = np.repeat(np.array(ROW_DEFECTS), [row_defects[kind] for kind in ROW_DEFECTS])
    if len(labels) > capacity.sum():
        raise ValueError(
            f"{len(labels)} defect rows do not fit in {capacity.sum()} eligible rows: raise rows"
        )
    picks = rng.choice(int(capacity.sum()), size=len(labels), replace=False)
    labels = rng.permutation(labels)
    offsets = np.concatenate([[0], np.cumsum(capacity)])
    owners = np.searchsorted(offsets, picks, side="right") - 1
    placed = {}
    for owner in np.unique(owners):
        mine = owners == owner
        positions = picks[mine] - offsets[owner]
        placed[int(owner)] = {
            kind: np.sort(positions[labels[mine] == kind]) for kind in ROW_DEFECTS
        }
    return placed


def orphan_ids(rng: np.random.Generator, specs: list[Signal]) -> tuple[str, ...]:
    """SignalIds of channels deleted from the master data but still in the measurement export."""
    taken = {int(spec.signal_id) for spec in specs}
    free = np.setdiff1d(
        np.arange(SIGNAL_IDS.start, SIGNAL_IDS.stop), np.fromiter(taken, dtype=np.int64)
    )
    return tuple(str(value) for value in np.sort(rng.choice(free, size=2, replace=False)))


def inject_defects(
    rng: np.random.Generator,
    spec: Signal,
    times: np.ndarray,
    units: np.ndarray,
    positions: Mapping[str, np.ndarray],
    orphans: tuple[str, ...],
) -> BlockLines:
    """One block's lines with the defects at `positions` (rows, newest first) written in."""
    rows = len(times)
    none = np.zeros(0, dtype=np.int64)
    defects = {kind: positions.get(kind, none) for kind in ROW_DEFECTS}
    # A duplicated row is written twice in a row; a conflicting copy differs by a few steps.
    copies = np.ones(rows, dtype=np.int64)
    copies[defects["exact_duplicate"]] = 2
    copies[defects["conflicting_duplicate"]] = 2
    landing = np.cumsum(copies) - copies  # the line each original row lands on
    source = np.repeat(np.arange(rows), copies)
    times, units = times[source], units[source]
    conflicts = landing[defects["conflicting_duplicate"]] + 1
    shifts = rng.integers(1, 6, len(conflicts)) * rng.choice(np.array([-1, 1]), len(conflicts))
    units[conflicts] += shifts * spec.step_units

    signal_ids = np.full(len(times), int(spec.signal_id), dtype=np.int64)
    orphan_lines = landing[defects["orphan_signal_id"]]
    signal_ids[orphan_lines] = rng.choice(np.array(orphans, dtype=np.int64), len(orphan_lines))
    value_text = dict.fromkeys((int(i) for i in landing[defects["empty_value"]]), "")
    for line in landing[defects["non_numeric_value"]]:
        value_text[int(line)] = _NON_NUMERIC[int(rng.integers(len(_NON_NUMERIC)))]
    ts_text = {
        int(line): _broken_timestamp(int(times[line]), int(rng.integers(4)))
        for line in landing[defects["unparseable_ts"]]
    }
    return BlockLines(times, signal_ids, units, 10**spec.decimals, ts_text, value_text)


def _broken_timestamp(t_ms: int, variant: int) -> str:
    """A timestamp the declared format rejects, in the shapes real exports produce."""
    moment = datetime(1970, 1, 1) + timedelta(milliseconds=t_ms)
    clock = f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"
    if variant == 0:
        return f"{moment:%d.%m.%Y %H:%M}"  # a spreadsheet re-saved in German locale
    if variant == 1:
        return f"{moment:%Y}-13-{moment:%d} {clock}"
    if variant == 2:
        return f"{moment:%Y}-02-30 {clock}"
    return f"{moment:%Y-%m-%d} 25{clock[2:]}"


def add_defective_asset_records(
    rng: np.random.Generator, records: list[dict[str, str]], stations: list[Station]
) -> None:
    """Two decommissioned substations nobody cleaned up; no signal refers to them."""
    spare = [STATIONS[(len(stations) + k) % len(STATIONS)] for k in range(2)]
    not_a_number = {
        "asset_id": str(len(stations) + 1),
        "latitude": "n/a",
        "longitude": coordinate(rng, spare[0].longitude),
        "descri": spare[0].name,
    }
    missing_key = {
        "asset_id": str(len(stations) + 2),
        "latitude": coordinate(rng, spare[1].latitude),
        "descri": spare[1].name,
    }
    _insert_at_random(rng, records, [not_a_number, missing_key])


def add_defective_signal_records(
    rng: np.random.Generator, records: list[dict[str, str]], specs: list[Signal]
) -> None:
    """Two half-entered channels without measurements: one with no number, one with no unit."""
    taken = {s.signal_id for s in specs}
    spare_id = next(
        str(n) for n in range(SIGNAL_IDS.stop - 1, SIGNAL_IDS.start, -1) if str(n) not in taken
    )
    # Named after reserve bays, so that no name is taken twice.
    prefix, asset_id = specs[0].name[:9], specs[0].asset_id
    not_a_number = {
        "signal_gid": random_gid(rng),
        "signal_id": "n/a",
        "signal_name": f"{prefix}RES1U_L12",
        "asset_id": asset_id,
        "unit": "kV",
    }
    missing_key = {
        "signal_gid": random_gid(rng),
        "signal_id": spare_id,
        "signal_name": f"{prefix}RES2U_L12",
        "asset_id": asset_id,
    }
    _insert_at_random(rng, records, [not_a_number, missing_key])


def _insert_at_random(
    rng: np.random.Generator, records: list[dict[str, str]], extra: list[dict[str, str]]
) -> None:
    for record in extra:
        # Never first (the file's first record stays clean); with one record, after it.
        position = int(rng.integers(1, len(records))) if len(records) > 1 else len(records)
        records.insert(position, record)
