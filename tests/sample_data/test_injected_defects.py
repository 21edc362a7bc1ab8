"""Defects are injected at the rates asked for and counted exactly: as the files hold them."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from sample_data import DefectRates, GeneratedDumps, generate_dumps
from tests.sample_data.conftest import NUMBER, data_lines, known_signals, parses


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


def test_orphan_signal_ids_are_listed_and_absent_from_signal_json(
    defective: GeneratedDumps,
) -> None:
    in_dumps = {line.signal_id for line in data_lines(defective)}
    assert len(defective.orphan_signal_ids) == 2
    assert set(defective.orphan_signal_ids) <= in_dumps
    assert not set(defective.orphan_signal_ids) & set(known_signals(defective))


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


def test_a_single_asset_still_gets_its_defective_records(tmp_path: Path) -> None:
    generated = generate_dumps(tmp_path, 1_000, 5, assets=1, signals=2, files=1)
    assets = json.loads((tmp_path / "assets.json").read_text(encoding="utf-8-sig"))
    assert generated.defects.json_missing_key == 2
    # The clean record stays first; the defective ones follow it.
    assert len(assets) == 3
