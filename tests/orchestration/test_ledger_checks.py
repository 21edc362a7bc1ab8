"""The raw tables' reconciliation with the ledger: one check per table, scoped to a run's loads."""

from __future__ import annotations

from pathlib import Path

from kernel.database import connect
from kernel.settings import Settings
from loaders.pipeline import load_directory
from orchestration.defs.ingest.ledger_queries import Mismatch, changed_load_ids, mismatches
from sample_data import generate_dumps


def built(tmp_path: Path) -> Settings:
    generate_dumps(tmp_path / "data", 3_000, 7, assets=2, signals=4, files=3, defect_rate=0.0)
    settings = Settings(duckdb_path=tmp_path / "w.duckdb", data_dir=tmp_path / "data")
    load_directory(settings.warehouse, settings.data_path)
    return settings


def measurement_loads(settings: Settings) -> list[int]:
    with connect(settings.warehouse, "loader") as db:
        return [load_id for (load_id,) in db.execute(
            "SELECT load_id FROM raw.load_ledger WHERE file_kind = 'measurements' ORDER BY load_id")]


def test_before_any_build_every_load_is_in_scope(tmp_path: Path) -> None:
    settings = built(tmp_path)
    with connect(settings.warehouse, "loader") as db:
        assert changed_load_ids(db) is None
        assert mismatches(db, "measurements", "measurements") == []


def test_a_refresh_checks_its_own_loads_and_verify_every_load(tmp_path: Path) -> None:
    settings = built(tmp_path)
    first, *_, last = measurement_loads(settings)
    with connect(settings.warehouse, "loader") as db:
        # The marts reflect every load but the last (as after a build and one new dump).
        db.execute("CREATE SCHEMA refresh_state")
        db.execute("CREATE TABLE refresh_state.applied_loads AS SELECT load_id FROM raw.load_ledger "
                   f"WHERE status = 'loaded' AND load_id <> {last}")
        (expected,) = db.execute("SELECT rows_loaded FROM raw.load_ledger WHERE load_id = ?", (first,))[0]
        # Damage to an old load: one of its rows gone.
        db.execute("DELETE FROM raw.measurements WHERE rowid = (SELECT min(rowid) FROM raw.measurements "
                   "WHERE load_id = ?)", (first,))

        scope = changed_load_ids(db)
        assert scope == [last]
        assert mismatches(db, "measurements", "measurements", scope) == []
        assert mismatches(db, "measurements", "measurements") == [Mismatch(first, expected, expected - 1)]


def test_rows_left_behind_by_a_removed_load_are_found_in_scope(tmp_path: Path) -> None:
    settings = built(tmp_path)
    loads = measurement_loads(settings)
    with connect(settings.warehouse, "loader") as db:
        db.execute("CREATE SCHEMA refresh_state")
        db.execute("CREATE TABLE refresh_state.applied_loads AS SELECT load_id FROM raw.load_ledger "
                   "WHERE status = 'loaded'")
        # The ledger says the last load was replaced, but its rows are still in raw.
        db.execute("UPDATE raw.load_ledger SET status = 'replaced' WHERE load_id = ?", (loads[-1],))
        (rows,) = db.execute("SELECT count(*) FROM raw.measurements WHERE load_id = ?", (loads[-1],))[0]

        scope = changed_load_ids(db)
        assert scope == [loads[-1]]
        assert mismatches(db, "measurements", "measurements", scope) == [Mismatch(loads[-1], None, rows)]
