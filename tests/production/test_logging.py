"""One logging setup: readable lines on a terminal, JSON lines for a collector, ids in both."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from loaders.pipeline import load_directory
from warehouse.cli import main
from kernel.logging_config import LOGGERS, configure_logging, log_context
from sample_data import generate_dumps
from kernel.settings import Settings


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    """Leave the process's logging as it was: later tests must not inherit our handler."""
    saved = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level) for name in LOGGERS}
    yield
    for name, (handlers, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    generate_dumps(tmp_path / "data", rows=500, seed=3, files=1)
    return tmp_path / "data"


def test_json_lines_carry_the_load_id(data_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=data_dir, duckdb_path=tmp_path / "w.duckdb", log_format="json")
    stream = io.StringIO()
    configure_logging(settings, stream)

    results = load_directory(settings.warehouse, settings.data_path)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_file = {line["message"].split(" of ")[1].split(":")[0]: line for line in lines}
    assert {result.source_file: result.load_id for result in results} == {
        name: line["load_id"] for name, line in by_file.items()}
    assert {line["logger"] for line in lines} == {"loaders.pipeline"}
    assert all(line["level"] == "INFO" and line["run_id"] is None and line["time"] for line in lines)


def test_default_format_is_human_readable(data_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=data_dir, duckdb_path=tmp_path / "w.duckdb")
    stream = io.StringIO()
    configure_logging(settings, stream)

    results = load_directory(settings.warehouse, settings.data_path)

    first = stream.getvalue().splitlines()[0]
    assert f" INFO  loaders.pipeline [load {results[0].load_id} run -] load {results[0].load_id} of assets.json: " in first
    assert not first.startswith("{")


def test_ids_bound_with_log_context_reach_every_line_inside() -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream)

    with log_context(run_id="3f2a9c1e"), log_context(load_id=12):
        logging.getLogger("warehouse.test").warning("inside")
    logging.getLogger("warehouse.test").warning("outside")

    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["run_id"], inside["load_id"]) == ("3f2a9c1e", 12)
    assert (outside["run_id"], outside["load_id"]) == (None, None)


def test_configuring_twice_keeps_one_handler() -> None:
    configure_logging(Settings())
    configure_logging(Settings(log_format="json"))

    ours = [h for h in logging.getLogger("loaders").handlers if getattr(h, "_gridwarehouse", False)]
    assert len(ours) == 1


def test_cli_writes_json_lines_when_asked(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_LOG_FORMAT", "json")
    monkeypatch.setenv("WAREHOUSE_DUCKDB_PATH", str(tmp_path / "w.duckdb"))

    result = CliRunner().invoke(main, ["load", "--data-dir", str(data_dir)])

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert len(lines) == 3
    assert all(isinstance(line["load_id"], int) for line in lines)


def test_lines_logged_inside_a_dagster_step_carry_its_run_id() -> None:
    import dagster as dg

    import orchestration  # noqa: F401  (as in every run worker: it tells the kernel how to find the run)

    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream)

    @dg.op
    def step() -> None:
        logging.getLogger("loaders.step").info("inside a step")

    @dg.job
    def job() -> None:
        step()

    result = job.execute_in_process()

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["message"], line["run_id"]) for line in lines] == [("inside a step", result.run_id)]
