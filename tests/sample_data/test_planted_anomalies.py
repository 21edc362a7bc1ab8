"""Valid rows with wrong physics sit exactly where `GeneratedDumps.anomalies` says."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

from sample_data import PLAUSIBLE_RANGES, VOLTAGE_BAND, GeneratedDumps, generate_dumps
from tests.sample_data.conftest import TS_FORMAT, data_lines, known_signals, value_of


def test_normal_values_lie_in_the_plausible_range_and_out_of_range_readings_outside(
    clean: GeneratedDumps,
) -> None:
    signals = known_signals(clean)
    odd = {
        (a.signal_id, f"{a.start:%Y-%m-%d %H:%M:%S.%f}"[:-3])
        for a in clean.anomalies
        if a.kind == "out_of_range"
    }
    assert odd
    for line in data_lines(clean):
        value, unit = value_of(line.value), signals[line.signal_id]["Unit"]
        low, high = PLAUSIBLE_RANGES[unit]
        if unit == "kV":
            level = int(signals[line.signal_id]["SignalName"][6:9])
            low, high = level * VOLTAGE_BAND[0], level * VOLTAGE_BAND[1]
        inside = low <= value <= high
        assert inside != ((line.signal_id, line.ts) in odd), line


def test_a_stuck_sensor_repeats_one_value_every_quarter_hour(clean: GeneratedDumps) -> None:
    stuck = [a for a in clean.anomalies if a.kind == "stuck"]
    assert stuck
    for anomaly in stuck:
        inside = sorted(
            (line.ts, line.value)
            for line in data_lines(clean)
            if line.signal_id == anomaly.signal_id
            and anomaly.start <= datetime.strptime(line.ts, TS_FORMAT) < anomaly.end
        )
        assert len(inside) == anomaly.rows >= 8
        assert {value_of(value) for _, value in inside} == {anomaly.value}
        gaps = {
            round(
                (datetime.strptime(b, TS_FORMAT) - datetime.strptime(a, TS_FORMAT)).total_seconds()
                / 60
            )
            for (a, _), (b, _) in itertools.pairwise(inside)
        }
        assert gaps <= {14, 15, 16}


def test_a_silent_signal_has_no_row_for_hours(clean: GeneratedDumps) -> None:
    silences = [a for a in clean.anomalies if a.kind == "silence"]
    assert silences
    for anomaly in silences:
        assert anomaly.end - anomaly.start >= timedelta(hours=1)
        assert not [
            line
            for line in data_lines(clean)
            if line.signal_id == anomaly.signal_id
            and anomaly.start <= datetime.strptime(line.ts, TS_FORMAT) < anomaly.end
        ]


def test_without_anomalies_every_value_is_plausible(tmp_path: Path) -> None:
    dumps = generate_dumps(
        tmp_path, 5_000, seed=2, assets=3, signals=9, defect_rate=0, anomalies=False
    )
    assert dumps.anomalies == ()
    signals = known_signals(dumps)
    for line in data_lines(dumps):
        low, high = PLAUSIBLE_RANGES[signals[line.signal_id]["Unit"]]
        assert low <= value_of(line.value) <= high
