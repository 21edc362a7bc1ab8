"""The data-folder sensor: a run for a new or changed dump, none for an unchanged folder,
none for dumps the load ledger already has."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.defs.warehouse_access import WRITER_RUN_TAGS
from tests.orchestration.conftest import SAMPLE_DATA, Build, build_settings
from kernel.settings import Settings

BOM = "\ufeff"
DUMP = BOM + "Ts|SignalId|MeasurementValue\n2021-11-07 23:59:03.762|427038|116,129\n"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("assets.json", "signal.json"):
        shutil.copy2(SAMPLE_DATA / name, folder / name)
    (folder / "measurements_001.csv").write_text(DUMP, encoding="utf-8")
    return folder


def dump_sensor_of(settings: Settings) -> dg.SensorDefinition:
    return build_definitions(settings).get_repository_def().get_sensor_def("new_dump_sensor")


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, duckdb_path=data_dir.parent / "w.duckdb")


@pytest.fixture
def sensor(settings: Settings) -> dg.SensorDefinition:
    return dump_sensor_of(settings)


@pytest.fixture(scope="module")
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


class Ticks:
    """Evaluates the sensor tick after tick, carrying its cursor forward as the daemon does."""

    def __init__(self, sensor: dg.SensorDefinition, instance: dg.DagsterInstance):
        self.sensor = sensor
        self.instance = instance
        self.cursor: str | None = None

    def tick(self):
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor)
        data = self.sensor.evaluate_tick(context)
        if data.cursor is not None:
            self.cursor = data.cursor
        return data


@pytest.fixture
def ticks(sensor: dg.SensorDefinition, instance: dg.DagsterInstance) -> Ticks:
    return Ticks(sensor, instance)


def changed_files(data) -> list[str]:
    [request] = data.run_requests
    return request.tags["gridwarehouse/changed_files"].split(", ")


def test_first_look_at_a_folder_requests_a_refresh_of_every_dump(ticks: Ticks) -> None:
    data = ticks.tick()
    assert changed_files(data) == ["assets.json", "measurements_001.csv", "signal.json"]
    assert data.run_requests[0].tags["gridwarehouse/trigger"] == "dump_sensor"


def test_an_unchanged_folder_requests_no_run(ticks: Ticks) -> None:
    ticks.tick()
    data = ticks.tick()
    assert data.run_requests == []
    assert data.skip_message == "no new or changed dump files"


def test_a_new_dump_requests_a_run_naming_only_that_file(ticks: Ticks, data_dir: Path) -> None:
    ticks.tick()
    (data_dir / "measurements_002.csv").write_text(DUMP.replace("116,129", "117"), encoding="utf-8")
    assert changed_files(ticks.tick()) == ["measurements_002.csv"]
    assert ticks.tick().run_requests == []


def test_a_changed_dump_requests_a_run(ticks: Ticks, data_dir: Path) -> None:
    ticks.tick()
    (data_dir / "measurements_001.csv").write_text(DUMP.replace("116,129", "118"), encoding="utf-8")
    assert changed_files(ticks.tick()) == ["measurements_001.csv"]


def test_a_touched_but_unchanged_dump_requests_no_run(ticks: Ticks, data_dir: Path) -> None:
    ticks.tick()
    dump = data_dir / "measurements_001.csv"
    os.utime(dump, ns=(dump.stat().st_atime_ns, dump.stat().st_mtime_ns + 10**9))
    assert ticks.tick().run_requests == []


def test_files_the_loaders_do_not_read_are_ignored(ticks: Ticks, data_dir: Path) -> None:
    ticks.tick()
    (data_dir / "notes.txt").write_text("not a dump")
    assert ticks.tick().run_requests == []


def test_each_run_request_has_its_own_run_key(ticks: Ticks, data_dir: Path) -> None:
    first = ticks.tick().run_requests[0].run_key
    (data_dir / "measurements_001.csv").write_text(DUMP.replace("116,129", "119"), encoding="utf-8")
    second = ticks.tick().run_requests[0].run_key
    assert first != second
    assert json.loads(ticks.cursor)["requests"] == 2


def test_a_change_waits_while_a_writing_run_is_in_flight(sensor: dg.SensorDefinition) -> None:
    from dagster._core.test_utils import create_run_for_test

    busy = dg.DagsterInstance.ephemeral()
    create_run_for_test(busy, job_name="refresh", tags=WRITER_RUN_TAGS, status=dg.DagsterRunStatus.STARTED)
    ticks = Ticks(sensor, busy)
    data = ticks.tick()
    assert data.run_requests == []
    assert "waiting for run" in data.skip_message
    assert ticks.cursor is None  # the change is seen again on the next tick


# --- the load ledger: what the warehouse holds already starts no run ---------------------

def load(settings: Settings) -> None:
    from loaders.pipeline import load_directory

    load_directory(settings.warehouse, settings.data_path)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def loaded(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The data folder loaded into a warehouse, as `warehouse load` does."""
    if request.param == "postgres":
        settings = settings.model_copy(update={"target": "postgres",
                                               "pg_dsn": request.getfixturevalue("pg_dsn")})
    load(settings)
    return settings


def test_the_first_tick_on_a_loaded_warehouse_requests_no_run(
    loaded: Settings, instance: dg.DagsterInstance
) -> None:
    data = Ticks(dump_sensor_of(loaded), instance).tick()
    assert data.run_requests == []
    assert data.skip_message == "assets.json, measurements_001.csv, signal.json: already loaded, " \
                                "as the load ledger shows"


def test_the_first_tick_requests_only_the_dumps_the_ledger_lacks(
    loaded: Settings, instance: dg.DagsterInstance, data_dir: Path
) -> None:
    (data_dir / "measurements_001.csv").write_text(DUMP.replace("116,129", "120"), encoding="utf-8")
    (data_dir / "measurements_002.csv").write_text(DUMP.replace("116,129", "121"), encoding="utf-8")
    ticks = Ticks(dump_sensor_of(loaded), instance)
    assert changed_files(ticks.tick()) == ["measurements_001.csv", "measurements_002.csv"]
    assert ticks.tick().run_requests == []


def test_a_dump_loaded_between_two_ticks_starts_no_run(
    loaded: Settings, instance: dg.DagsterInstance, data_dir: Path
) -> None:
    ticks = Ticks(dump_sensor_of(loaded), instance)
    ticks.tick()
    (data_dir / "measurements_002.csv").write_text(DUMP.replace("116,129", "122"), encoding="utf-8")
    load(loaded)
    assert ticks.tick().run_requests == []


def test_an_unreadable_dump_that_failed_to_load_starts_no_run_until_it_changes(
    settings: Settings, instance: dg.DagsterInstance, data_dir: Path
) -> None:
    (data_dir / "measurements_002.csv").write_text("not|a|dump\n", encoding="utf-8")
    load(settings)  # the ledger records a failed load of it
    ticks = Ticks(dump_sensor_of(settings), instance)
    assert ticks.tick().run_requests == []
    (data_dir / "measurements_002.csv").write_text(DUMP.replace("116,129", "123"), encoding="utf-8")
    assert changed_files(ticks.tick()) == ["measurements_002.csv"]


@contextmanager
def _holding(settings: Settings) -> Iterator[subprocess.Popen]:
    """Another process holding the DuckDB file open for writing, until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; conn = duckdb.connect(sys.argv[1]); "
         "print('holding', flush=True); sys.stdin.read()", str(settings.duckdb_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_a_tick_while_a_writer_holds_duckdb_skips_and_looks_again(
    settings: Settings, instance: dg.DagsterInstance, data_dir: Path
) -> None:
    load(settings)
    (data_dir / "measurements_002.csv").write_text(DUMP.replace("116,129", "124"), encoding="utf-8")
    ticks = Ticks(dump_sensor_of(settings), instance)
    with _holding(settings) as holder:
        data = ticks.tick()
        assert holder.poll() is None
    assert data.run_requests == []
    assert "the load ledger cannot be read now" in data.skip_message
    assert "held by a writing process" in data.skip_message
    assert ticks.cursor is None  # the next tick looks at the same files again
    assert changed_files(ticks.tick()) == ["measurements_002.csv"]


# --- after `warehouse run`: the real instance, the real files -------------------------------

@pytest.fixture
def after_warehouse_run(duckdb_build: Build, tmp_path: Path) -> Settings:
    """A copy of what the session's `warehouse run` left (the refresh job over the sample
    data): its data folder, DuckDB file and Dagster instance, files' times kept."""
    built = duckdb_build.settings
    shutil.copytree(built.data_dir, tmp_path / "data")
    shutil.copy2(built.duckdb_path, tmp_path / "warehouse.duckdb")
    shutil.copytree(built.dagster_home, tmp_path / "dagster_home")
    return build_settings(tmp_path)


def test_after_warehouse_run_the_first_tick_starts_no_run_and_a_new_dump_exactly_one(
    after_warehouse_run: Settings,
) -> None:
    from orchestration.instance import open_instance

    settings = after_warehouse_run
    ticks = Ticks(dump_sensor_of(settings), open_instance(settings))

    first = ticks.tick()
    assert first.run_requests == []
    assert first.skip_message == ("assets.json, measurements_001.csv, measurements_002.csv, signal.json: "
                                  "already loaded, as the load ledger shows")

    (settings.data_dir / "measurements_003.csv").write_text(DUMP.replace("116,129", "125"), encoding="utf-8")
    second = ticks.tick()
    assert len(second.run_requests) == 1
    assert changed_files(second) == ["measurements_003.csv"]
    assert ticks.tick().run_requests == []
