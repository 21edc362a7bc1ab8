"""One logging setup: readable lines on a terminal, JSON lines for a collector, ids in both."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from loaders.pipeline import load_directory
from warehouse.cli import main
from kernel.logging_config import DBT_LOGGER, LOGGERS, configure_logging, log_context
from sample_data import generate_dumps
from kernel.settings import Settings


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    """Leave the process's logging as it was: later tests must not inherit our handler."""
    saved = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level)
             for name in (*LOGGERS, DBT_LOGGER)}
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


def run_with_dagster_capturing(log_format: str, debug: bool = False) -> tuple[str, object, object]:
    """A one-step job logging through `loaders.step`, on an instance that copies the
    warehouse's loggers into its runs' event logs (as orchestration/dagster.yaml does),
    printed by the run's terminal logger as `warehouse run` sets it up."""
    import dagster as dg

    import orchestration  # noqa: F401  (tells the kernel which records Dagster prints)
    from orchestration.runs import terminal_logger

    instance = dg.DagsterInstance.ephemeral(settings={"python_logs": {
        "managed_python_loggers": list(LOGGERS), "python_log_level": "INFO"}})

    @dg.op
    def step() -> None:
        with log_context(load_id=7):
            logging.getLogger("loaders.step").info("inside a step")

    @dg.job(logger_defs={"console": terminal_logger(debug=debug, log_format=log_format)})
    def job() -> None:
        step()

    result = job.execute_in_process(instance=instance, run_config={"loggers": {"console": {}}})
    return "inside a step", result, instance


def test_a_line_dagster_captures_is_printed_once_and_kept_in_the_run_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream)

    message, result, instance = run_with_dagster_capturing("json")

    printed = [line for line in (stream.getvalue() + capsys.readouterr().err).splitlines() if message in line]
    assert len(printed) == 1
    line = json.loads(printed[0])
    assert (line["logger"], line["load_id"], line["run_id"], line["step"]) == (
        "loaders.step", 7, result.run_id, "step")
    assert [entry.user_message for entry in instance.all_logs(result.run_id)].count(message) == 1


def test_dagster_own_lines_are_in_the_warehouse_format(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"), io.StringIO())

    _, result, _ = run_with_dagster_capturing("json", debug=True)

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    events = {line.get("event"): line for line in lines}
    assert {"RUN_START", "STEP_START", "STEP_SUCCESS", "RUN_SUCCESS"} <= set(events)
    assert events["STEP_START"]["step"] == "step"
    assert events["STEP_START"]["message"] == 'Started execution of step "step".'
    assert {line["run_id"] for line in lines} == {result.run_id}


def test_a_run_in_text_names_its_run_and_step(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(), io.StringIO())

    message, result, _ = run_with_dagster_capturing("text")

    [line] = [line for line in capsys.readouterr().err.splitlines() if message in line]
    assert line.endswith(f" INFO  loaders.step [load 7 run {result.run_id} step step] inside a step")


# --- a whole `warehouse run` in a pipe -----------------------------------------------------

ANSI_ESCAPE = "\x1b["
LOADER_LINE = re.compile(r"load \d+ of (\S+): \d+ rows loaded, \d+ rejected")


@pytest.fixture(scope="module")
def piped_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess]:
    """`warehouse run` with WAREHOUSE_LOG_FORMAT=json over the sample data, then
    `warehouse verify` in text, both with stdout and stderr going to pipes."""
    from tests.conftest import SAMPLE_DATA

    root = tmp_path_factory.mktemp("piped")
    (root / "data").mkdir()
    for dump in sorted(SAMPLE_DATA.glob("*")):
        if dump.suffix in (".json", ".csv"):
            shutil.copy2(dump, root / "data" / dump.name)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WAREHOUSE_", "DAGSTER_"))}
    env.update({"WAREHOUSE_DATA_DIR": str(root / "data"), "WAREHOUSE_DUCKDB_PATH": str(root / "w.duckdb"),
                "WAREHOUSE_DAGSTER_HOME": str(root / "dagster_home"),
                "WAREHOUSE_AUTOMATION_ENABLED": "false"})
    warehouse = str(Path(sys.executable).parent / "warehouse")
    runs = {}
    for command, log_format in (("run", "json"), ("verify", "text")):
        runs[command] = subprocess.run([warehouse, command], env={**env, "WAREHOUSE_LOG_FORMAT": log_format},
                                       cwd=root, capture_output=True, text=True, timeout=900, check=False)
        assert runs[command].returncode == 0, runs[command].stderr[-3000:]
    return runs


def test_every_line_of_a_json_run_on_stderr_is_a_json_object(piped_runs: dict) -> None:
    lines = [line for line in piped_runs["run"].stderr.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    loggers = {line["logger"] for line in parsed}
    # The loaders', Dagster's own and dbt's lines, all of them JSON.
    assert {"loaders.pipeline", "dagster", "dbt"} <= loggers
    assert all(line["run_id"] for line in parsed if line["logger"] in ("dagster", "dbt"))
    dbt_nodes = [line for line in parsed if line["logger"] == "dbt" and line.get("node")]
    assert any(line["event"] == "LogTestResult" and line["status"] == "warn" for line in dbt_nodes)


def test_each_loader_line_is_printed_once(piped_runs: dict) -> None:
    files = [json.loads(line)["message"] for line in piped_runs["run"].stderr.splitlines()
             if LOADER_LINE.search(line)]
    assert sorted(LOADER_LINE.search(message)[1] for message in files) == [
        "assets.json", "measurements_001.csv", "measurements_002.csv", "signal.json"]


def test_piped_output_carries_no_colour_codes(piped_runs: dict) -> None:
    for run in piped_runs.values():
        assert ANSI_ESCAPE not in run.stdout
        assert ANSI_ESCAPE not in run.stderr


def test_dbt_lines_in_a_pipe_are_plain_log_lines(piped_runs: dict) -> None:
    dbt_lines = [line for line in piped_runs["verify"].stderr.splitlines() if " INFO  dbt [" in line]
    passes = [line for line in dbt_lines if re.search(r"\] \d+ of \d+ PASS ", line)]
    assert len(passes) > 40
    assert any("] Done. PASS=" in line for line in dbt_lines)  # dbt's summary, one log line
    assert "checks:" in piped_runs["verify"].stdout
