r"""The master data: Swiss substations, the signals on them and each signal's sensor physics.

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

Records are built keyed by the field names of the loaders' record models (`asset_id`,
`signal_name`, ...); the writer turns them into the operator's keys.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

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

#: The SignalIds the operator's SCADA hands out; deleted channels' ids come from here too.
SIGNAL_IDS = range(420_000, 440_000)


class Station(NamedTuple):
    name: str
    code: str
    section: str
    latitude: float
    longitude: float
    levels_kv: tuple[int, ...]


STATIONS: tuple[Station, ...] = (
    Station("UW Beznau", "BEZ", "OBF", 47.5523, 8.2285, (380, 220, 110)),
    Station("UW Grynau", "GRY", "AAT", 47.2192, 8.9729, (220, 110)),
    Station("UW Mettlen", "MET", "SSA", 47.1186, 8.2996, (380, 220, 110)),
    Station("UW Laufenburg", "LAU", "FLA", 47.5606, 8.0636, (380, 220)),
    Station("UW Gösgen", "GOE", "NIE", 47.3656, 7.9672, (380, 220, 50)),
    Station("UW Mühleberg", "MUH", "WIL", 46.9689, 7.2681, (220, 110, 16)),
    Station("UW Chippis", "CHI", "RHO", 46.2806, 7.5410, (220, 110, 50)),
    Station("UW Sils", "SIL", "DOM", 46.6968, 9.4466, (380, 220, 110)),
    Station("UW Lavorgo", "LAV", "LEV", 46.4419, 8.8425, (380, 220)),
    Station("UW Bassecourt", "BAS", "JUR", 47.3380, 7.2430, (380, 110, 16)),
    Station("UW Romanel", "ROM", "VAU", 46.5634, 6.6022, (220, 110, 50)),
    Station("UW Rüthi", "RUT", "RHE", 47.2945, 9.5383, (220, 110, 16)),
    Station("UW Tavanasa", "TAV", "SUR", 46.7528, 9.0656, (380, 220)),
    Station("UW Pradella", "PRA", "ENG", 46.8130, 10.3330, (380, 110)),
    Station("UW Obfelden", "OBD", "AMT", 47.2640, 8.4230, (110, 16)),
    Station("UW Breite", "BRE", "TOS", 47.4800, 8.7600, (380, 220, 110)),
    Station("UW Verbois", "VER", "GEN", 46.2040, 6.0240, (220, 110, 16)),
    Station("UW Innertkirchen", "INN", "HAS", 46.7050, 8.2270, (220, 50)),
    Station("UW Bickigen", "BIC", "EMM", 47.0420, 7.6560, (380, 220, 110)),
    Station("UW Riddes", "RID", "VAL", 46.1720, 7.2240, (380, 220, 50)),
    Station("UW Amsteg", "AMS", "URI", 46.7720, 8.6710, (220, 110, 16)),
    Station("UW Wattenwil", "WAT", "GUR", 46.7700, 7.5100, (220, 50)),
    Station("UW Fällanden", "FAE", "GRE", 47.3700, 8.6400, (110, 16)),
    Station("UW Winkeln", "WIN", "SGA", 47.4100, 9.3100, (220, 110, 16)),
    Station("UW Galmiz", "GAL", "SEE", 46.9490, 7.1900, (110, 16)),
    Station("UW Mörel", "MOE", "GOM", 46.3560, 8.0450, (220, 50)),
    Station("UW Avegno", "AVE", "MAG", 46.2030, 8.7400, (220, 50, 16)),
    Station("UW Stalden", "STA", "VIS", 46.2330, 7.8700, (220, 110)),
    Station("UW Rathausen", "RAT", "EMM", 47.0770, 8.2800, (110, 16)),
    Station("UW Seebach", "SEB", "ZUE", 47.4190, 8.5440, (220, 110, 16)),
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
class Signal:
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


def make_signals(
    rng: np.random.Generator, assets: int, signals: int
) -> tuple[list[Station], list[Signal]]:
    """The first `assets` stations and `signals` signals spread unevenly over them."""
    stations = list(STATIONS[:assets])
    # Every asset gets one signal, the rest go to assets unevenly, as in a real inventory.
    per_asset = np.ones(assets, dtype=np.int64) + rng.multinomial(
        signals - assets, rng.dirichlet(np.ones(assets))
    )
    all_ids = np.arange(SIGNAL_IDS.start, SIGNAL_IDS.stop)
    signal_ids = rng.choice(all_ids, size=signals, replace=False)
    # Report rates spread over three decades: the densest signal reports ~1000 times more often.
    densities = rng.permutation(10.0 ** np.linspace(0.0, 3.0, signals))
    specs: list[Signal] = []
    for asset_index, (station, wanted) in enumerate(zip(stations, per_asset, strict=True)):
        for level, bay, quantity in _signal_tags(rng, station, int(wanted)):
            i = len(specs)
            signal_id, asset_id = str(signal_ids[i]), str(asset_index + 1)
            specs.append(
                _signal_spec(rng, station, asset_id, signal_id, level, bay, quantity, densities[i])
            )
    return stations, specs


def _signal_tags(
    rng: np.random.Generator, station: Station, wanted: int
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
    station: Station,
    asset_id: str,
    signal_id: str,
    level: int,
    bay: str,
    quantity: str,
    density: float,
) -> Signal:
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
    return Signal(
        signal_id=signal_id,
        gid=random_gid(rng),
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


def random_gid(rng: np.random.Generator) -> str:
    """A version-4 UUID drawn from `rng`, as the operator's SignalGId."""
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def coordinate(rng: np.random.Generator, value: float) -> str:
    """A surveyed position near `value`, written as the export writes it."""
    # Surveyed positions carry ten decimals in the real export, trailing zeros dropped.
    return f"{value + rng.uniform(-0.002, 0.002):.10f}".rstrip("0")


def asset_records(rng: np.random.Generator, stations: list[Station]) -> list[dict[str, str]]:
    """One record per station, numbered from 1; every value a string, as the operator's."""
    return [
        {
            "asset_id": str(i + 1),
            "latitude": coordinate(rng, station.latitude),
            "longitude": coordinate(rng, station.longitude),
            "descri": station.name,
        }
        for i, station in enumerate(stations)
    ]


def signal_records(specs: list[Signal]) -> list[dict[str, str]]:
    """One record per signal; every value a string, as the operator's."""
    return [
        {
            "signal_gid": s.gid,
            "signal_id": s.signal_id,
            "signal_name": s.name,
            "asset_id": s.asset_id,
            "unit": s.unit,
        }
        for s in specs
    ]
