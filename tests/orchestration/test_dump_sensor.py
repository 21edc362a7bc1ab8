"""The data-folder sensor: a run for a new or changed dump, none for an unchanged folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.defs.warehouse_access import WRITER_RUN_TAGS
from tests.orchestration.conftest import SAMPLE_DATA
from warehouse.settings import Settings

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


@pytest.fixture
def sensor(data_dir: Path) -> dg.SensorDefinition:
    settings = Settings(data_dir=data_dir, duckdb_path=data_dir.parent / "w.duckdb")
    return build_definitions(settings).get_repository_def().get_sensor_def("new_dump_sensor")


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
