"""Two generated sets the sample-data tests share, and plain-Python readers of the dumps.

The dumps are read back here with plain Python, independently of the generator's own code,
so a count that agrees is a count that is true.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import NamedTuple

import pytest

from sample_data import GeneratedDumps, generate_dumps

TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
NUMBER = re.compile(r"-?[0-9]+(,[0-9]*[1-9])?")


class Line(NamedTuple):
    file: int
    ts: str
    signal_id: str
    value: str


def data_lines(dumps: GeneratedDumps) -> list[Line]:
    """Every line after the header, in file order; a truncated line keeps what it has."""
    lines = []
    for number, path in enumerate(dumps.measurement_paths):
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
        for raw in text.split("\n")[1:]:
            if raw:
                fields = raw.removesuffix("\r").split("|")
                lines.append(Line(number, *[*fields, "", ""][:3]))
    return lines


def parses(ts: str) -> bool:
    try:
        datetime.strptime(ts, TS_FORMAT)
    except ValueError:
        return False
    return True


def known_signals(dumps: GeneratedDumps) -> dict[str, dict[str, str]]:
    records = json.loads(dumps.signals_path.read_text(encoding="utf-8"))
    return {r["SignalId"]: r for r in records if r["SignalId"].isdigit() and "Unit" in r}


def value_of(text: str) -> float:
    return float(text.replace(",", "."))


@pytest.fixture(scope="session")
def defective(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDumps:
    """6,000 rows with five percent defects: some dozens of each kind."""
    return generate_dumps(
        tmp_path_factory.mktemp("defective"), 6_000, seed=7, assets=4, signals=12, defect_rate=0.05
    )


@pytest.fixture(scope="session")
def clean(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDumps:
    """20,000 rows over two weeks: dense enough for a stuck sensor and a silence."""
    return generate_dumps(
        tmp_path_factory.mktemp("clean"),
        20_000,
        seed=11,
        assets=5,
        signals=16,
        defect_rate=0.0,
        days=14,
    )
