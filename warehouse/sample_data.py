r"""Synthetic telemetry dumps in the operator's exact source dialect (see SOURCE_FORMAT.md).

`generate_dumps` writes `assets.json`, `signal.json` and `measurements_001.csv`, ... into a
folder. The content imitates the operator's real export closely enough that the loaders and
the quality marts meet every quirk they will meet in production, and nothing more:

* Assets are Swiss substations ("UW Beznau", "UW Grynau", ...) with WGS 84 coordinates.
* Measurements are report-by-exception: a row when the value moves past the sensor's dead
  band, so gaps range from seconds to hours, values are multiples of a per-signal sensor step,
  and some signals are a thousand times denser than others. Power and current follow a daily
  load shape (weekends and the Christmas fortnight lower); voltages sit a few percent above
  nominal.
* A dump is a series of blocks, one signal and one stretch of time each, newest row first
  inside a block, blocks shuffled. The files split the time range (file 1 oldest) and each
  file re-exports the last two hours of the file before it, so those rows appear twice.
* Defects are injected at a configurable rate and counted exactly (`DefectCounts`);
  anomalies that are valid rows but wrong physics (stuck sensor, silence, out-of-range
  reading) are listed in `GeneratedDumps.anomalies`.

Signal names follow one fixed pattern, so the transformation layer can parse them::

    positions 1-3   station code      BEZ        (upper-case letters)
    positions 4-6   section code      OBF        (upper-case letters)
    positions 7-9   voltage level kV  110        (three digits: 016, 050, 110, 220, 380)
    then            bay               BIRMEN     (a line: its far end, up to 6 letters;
                                                  a transformer: TR_1, TR_2, ...)
    last            quantity          U_L12      (one of the suffixes below)

    as a regular expression (the bay is the shortest match before a known quantity):
    ^([A-Z]{3})([A-Z]{3})([0-9]{3})([A-Z0-9_]+?)(U_L12|U_L23|U_L31|I_L1|I_L2|I_L3|\+\+P|\+\+Q)$

    quantity  meaning                      unit
    U_L12     line-to-line voltage L1-L2   kV   (likewise U_L23, U_L31)
    I_L1      phase current L1             A    (likewise I_L2, I_L3)
    ++P       active power                 kW at 110 kV and below, MW at 220 and 380 kV
    ++Q       reactive power               MVAr

No quantity is a suffix of another, so matching the suffix list from the end is unambiguous:
`BEZOBF110BIRMENU_L12` is bay BIRMEN, quantity U_L12; `GRYAAT110TR_1++P` is bay TR_1, ++P.

Generation streams: blocks are planned up front (a few numbers each), then produced and
written one at a time from a random generator seeded by (seed, block), so memory stays flat
and the same seed always gives the same bytes.
"""

from __future__ import annotations

import itertools
import json
import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Literal, NamedTuple

import numpy as np
import polars as pl

__all__ = [
    "PLAUSIBLE_RANGES",
    "Anomaly",
    "DefectCounts",
    "DefectRates",
    "GeneratedDumps",
    "generate_dumps",
]

BOM = "\ufeff"
HEADER = "Ts|SignalId|MeasurementValue"

#: Range per unit that holds every normal generated value; the out-of-range anomalies lie
#: outside it. Voltages also stay within 0.98-1.10 times the level in the signal name.
PLAUSIBLE_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "kV": (15.0, 420.0),
        "A": (0.0, 2500.0),
        "kW": (-130_000.0, 130_000.0),
        "MW": (-1_400.0, 1_400.0),
        "MVAr": (-150.0, 150.0),
    }
)
VOLTAGE_BAND = (0.98, 1.10)


# --------------------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------------------


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
        each = rate / len(_ROW_DEFECTS)
        return cls(
            **dict.fromkeys(_ROW_DEFECTS, each), truncated_last_line=rate > 0, json_records=rate > 0
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
    Existing `measurements_NNN.csv` files in `out_dir` are replaced.
    """
    if rows < 0:
        raise ValueError(f"rows must not be negative, got {rows}")
    if not 1 <= assets <= len(_STATIONS):
        raise ValueError(f"assets must be between 1 and {len(_STATIONS)}, got {assets}")
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
        rates = replace(rates, **dict.fromkeys(_ROW_DEFECTS, 0.0), truncated_last_line=False)

    out_dir.mkdir(parents=True, exist_ok=True)
    master = np.random.default_rng([seed, _MASTER_STREAM])
    stations, signal_specs = _make_signals(master, assets, signals)
    orphan_ids = _orphan_ids(master, signal_specs)
    assets_path = out_dir / "assets.json"
    signals_path = out_dir / "signal.json"
    asset_records = _write_assets_json(assets_path, stations, rates.json_records, master)
    signal_records = _write_signals_json(signals_path, signal_specs, rates.json_records, master)
    # A previous run with more files must not leave a stale dump behind for the loaders.
    for stale in out_dir.glob("measurements_[0-9][0-9][0-9].csv"):
        stale.unlink()

    timeline = _Timeline(start, days)
    plan = _plan(
        np.random.default_rng([seed, _PLAN_STREAM]),
        signal_specs,
        timeline,
        rows,
        files,
        rates,
        anomalies,
    )
    written = _write_measurements(
        out_dir, plan, signal_specs, orphan_ids, timeline, seed, bom, crlf, progress
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
        asset_records=asset_records,
        signal_records=signal_records,
        orphan_signal_ids=orphan_ids,
        defects=counts,
        anomalies=_anomalies(plan, signal_specs, timeline, written.notable),
    )


# --------------------------------------------------------------------------------------
# Master data: substations and their signals
# --------------------------------------------------------------------------------------

# Independent random streams, so that e.g. changing `rows` does not reshuffle the master data.
_MASTER_STREAM, _PLAN_STREAM, _BLOCK_STREAM = 1, 2, 3


class _Station(NamedTuple):
    name: str
    code: str
    section: str
    latitude: float
    longitude: float
    levels_kv: tuple[int, ...]


_STATIONS: tuple[_Station, ...] = (
    _Station("UW Beznau", "BEZ", "OBF", 47.5523, 8.2285, (380, 220, 110)),
    _Station("UW Grynau", "GRY", "AAT", 47.2192, 8.9729, (220, 110)),
    _Station("UW Mettlen", "MET", "SSA", 47.1186, 8.2996, (380, 220, 110)),
    _Station("UW Laufenburg", "LAU", "FLA", 47.5606, 8.0636, (380, 220)),
    _Station("UW Gösgen", "GOE", "NIE", 47.3656, 7.9672, (380, 220, 50)),
    _Station("UW Mühleberg", "MUH", "WIL", 46.9689, 7.2681, (220, 110, 16)),
    _Station("UW Chippis", "CHI", "RHO", 46.2806, 7.5410, (220, 110, 50)),
    _Station("UW Sils", "SIL", "DOM", 46.6968, 9.4466, (380, 220, 110)),
    _Station("UW Lavorgo", "LAV", "LEV", 46.4419, 8.8425, (380, 220)),
    _Station("UW Bassecourt", "BAS", "JUR", 47.3380, 7.2430, (380, 110, 16)),
    _Station("UW Romanel", "ROM", "VAU", 46.5634, 6.6022, (220, 110, 50)),
    _Station("UW Rüthi", "RUT", "RHE", 47.2945, 9.5383, (220, 110, 16)),
    _Station("UW Tavanasa", "TAV", "SUR", 46.7528, 9.0656, (380, 220)),
    _Station("UW Pradella", "PRA", "ENG", 46.8130, 10.3330, (380, 110)),
    _Station("UW Obfelden", "OBD", "AMT", 47.2640, 8.4230, (110, 16)),
    _Station("UW Breite", "BRE", "TOS", 47.4800, 8.7600, (380, 220, 110)),
    _Station("UW Verbois", "VER", "GEN", 46.2040, 6.0240, (220, 110, 16)),
    _Station("UW Innertkirchen", "INN", "HAS", 46.7050, 8.2270, (220, 50)),
    _Station("UW Bickigen", "BIC", "EMM", 47.0420, 7.6560, (380, 220, 110)),
    _Station("UW Riddes", "RID", "VAL", 46.1720, 7.2240, (380, 220, 50)),
    _Station("UW Amsteg", "AMS", "URI", 46.7720, 8.6710, (220, 110, 16)),
    _Station("UW Wattenwil", "WAT", "GUR", 46.7700, 7.5100, (220, 50)),
    _Station("UW Fällanden", "FAE", "GRE", 47.3700, 8.6400, (110, 16)),
    _Station("UW Winkeln", "WIN", "SGA", 47.4100, 9.3100, (220, 110, 16)),
    _Station("UW Galmiz", "GAL", "SEE", 46.9490, 7.1900, (110, 16)),
    _Station("UW Mörel", "MOE", "GOM", 46.3560, 8.0450, (220, 50)),
    _Station("UW Avegno", "AVE", "MAG", 46.2030, 8.7400, (220, 50, 16)),
    _Station("UW Stalden", "STA", "VIS", 46.2330, 7.8700, (220, 110)),
    _Station("UW Rathausen", "RAT", "EMM", 47.0770, 8.2800, (110, 16)),
    _Station("UW Seebach", "SEB", "ZUE", 47.4190, 8.5440, (220, 110, 16)),
)

# Far ends of line bays: real places near the Swiss grid, cut to six letters like SCADA tags.
_LINE_BAYS: tuple[str, ...] = tuple(
    "BIRMEN AATHAL SAMSTA WETTIN BADEN BRUGG AARAU OLTEN LUZERN SCHWYZ GLARUS SIHLBR MAGADI "
    "ALBULA THUSIS LIMMER ROBBIA SOAZZA LEIBST KAISER MUEHLE SPIEZ FRIBOU YVERDO CHAMOS "
    "AIROLO".split()
)

# Quantity suffix -> (kind, unit at 110 kV and below, unit at 220 kV and above).
_QUANTITIES: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "U_L12": ("U", "kV", "kV"),
        "U_L23": ("U", "kV", "kV"),
        "U_L31": ("U", "kV", "kV"),
        "I_L1": ("I", "A", "A"),
        "I_L2": ("I", "A", "A"),
        "I_L3": ("I", "A", "A"),
        "++P": ("P", "kW", "MW"),
        "++Q": ("Q", "MVAr", "MVAr"),
    }
)


class _LevelRatings(NamedTuple):
    """Rating ranges of one voltage level: what a line or transformer there carries at peak."""

    current_a: tuple[float, float]
    power: tuple[float, float]  # in the level's power unit (kW or MW)
    reactive_mvar: tuple[float, float]
    transformers: int


_LEVELS: Mapping[int, _LevelRatings] = MappingProxyType(
    {
        380: _LevelRatings((800, 2000), (400, 1200), (80, 250), 2),
        220: _LevelRatings((500, 1200), (150, 450), (40, 120), 2),
        110: _LevelRatings((200, 600), (25_000, 110_000), (10, 40), 3),
        50: _LevelRatings((150, 450), (8_000, 35_000), (3, 12), 2),
        16: _LevelRatings((100, 400), (2_000, 10_000), (0.5, 3), 2),
    }
)


@dataclass(frozen=True)
class _Signal:
    """One measurement channel and the parameters of its simulated physics."""

    signal_id: str
    gid: str
    name: str
    asset_id: str
    unit: str
    kind: str  # U, I, P or Q
    level_kv: int
    rating: float  # U: operating level as a multiple of nominal; else the value at full load
    reverse_bias: float  # P on a line: share of the rating that flows back at low load
    step_units: int  # sensor step in units of 10**-decimals
    decimals: int
    noise_steps: float
    # Day-to-day swings (weather, switching): (amplitude, period in s, phase) of three waves.
    slow: tuple[tuple[float, float, float], ...]
    density: float  # relative report rate

    @property
    def step(self) -> float:
        return self.step_units / 10**self.decimals

    @property
    def bounds(self) -> tuple[float, float]:
        low, high = PLAUSIBLE_RANGES[self.unit]
        if self.kind == "U":
            low, high = self.level_kv * VOLTAGE_BAND[0], self.level_kv * VOLTAGE_BAND[1]
        return low, high


def _make_signals(
    rng: np.random.Generator, assets: int, signals: int
) -> tuple[list[_Station], list[_Signal]]:
    stations = list(_STATIONS[:assets])
    # Every asset gets one signal, the rest go to assets unevenly, as in a real inventory.
    per_asset = np.ones(assets, dtype=np.int64) + rng.multinomial(
        signals - assets, rng.dirichlet(np.ones(assets))
    )
    signal_ids = rng.choice(np.arange(420_000, 440_000), size=signals, replace=False)
    # Report rates spread over three decades: the densest signal reports ~1000 times more often.
    densities = rng.permutation(10.0 ** np.linspace(0.0, 3.0, signals))
    specs: list[_Signal] = []
    for asset_index, (station, wanted) in enumerate(zip(stations, per_asset, strict=True)):
        for level, bay, quantity in _signal_tags(rng, station, int(wanted)):
            i = len(specs)
            signal_id, asset_id = str(signal_ids[i]), str(asset_index + 1)
            specs.append(
                _signal_spec(rng, station, asset_id, signal_id, level, bay, quantity, densities[i])
            )
    return stations, specs


def _signal_tags(
    rng: np.random.Generator, station: _Station, wanted: int
) -> list[tuple[int, str, str]]:
    """Distinct (level, bay, quantity) tags for one station; the first is a line voltage."""
    far_ends = [str(bay) for bay in rng.permutation(_LINE_BAYS)]
    bays: list[tuple[int, str]] = []
    for level in station.levels_kv:
        bays += [(level, far_ends.pop()) for _ in range(int(rng.integers(2, 5)))]
        bays += [(level, f"TR_{n}") for n in range(1, _LEVELS[level].transformers + 1)]
    tags = [(level, bay, quantity) for level, bay in bays for quantity in _QUANTITIES]
    if wanted > len(tags):
        raise ValueError(
            f"{station.name} can carry at most {len(tags)} signals, {wanted} were asked for"
        )
    # Like the operator's first signal of each asset: the line voltage of the lowest level.
    lowest = station.levels_kv[-1]
    first = next((level, bay, "U_L12") for level, bay in bays if level == lowest)
    rest = [tag for tag in tags if tag != first]
    return [first] + [rest[i] for i in rng.choice(len(rest), size=wanted - 1, replace=False)]


def _signal_spec(
    rng: np.random.Generator,
    station: _Station,
    asset_id: str,
    signal_id: str,
    level: int,
    bay: str,
    quantity: str,
    density: float,
) -> _Signal:
    kind, low_unit, high_unit = _QUANTITIES[quantity]
    unit = low_unit if level <= 110 else high_unit
    ratings = _LEVELS[level]
    is_line = not bay.startswith("TR_")
    reverse_bias = 0.0
    if kind == "U":
        rating = rng.uniform(1.02, 1.06)
        raw_step = level * rng.uniform(0.0006, 0.0013)
    elif kind == "I":
        rating = rng.uniform(*ratings.current_a)
        raw_step = rating * 1.25 / 4096  # a 12-bit transducer with headroom
    elif kind == "P":
        rating = rng.uniform(*ratings.power) * (1 if not is_line or rng.random() < 0.7 else -1)
        reverse_bias = rng.uniform(0.0, 0.4) if is_line else 0.0
        raw_step = abs(rating) * 1.25 / 4096
    else:
        rating = rng.uniform(*ratings.reactive_mvar)
        raw_step = rating * 2.5 / 4096
    decimals = int(min(4, max(0, 3 - math.floor(math.log10(raw_step)))))
    step_units = max(1, round(raw_step * 10**decimals))
    slow = tuple(
        (
            float(rng.uniform(0.2, 0.5)),
            float(rng.uniform(1.5, 12.0) * 86_400),
            float(rng.uniform(0, 2 * math.pi)),
        )
        for _ in range(3)
    )
    total = sum(amplitude for amplitude, _, _ in slow)
    return _Signal(
        signal_id=signal_id,
        gid=str(uuid.UUID(bytes=rng.bytes(16), version=4)),
        name=f"{station.code}{station.section}{level:03d}{bay}{quantity}",
        asset_id=asset_id,
        unit=unit,
        kind=kind,
        level_kv=level,
        rating=float(rating),
        reverse_bias=float(reverse_bias),
        step_units=int(step_units),
        decimals=decimals,
        noise_steps=float(rng.uniform(0.8, 2.5)),
        slow=tuple((amplitude / total, period, phase) for amplitude, period, phase in slow),
        density=float(density),
    )


def _orphan_ids(rng: np.random.Generator, specs: list[_Signal]) -> tuple[str, ...]:
    """SignalIds of channels deleted from the master data but still in the measurement export."""
    taken = {int(spec.signal_id) for spec in specs}
    free = np.setdiff1d(np.arange(420_000, 440_000), np.fromiter(taken, dtype=np.int64))
    return tuple(str(value) for value in np.sort(rng.choice(free, size=2, replace=False)))


def _coordinate(rng: np.random.Generator, value: float) -> str:
    # Surveyed positions carry ten decimals in the real export, trailing zeros dropped.
    return f"{value + rng.uniform(-0.002, 0.002):.10f}".rstrip("0")


def _write_json_lines(path: Path, records: list[dict[str, str]]) -> None:
    # One object per line, so a line number in an error message points at one record.
    body = ",\n".join("  " + json.dumps(record, ensure_ascii=False) for record in records)
    path.write_text(f"[\n{body}\n]\n", encoding="utf-8", newline="\n")


def _insert_at_random(
    rng: np.random.Generator, records: list[dict[str, str]], extra: list[dict[str, str]]
) -> None:
    for record in extra:
        records.insert(int(rng.integers(1, len(records))), record)


def _write_assets_json(
    path: Path, stations: list[_Station], defective: bool, rng: np.random.Generator
) -> int:
    """Write assets.json; return its number of records."""
    records = [
        {
            "AssetID": str(i + 1),
            "Latitude": _coordinate(rng, station.latitude),
            "Longitude": _coordinate(rng, station.longitude),
            "descri": station.name,
        }
        for i, station in enumerate(stations)
    ]
    if defective:
        # Two decommissioned substations nobody cleaned up; no signal refers to them.
        spare = [_STATIONS[(len(stations) + k) % len(_STATIONS)] for k in range(2)]
        not_a_number = {
            "AssetID": str(len(stations) + 1),
            "Latitude": "n/a",
            "Longitude": _coordinate(rng, spare[0].longitude),
            "descri": spare[0].name,
        }
        missing_key = {
            "AssetID": str(len(stations) + 2),
            "Latitude": _coordinate(rng, spare[1].latitude),
            "descri": spare[1].name,
        }
        _insert_at_random(rng, records, [not_a_number, missing_key])
    _write_json_lines(path, records)
    return len(records)


def _write_signals_json(
    path: Path, specs: list[_Signal], defective: bool, rng: np.random.Generator
) -> int:
    """Write signal.json; return its number of records."""
    records = [
        {
            "SignalGId": s.gid,
            "SignalId": s.signal_id,
            "SignalName": s.name,
            "AssetId": s.asset_id,
            "Unit": s.unit,
        }
        for s in specs
    ]
    if defective:
        # Two half-entered channels without measurements: one with no number, one with no unit.
        taken = {s.signal_id for s in specs}
        spare_id = next(str(n) for n in range(439_999, 420_000, -1) if str(n) not in taken)
        # Named after reserve bays, so that no name is taken twice.
        prefix, asset_id = specs[0].name[:9], specs[0].asset_id
        not_a_number = {
            "SignalGId": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
            "SignalId": "n/a",
            "SignalName": f"{prefix}RES1U_L12",
            "AssetId": asset_id,
            "Unit": "kV",
        }
        missing_key = {
            "SignalGId": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
            "SignalId": spare_id,
            "SignalName": f"{prefix}RES2U_L12",
            "AssetId": asset_id,
        }
        _insert_at_random(rng, records, [not_a_number, missing_key])
    _write_json_lines(path, records)
    return len(records)


# --------------------------------------------------------------------------------------
# Time: load shape, report intensity
# --------------------------------------------------------------------------------------

_MS_PER_DAY = 86_400_000
_GRID_MS = 300_000  # the report intensity is resolved to five minutes


class _Timeline:
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


# --------------------------------------------------------------------------------------
# The plan: blocks, their rows, where the defects and anomalies go
# --------------------------------------------------------------------------------------

_ROW_DEFECTS = (
    "empty_value",
    "non_numeric_value",
    "unparseable_ts",
    "orphan_signal_id",
    "exact_duplicate",
    "conflicting_duplicate",
)
_HOUR_MS = 3_600_000
_MAX_BLOCK_ROWS = 100_000  # bounds the memory of one block
_OVERLAP_MS = 2 * _HOUR_MS
_STUCK_PERIOD_MS = 15 * 60_000  # a stuck RTU still sends its cyclic integrity report

_BlockKind = Literal["normal", "overlap", "stuck"]


@dataclass
class _Block:
    """One signal over one stretch of time: a few numbers until it is generated."""

    signal: int
    t0_ms: int
    t1_ms: int
    rows: int
    kind: _BlockKind
    file: int  # index of the file whose period holds it; an overlap block is also in the next
    block_id: int = -1
    # Positions (newest first) of the rows that carry a defect, by kind.
    defects: dict[str, np.ndarray] = field(default_factory=dict)
    out_of_range: int | None = None
    truncate_last: bool = False


class _Window(NamedTuple):
    kind: Literal["stuck", "silence"]
    signal: int
    t0_ms: int
    t1_ms: int
    rows: int


@dataclass
class _Plan:
    blocks: list[_Block]
    file_orders: list[list[int]]  # block ids in writing order, per file
    row_defects: dict[str, int]
    truncate: bool
    overlap_rows: int
    windows: list[_Window]


def _defect_total(rate: float, rows: int) -> int:
    return max(1, round(rate * rows)) if rate > 0 else 0


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` in proportion to `weights` exactly (largest remainder)."""
    shares = total * weights / weights.sum()
    counts = np.floor(shares).astype(np.int64)
    counts[np.argsort(counts - shares, kind="stable")[: total - counts.sum()]] += 1
    return counts


def _plan(
    rng: np.random.Generator,
    specs: list[_Signal],
    timeline: _Timeline,
    rows: int,
    files: int,
    rates: DefectRates,
    with_anomalies: bool,
) -> _Plan:
    row_defects = {kind: _defect_total(getattr(rates, kind), rows) for kind in _ROW_DEFECTS}
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

    blocks: list[_Block] = []
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
    _place_defects(rng, blocks, row_defects)
    if with_anomalies:
        _place_out_of_range(rng, blocks, specs, max(1, round(len(specs) / 13)))
    overlap_rows = sum(b.rows for b in blocks if b.kind == "overlap")
    return _Plan(blocks, file_orders, row_defects, rates.truncated_last_line, overlap_rows, windows)


def _choose_windows(
    rng: np.random.Generator,
    signals: int,
    signal_rows: np.ndarray,
    file_starts: list[int],
    overlap_ms: int,
) -> list[_Window]:
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
            windows.append(_Window(kind, signal, t0, t0 + length, int(rows)))
    return windows


def _signal_blocks(
    rng: np.random.Generator,
    index: int,
    spec: _Signal,
    total: int,
    timeline: _Timeline,
    file_starts: list[int],
    overlap_ms: int,
    windows: list[_Window],
) -> list[_Block]:
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
                blocks.append(_Block(index, int(a), int(b), int(n), kind, file))  # type: ignore[arg-type]
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


def _shuffle_blocks(rng: np.random.Generator, members: list[_Block]) -> list[int]:
    """Block ids in random order, no two blocks of one signal side by side where avoidable.

    The export moves on to another signal after each block, which is also what lets a reader
    tell the blocks apart.
    """
    order = [members[i] for i in rng.permutation(len(members))]

    def clashes(block: _Block, at: int, ignoring: int) -> bool:
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


def _put_normal_block_last(order: list[int], blocks: list[_Block]) -> None:
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


def _place_defects(
    rng: np.random.Generator, blocks: list[_Block], row_defects: dict[str, int]
) -> None:
    """Spread the defect rows over the plain blocks, at most one defect per row.

    Re-exported and stuck blocks stay clean, so every defect is counted once and the stuck
    anomaly keeps its exact rows; the truncated last row carries no other defect.
    """
    eligible = [b for b in blocks if b.kind == "normal"]
    slots = np.array([b.rows - b.truncate_last for b in eligible], dtype=np.int64)
    labels = np.repeat(np.array(_ROW_DEFECTS), [row_defects[kind] for kind in _ROW_DEFECTS])
    if len(labels) > slots.sum():
        raise ValueError(
            f"{len(labels)} defect rows do not fit in {slots.sum()} eligible rows: raise rows"
        )
    picks = rng.choice(int(slots.sum()), size=len(labels), replace=False)
    labels = rng.permutation(labels)
    offsets = np.concatenate([[0], np.cumsum(slots)])
    owners = np.searchsorted(offsets, picks, side="right") - 1
    for owner in np.unique(owners):
        mine = owners == owner
        positions = picks[mine] - offsets[owner]
        eligible[owner].defects = {
            kind: np.sort(positions[labels[mine] == kind]) for kind in _ROW_DEFECTS
        }


def _place_out_of_range(
    rng: np.random.Generator, blocks: list[_Block], specs: list[_Signal], count: int
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


# --------------------------------------------------------------------------------------
# Block content: times, values, text
# --------------------------------------------------------------------------------------

_NON_NUMERIC = ("n/a", "#WERT!", "#NV", "---", "ERR")
_BATCH_ROWS = 500_000


def _report_times(
    rng: np.random.Generator, spec: _Signal, block: _Block, timeline: _Timeline
) -> np.ndarray:
    """Distinct report times in [t0, t1), ascending, in epoch milliseconds.

    The rows of an inhomogeneous Poisson process with the signal kind's intensity, made
    bursty by a random factor per five-minute cell, and exactly `block.rows` of them.
    """
    n, t0, t1 = block.rows, block.t0_ms, block.t1_ms
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
    rng: np.random.Generator, spec: _Signal, t_ms: np.ndarray, timeline: _Timeline
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


def _quantised(values: np.ndarray, spec: _Signal, rng: np.random.Generator) -> np.ndarray:
    """Values in sensor steps; a report means the value moved, so no step repeats the last."""
    steps = np.rint(values / spec.step).astype(np.int64)
    repeated = np.flatnonzero(steps[1:] == steps[:-1]) + 1
    steps[repeated] += rng.choice(np.array([-1, 1]), size=len(repeated))
    low, high = spec.bounds
    return np.clip(steps, math.ceil(low / spec.step), math.floor(high / spec.step))


def _block_rows(
    rng: np.random.Generator, spec: _Signal, block: _Block, timeline: _Timeline
) -> tuple[np.ndarray, np.ndarray]:
    """Times (ms) and values (in 10**-decimals units) of one block, newest first."""
    if block.kind == "stuck":
        period = (block.t1_ms - block.t0_ms) // block.rows
        jitter = rng.integers(-2_000, 2_000, block.rows)
        times = block.t0_ms + period // 2 + np.arange(block.rows, dtype=np.int64) * period + jitter
        frozen = _quantised(_physical_values(rng, spec, times[:1], timeline), spec, rng)
        steps = np.repeat(frozen, block.rows)
    else:
        times = _report_times(rng, spec, block, timeline)
        steps = _quantised(_physical_values(rng, spec, times, timeline), spec, rng)
    return times[::-1], steps[::-1] * spec.step_units


def _text_columns(
    times: np.ndarray, signal_ids: np.ndarray, units: np.ndarray, scales: np.ndarray
) -> pl.DataFrame:
    """The three columns as the export writes them: `2021-11-07 23:59:03.762|427038|116,129`.

    Values are fixed-point integers (units of 1/scale), so the decimal comma text is exact:
    `116,129`, `115,36`, `116`, `-0,5`, never `116,12900000000001`.
    """
    magnitude = pl.col("units").abs()
    fraction = (
        ((magnitude % pl.col("scale")) + pl.col("scale"))
        .cast(pl.String)
        .str.slice(1)
        .str.strip_chars_end("0")
    )
    value = (
        pl.when(pl.col("units") < 0).then(pl.lit("-")).otherwise(pl.lit(""))
        + (magnitude // pl.col("scale")).cast(pl.String)
        + pl.when(fraction == "").then(pl.lit("")).otherwise("," + fraction)
    )
    return pl.DataFrame({"ms": times, "id": signal_ids, "units": units, "scale": scales}).select(
        Ts=pl.from_epoch("ms", time_unit="ms").dt.strftime("%Y-%m-%d %H:%M:%S%.3f"),
        SignalId=pl.col("id").cast(pl.String),
        MeasurementValue=value,
    )


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


class _BlockLines(NamedTuple):
    """One block's lines as numbers, plus the few cells whose text a defect replaces."""

    times: np.ndarray  # epoch ms, newest first
    signal_ids: np.ndarray
    units: np.ndarray  # value in units of 1/scale
    scale: int
    ts_text: dict[int, str]  # line -> replacement text
    value_text: dict[int, str]
    notable: tuple[int, float] | None  # time and value of a stuck or out-of-range reading


def _block_lines(
    rng: np.random.Generator,
    spec: _Signal,
    block: _Block,
    timeline: _Timeline,
    orphan_ids: tuple[str, ...],
) -> _BlockLines:
    times, units = _block_rows(rng, spec, block, timeline)
    scale = 10**spec.decimals
    notable = None
    if block.kind == "stuck":
        notable = (int(times[-1]), int(units[0]) / scale)
    if block.out_of_range is not None:
        units[block.out_of_range] *= 1000
        notable = (int(times[block.out_of_range]), int(units[block.out_of_range]) / scale)

    none = np.zeros(0, dtype=np.int64)
    defects = {kind: block.defects.get(kind, none) for kind in _ROW_DEFECTS}
    # A duplicated row is written twice in a row; a conflicting copy differs by a few steps.
    copies = np.ones(block.rows, dtype=np.int64)
    copies[defects["exact_duplicate"]] = 2
    copies[defects["conflicting_duplicate"]] = 2
    landing = np.cumsum(copies) - copies  # the line each original row lands on
    source = np.repeat(np.arange(block.rows), copies)
    times, units = times[source], units[source]
    conflicts = landing[defects["conflicting_duplicate"]] + 1
    shifts = rng.integers(1, 6, len(conflicts)) * rng.choice(np.array([-1, 1]), len(conflicts))
    units[conflicts] += shifts * spec.step_units

    signal_ids = np.full(len(times), int(spec.signal_id), dtype=np.int64)
    orphans = landing[defects["orphan_signal_id"]]
    signal_ids[orphans] = rng.choice(np.array(orphan_ids, dtype=np.int64), len(orphans))
    value_text = dict.fromkeys((int(i) for i in landing[defects["empty_value"]]), "")
    for line in landing[defects["non_numeric_value"]]:
        value_text[int(line)] = _NON_NUMERIC[int(rng.integers(len(_NON_NUMERIC)))]
    ts_text = {
        int(line): _broken_timestamp(int(times[line]), int(rng.integers(4)))
        for line in landing[defects["unparseable_ts"]]
    }
    return _BlockLines(times, signal_ids, units, scale, ts_text, value_text, notable)


class _DumpWriter:
    """Writes blocks to one dump file, formatting many blocks in one Polars pass.

    Formatting a block on its own costs a fixed few milliseconds; batching up to
    `_BATCH_ROWS` rows keeps that out of the total while memory stays bounded.
    """

    def __init__(self, path: Path, bom: bool, line_end: str) -> None:
        self.path = path
        self.line_end = line_end
        self.lines = 0
        self._pending: list[_BlockLines] = []
        self._pending_rows = 0
        self._out = path.open("wb")
        self._out.write(((BOM if bom else "") + HEADER + line_end).encode("utf-8"))

    def add(self, lines: _BlockLines) -> None:
        self._pending.append(lines)
        self._pending_rows += len(lines.times)
        if self._pending_rows >= _BATCH_ROWS:
            self.flush()

    def flush(self, truncate_at: int | None = None) -> None:
        """Write what is pending; `truncate_at` cuts the very last line to that many characters."""
        if not self._pending:
            return
        frame = _text_columns(
            np.concatenate([b.times for b in self._pending]),
            np.concatenate([b.signal_ids for b in self._pending]),
            np.concatenate([b.units for b in self._pending]),
            np.concatenate([np.full(len(b.times), b.scale, dtype=np.int64) for b in self._pending]),
        )
        ts_text, value_text, offset = {}, {}, 0
        for block in self._pending:
            ts_text.update({offset + line: text for line, text in block.ts_text.items()})
            value_text.update({offset + line: text for line, text in block.value_text.items()})
            offset += len(block.times)
        if ts_text:
            frame = frame.with_columns(frame["Ts"].scatter(list(ts_text), list(ts_text.values())))
        if value_text:
            column = frame["MeasurementValue"].scatter(list(value_text), list(value_text.values()))
            frame = frame.with_columns(column)
        tail = None
        if truncate_at is not None:
            tail = "|".join(frame.row(-1))[:truncate_at]
            frame = frame.head(-1)
        frame.write_csv(
            self._out,
            include_header=False,
            separator="|",
            line_terminator=self.line_end,
            quote_style="never",
        )
        if tail is not None:
            self._out.write(tail.encode("utf-8"))  # no line end: the export died mid-line
        self.lines += frame.height + (tail is not None)
        self._pending, self._pending_rows = [], 0

    def close(self) -> None:
        self.flush()
        self._out.close()


class _Written(NamedTuple):
    paths: tuple[Path, ...]
    rows_per_file: tuple[int, ...]
    notable: dict[int, tuple[int, float]]  # block id -> time and value of its anomaly reading


def _write_measurements(
    out_dir: Path,
    plan: _Plan,
    specs: list[_Signal],
    orphan_ids: tuple[str, ...],
    timeline: _Timeline,
    seed: int,
    bom: bool,
    crlf: bool,
    progress: Callable[[int], None] | None,
) -> _Written:
    paths, rows_per_file, notable = [], [], {}
    for number, order in enumerate(plan.file_orders, start=1):
        writer = _DumpWriter(
            out_dir / f"measurements_{number:03d}.csv", bom, "\r\n" if crlf else "\n"
        )
        try:
            for block_id in order:
                block = plan.blocks[block_id]
                # Seeded by block, so a re-exported block comes out byte for byte the same.
                rng = np.random.default_rng([seed, _BLOCK_STREAM, block_id])
                lines = _block_lines(rng, specs[block.signal], block, timeline, orphan_ids)
                if lines.notable is not None:
                    notable[block_id] = lines.notable
                writer.add(lines)
                if block.truncate_last:
                    # Cut inside the timestamp, as a killed export does: no row can be misread.
                    writer.flush(truncate_at=int(rng.integers(5, 23)))
                if progress is not None:
                    progress(len(lines.times))
        finally:
            writer.close()
        paths.append(writer.path)
        rows_per_file.append(writer.lines)
    return _Written(tuple(paths), tuple(rows_per_file), notable)


def _anomalies(
    plan: _Plan, specs: list[_Signal], timeline: _Timeline, notable: dict[int, tuple[int, float]]
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
