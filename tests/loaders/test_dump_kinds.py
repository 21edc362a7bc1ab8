"""The dump-kind registry is the one place the kinds are known: everything else follows it."""

from __future__ import annotations

from pathlib import Path

from loaders.dump_kinds import DUMP_KINDS, discover_files, dump_paths


def test_files_are_found_by_the_registry_in_load_order(tmp_path: Path) -> None:
    for name in ("measurements_002.csv", "signal.json", "measurements_001.csv", "assets.json",
                 "notes.txt", "measurements.csv.bak"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    (tmp_path / "measurements_dir.csv").mkdir()
    found = [(path.name, kind.name) for path, kind in dump_paths(tmp_path)]
    assert found == [("assets.json", "assets"), ("signal.json", "signals"),
                     ("measurements_001.csv", "measurements"), ("measurements_002.csv", "measurements")]
    assert [source.kind for source in discover_files(tmp_path, kinds=["signals"])] == ["signals"]


def test_the_raw_assets_checks_and_sensor_are_built_from_the_registry(tmp_path: Path) -> None:
    from orchestration.defs.automation.dump_sensor import dump_paths as sensor_paths
    from orchestration.defs.ingest.assets import DESCRIPTIONS, raw_tables
    from orchestration.defs.ingest.checks import raw_table_checks

    asset_keys = {key.path[-1] for key in raw_tables.keys}
    check_keys = {(key.asset_key.path[-1], key.name) for key in raw_table_checks.check_keys}
    for kind in DUMP_KINDS:
        assert kind.table in asset_keys
        assert DESCRIPTIONS[kind.table] == kind.description
        assert {(kind.table, "ledger_reconciles"), (kind.table, "rejected_share_below_threshold")} <= check_keys
    (tmp_path / "assets.json").write_text("[]", encoding="utf-8")
    (tmp_path / "measurements_001.csv").write_text("x", encoding="utf-8")
    assert sensor_paths(tmp_path) == [path for path, _ in dump_paths(tmp_path)]
