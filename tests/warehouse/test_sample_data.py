"""The sample-data generator writes the operator's dialect exactly and accounts for every defect.

The dumps are read back here with plain Python, independently of the generator's own code,
so a count that agrees is a count that is true.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from math import gcd
from pathlib import Path
from typing import NamedTuple

import pytest

from warehouse.sample_data import (
    PLAUSIBLE_RANGES,
    VOLTAGE_BAND,
    DefectRates,
    GeneratedDumps,
    generate_dumps,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
NUMBER = re.compile(r"-?[0-9]+(,[0-9]*[1-9])?")
SIGNAL_NAME = re.compile(
    r"^(?P<station>[A-Z]{3})(?P<section>[A-Z]{3})(?P<level>[0-9]{3})(?P<bay>[A-Z0-9_]+?)"
    r"(?P<quantity>U_L12|U_L23|U_L31|I_L1|I_L2|I_L3|\+\+P|\+\+Q)$"
)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


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


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDumps:
    """6,000 rows with five percent defects: some dozens of each kind."""
    return generate_dumps(
        tmp_path_factory.mktemp("defective"), 6_000, seed=7, assets=4, signals=12, defect_rate=0.05
    )


@pytest.fixture(scope="module")
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


# --- the dialect ---------------------------------------------------------------------------


def test_measurement_files_start_with_the_bom_and_the_exact_header(clean: GeneratedDumps) -> None:
    for path in clean.measurement_paths:
        assert path.read_bytes().startswith(b"\xef\xbb\xbfTs|SignalId|MeasurementValue\n")


def test_files_split_the_time_range_oldest_first_sharing_only_re_exported_rows(
    clean: GeneratedDumps,
) -> None:
    assert [p.name for p in clean.measurement_paths] == [
        "measurements_001.csv",
        "measurements_002.csv",
    ]
    first, second = ([line[1:] for line in data_lines(clean) if line.file == n] for n in (0, 1))
    newest_of_first = max(ts for ts, _, _ in first)
    older_in_second = [row for row in second if row[0] <= newest_of_first]
    assert older_in_second and set(older_in_second) <= set(first)
    assert min(ts for ts, _, _ in first) < min(ts for ts, _, _ in second)


def test_without_bom_and_with_crlf_the_files_change_only_there(tmp_path: Path) -> None:
    plain = generate_dumps(tmp_path / "plain", 500, seed=3, assets=2, signals=4, defect_rate=0)
    windows = generate_dumps(
        tmp_path / "windows", 500, seed=3, assets=2, signals=4, defect_rate=0, bom=False, crlf=True
    )
    for lf, crlf in zip(plain.measurement_paths, windows.measurement_paths, strict=True):
        assert crlf.read_bytes() == lf.read_bytes().removeprefix(b"\xef\xbb\xbf").replace(
            b"\n", b"\r\n"
        )


def test_every_line_has_three_pipe_separated_fields(clean: GeneratedDumps) -> None:
    for path in clean.measurement_paths:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        assert {line.count("|") for line in lines} == {2}


def test_timestamps_carry_milliseconds_and_no_offset(clean: GeneratedDumps) -> None:
    pattern = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")
    assert all(pattern.match(line.ts) and parses(line.ts) for line in data_lines(clean))


def test_values_have_a_decimal_comma_and_no_trailing_zeros(clean: GeneratedDumps) -> None:
    values = [line.value for line in data_lines(clean)]
    assert all(NUMBER.fullmatch(v) for v in values)
    assert any("," in v for v in values) and any("," not in v for v in values)


def test_values_sit_on_a_sensor_step_of_each_signal(clean: GeneratedDumps) -> None:
    """Every value of a signal is a whole multiple of one step, coarser than the printed digits."""
    by_signal: dict[str, list[str]] = defaultdict(list)
    for line in data_lines(clean):
        by_signal[line.signal_id].append(line.value)
    steps = {}
    for signal, values in by_signal.items():
        digits = max(len(v.partition(",")[2]) for v in values)
        steps[signal] = gcd(*(round(value_of(v) * 10**digits) for v in values))
    assert len(steps) == 16 and all(step > 1 for step in steps.values())


def test_assets_json_holds_only_strings_under_the_real_keys(clean: GeneratedDumps) -> None:
    records = json.loads(clean.assets_path.read_text(encoding="utf-8"))
    assert len(records) == clean.asset_records == 5
    for record in records:
        assert list(record) == ["AssetID", "Latitude", "Longitude", "descri"]
        assert all(isinstance(value, str) for value in record.values())
        assert record["descri"].startswith("UW ")
        assert (
            45.8 <= float(record["Latitude"]) <= 47.8 and 5.9 <= float(record["Longitude"]) <= 10.5
        )
    assert [r["AssetID"] for r in records] == ["1", "2", "3", "4", "5"]


def test_signal_json_holds_only_strings_under_the_real_keys(clean: GeneratedDumps) -> None:
    records = json.loads(clean.signals_path.read_text(encoding="utf-8"))
    asset_ids = {r["AssetID"] for r in json.loads(clean.assets_path.read_text(encoding="utf-8"))}
    assert len(records) == clean.signal_records == 16
    for record in records:
        assert list(record) == ["SignalGId", "SignalId", "SignalName", "AssetId", "Unit"]
        assert all(isinstance(value, str) for value in record.values())
        assert UUID.match(record["SignalGId"])
        assert re.fullmatch(r"[0-9]{6}", record["SignalId"])
        assert record["AssetId"] in asset_ids
    assert len({r["SignalId"] for r in records}) == len({r["SignalName"] for r in records}) == 16


def test_json_files_hold_one_record_per_line(clean: GeneratedDumps) -> None:
    for path in (clean.assets_path, clean.signals_path):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "[" and lines[-1] == "]"
        assert all(
            line.startswith('  {"') and line.rstrip(",").endswith("}") for line in lines[1:-1]
        )


def test_signal_names_follow_the_documented_pattern_and_match_their_unit(
    clean: GeneratedDumps,
) -> None:
    units = {"U": {"kV"}, "I": {"A"}, "+": {"kW", "MW"}}
    for record in json.loads(clean.signals_path.read_text(encoding="utf-8")):
        name = SIGNAL_NAME.match(record["SignalName"])
        assert name, record["SignalName"]
        assert name["level"] in {"016", "050", "110", "220", "380"}
        quantity = name["quantity"]
        if quantity == "++Q":
            assert record["Unit"] == "MVAr"
        elif quantity == "++P":
            assert record["Unit"] == ("kW" if int(name["level"]) <= 110 else "MW")
        else:
            assert record["Unit"] in units[quantity[0]]


# --- the shape of a dump -------------------------------------------------------------------


def test_row_total_equals_rows_and_rows_per_file_is_exact(clean: GeneratedDumps) -> None:
    lines = data_lines(clean)
    assert len(lines) == clean.rows == 20_000
    assert tuple(Counter(line.file for line in lines)[n] for n in (0, 1)) == clean.rows_per_file


def test_blocks_are_one_signal_newest_first_and_in_no_global_order(clean: GeneratedDumps) -> None:
    for number, blocks in enumerate(clean.blocks_per_file):
        lines = [line for line in data_lines(clean) if line.file == number]
        # A new block starts where the signal changes or time goes forward again.
        starts = [0] + [
            i
            for i in range(1, len(lines))
            if lines[i].signal_id != lines[i - 1].signal_id or lines[i].ts > lines[i - 1].ts
        ]
        assert len(starts) == blocks
        first_times = [lines[i].ts for i in starts]
        assert first_times != sorted(first_times) and first_times != sorted(
            first_times, reverse=True
        )


def test_the_re_exported_overlap_repeats_rows_exactly_in_both_files(clean: GeneratedDumps) -> None:
    first, second = (
        Counter(line[1:] for line in data_lines(clean) if line.file == n) for n in (0, 1)
    )
    assert sum((first & second).values()) == clean.overlap_rows > 0


def test_report_density_differs_a_hundredfold_between_signals(clean: GeneratedDumps) -> None:
    rows = Counter(line.signal_id for line in data_lines(clean))
    assert max(rows.values()) >= 100 * min(rows.values())


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    def files(folder: str, seed: int) -> dict[str, bytes]:
        generate_dumps(tmp_path / folder, 3_000, seed=seed, assets=3, signals=8, defect_rate=0.02)
        return {p.name: p.read_bytes() for p in sorted((tmp_path / folder).iterdir())}

    assert files("once", 5) == files("twice", 5)
    assert files("once", 5)["measurements_001.csv"] != files("other", 6)["measurements_001.csv"]


def test_progress_reports_every_line(tmp_path: Path) -> None:
    reported: list[int] = []
    dumps = generate_dumps(tmp_path, 4_000, assets=2, signals=6, progress=reported.append)
    assert sum(reported) == dumps.rows == 4_000


def test_zero_rows_writes_header_only_dumps(tmp_path: Path) -> None:
    dumps = generate_dumps(tmp_path, 0)
    assert [p.read_bytes() for p in dumps.measurement_paths] == [
        b"\xef\xbb\xbfTs|SignalId|MeasurementValue\n"
    ] * 2
    assert dumps.defects.empty_value == dumps.defects.truncated_last_line == 0


def test_a_rerun_with_fewer_files_leaves_no_stale_dump(tmp_path: Path) -> None:
    generate_dumps(tmp_path, 1_000, files=3, assets=2, signals=4)
    generate_dumps(tmp_path, 1_000, files=1, assets=2, signals=4)
    assert sorted(p.name for p in tmp_path.glob("measurements*")) == ["measurements_001.csv"]


# --- defects -------------------------------------------------------------------------------


def test_defect_counts_match_what_the_files_hold(defective: GeneratedDumps) -> None:
    lines = data_lines(defective)
    signals = known_signals(defective)
    last_raw = defective.measurement_paths[-1].read_bytes()
    truncated = [line for line in lines if line.signal_id == "" and line.value == ""]
    complete = [line for line in lines if line not in truncated]
    timed = [line for line in complete if parses(line.ts)]
    # Duplicates are counted among rows with a real timestamp, one key per signal and time.
    by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    for line in timed:
        by_key[line.ts, line.signal_id].append(line.value)
    exact = sum(n - 1 for n in Counter(line[1:] for line in timed).values())
    conflicting = sum(len(set(values)) - 1 for values in by_key.values())

    assert Counter(line.value == "" for line in complete)[True] == defective.defects.empty_value
    assert sum(1 for line in complete if line.value and not NUMBER.fullmatch(line.value)) == (
        defective.defects.non_numeric_value
    )
    assert len(complete) - len(timed) == defective.defects.unparseable_ts
    assert (
        sum(1 for line in complete if line.signal_id not in signals)
        == defective.defects.orphan_signal_id
    )
    assert exact == defective.defects.exact_duplicate + defective.overlap_rows
    assert conflicting == defective.defects.conflicting_duplicate
    assert len(truncated) == defective.defects.truncated_last_line == 1
    assert not last_raw.endswith(b"\n") and len(last_raw.rsplit(b"\n", 1)[1]) < 23


def test_defect_rate_splits_equally_over_the_kinds(defective: GeneratedDumps) -> None:
    counts = vars(defective.defects)
    assert [
        counts[kind]
        for kind in (
            "empty_value",
            "non_numeric_value",
            "unparseable_ts",
            "orphan_signal_id",
            "exact_duplicate",
            "conflicting_duplicate",
        )
    ] == [50] * 6


def test_json_files_hold_one_record_with_a_missing_key_and_one_with_no_number(
    defective: GeneratedDumps,
) -> None:
    assets = json.loads(defective.assets_path.read_text(encoding="utf-8"))
    signals = json.loads(defective.signals_path.read_text(encoding="utf-8"))
    assert [set(r) for r in assets].count({"AssetID", "Latitude", "descri"}) == 1
    assert [r.get("Latitude") for r in assets].count("n/a") == 1
    assert [set(r) for r in signals].count({"SignalGId", "SignalId", "SignalName", "AssetId"}) == 1
    assert [r["SignalId"] for r in signals].count("n/a") == 1
    assert defective.defects.json_missing_key == defective.defects.json_not_a_number == 2
    assert (
        (defective.asset_records, defective.signal_records)
        == (len(assets), len(signals))
        == (6, 14)
    )


def test_defective_json_records_have_no_measurements(defective: GeneratedDumps) -> None:
    records = json.loads(defective.signals_path.read_text(encoding="utf-8"))
    broken = {r["SignalId"] for r in records if "Unit" not in r or not r["SignalId"].isdigit()}
    assert not broken & {line.signal_id for line in data_lines(defective)}


def test_a_clean_set_has_no_defects(clean: GeneratedDumps) -> None:
    lines = data_lines(clean)
    signals = known_signals(clean)
    assert vars(clean.defects) == dict.fromkeys(vars(clean.defects), 0)
    assert all(
        parses(line.ts) and NUMBER.fullmatch(line.value) and line.signal_id in signals
        for line in lines
    )
    keys = Counter((line.ts, line.signal_id) for line in lines)
    assert sum(n - 1 for n in keys.values()) == clean.overlap_rows
    assert clean.measurement_paths[-1].read_bytes().endswith(b"\n")
    assert len(signals) == clean.signal_records


def test_per_kind_rates_override_the_uniform_rate(tmp_path: Path) -> None:
    dumps = generate_dumps(
        tmp_path,
        4_000,
        assets=2,
        signals=6,
        defect_rate=0.5,
        defects=DefectRates(orphan_signal_id=0.01),
    )
    assert vars(dumps.defects) == {**dict.fromkeys(vars(dumps.defects), 0), "orphan_signal_id": 40}


def test_too_few_rows_for_the_defect_rate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too few for the defect rates"):
        generate_dumps(tmp_path, 20, defect_rate=0.3)


# --- physics and anomalies -----------------------------------------------------------------


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


# --- the committed sample set --------------------------------------------------------------


def test_the_committed_sample_set_is_what_the_documented_command_writes(tmp_path: Path) -> None:
    """data/ is `warehouse generate --out data --rows 300000 --seed 42`, byte for byte."""
    dumps = generate_dumps(tmp_path, 300_000, seed=42)
    for path in (dumps.assets_path, dumps.signals_path, *dumps.measurement_paths):
        assert path.read_bytes() == (PROJECT_ROOT / "data" / path.name).read_bytes(), path.name
