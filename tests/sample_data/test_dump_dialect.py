"""The dumps are written in the operator's exact dialect (docs/source-format.md), byte for byte."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from math import gcd
from pathlib import Path

from sample_data import GeneratedDumps, generate_dumps
from tests.sample_data.conftest import NUMBER, data_lines, parses, value_of

SIGNAL_NAME = re.compile(
    r"^(?P<station>[A-Z]{3})(?P<section>[A-Z]{3})(?P<level>[0-9]{3})(?P<bay>[A-Z0-9_]+?)"
    r"(?P<quantity>U_L12|U_L23|U_L31|I_L1|I_L2|I_L3|\+\+P|\+\+Q)$"
)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_measurement_files_start_with_the_bom_and_the_exact_header(clean: GeneratedDumps) -> None:
    for path in clean.measurement_paths:
        assert path.read_bytes().startswith(b"\xef\xbb\xbfTs|SignalId|MeasurementValue\n")


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
    assert clean.assets_path.name == "assets.json"
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
    assert clean.signals_path.name == "signal.json"
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
