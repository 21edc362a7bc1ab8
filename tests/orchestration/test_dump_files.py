"""The dump files in the lineage: observing a dump kind records a data version that moves
exactly when one of its files does."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.defs.ingest.dump_files import DUMP_KEYS
from tests.orchestration.conftest import SAMPLE_DATA
from kernel.settings import Settings

BOM = "\ufeff"
DUMP = BOM + "Ts|SignalId|MeasurementValue\n2021-11-07 23:59:03.762|427038|116,129\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("assets.json", "signal.json"):
        shutil.copy2(SAMPLE_DATA / name, data / name)
    (data / "measurements_001.csv").write_text(DUMP, encoding="utf-8")
    return Settings(data_dir=data, duckdb_path=tmp_path / "w.duckdb", automation_enabled=False)


class Observer:
    """Observes dump kinds as the UI's "Observe sources" does: a run of the asset job."""

    def __init__(self, settings: Settings):
        self.job = build_definitions(settings).resolve_implicit_global_asset_job_def()
        self.instance = dg.DagsterInstance.ephemeral()

    def observe(self, kind: str) -> tuple[str, dict]:
        result = self.job.execute_in_process(instance=self.instance, asset_selection=[DUMP_KEYS[kind]])
        [event] = result.get_asset_observation_events()
        observation = event.event_specific_data.asset_observation
        assert observation.asset_key == DUMP_KEYS[kind]
        return observation.tags["dagster/data_version"], {k: v.value for k, v in observation.metadata.items()}


def test_observing_a_dump_kind_names_its_files_and_their_checksums(settings: Settings) -> None:
    version, metadata = Observer(settings).observe("measurements")
    assert metadata["file_count"] == 1
    assert metadata["size_bytes"] == len(DUMP.encode())
    assert "| measurements_001.csv |" in metadata["files"]
    assert len(version) == 24


def test_the_data_version_stays_while_the_files_stay(settings: Settings) -> None:
    observer = Observer(settings)
    first, _ = observer.observe("measurements")
    dump = settings.data_dir / "measurements_001.csv"
    dump.write_text(DUMP, encoding="utf-8")  # rewritten, same bytes
    assert observer.observe("measurements")[0] == first


def test_the_data_version_changes_when_a_file_changes_or_arrives(settings: Settings) -> None:
    observer = Observer(settings)
    first, _ = observer.observe("measurements")
    (settings.data_dir / "measurements_001.csv").write_text(DUMP.replace("116,129", "117"), encoding="utf-8")
    changed, _ = observer.observe("measurements")
    (settings.data_dir / "measurements_002.csv").write_text(DUMP, encoding="utf-8")
    added, metadata = observer.observe("measurements")
    assert len({first, changed, added}) == 3
    assert metadata["file_count"] == 2


def test_a_change_to_one_kind_leaves_the_others_versions_alone(settings: Settings) -> None:
    observer = Observer(settings)
    before = {kind: observer.observe(kind)[0] for kind in ("assets", "signals")}
    (settings.data_dir / "measurements_001.csv").write_text(DUMP.replace("116,129", "118"), encoding="utf-8")
    assert {kind: observer.observe(kind)[0] for kind in ("assets", "signals")} == before
