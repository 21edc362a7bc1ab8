"""What the CLI draws: load progress that ends at each file's real count, and dbt's
per-node lines as one progress bar on a terminal."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import pytest
from rich.console import Console

from kernel.logging_config import DBT_LOGGER
from orchestration.defs.transform.dbt_output import log_dbt_event
from warehouse.console import DbtProgress, LoadProgress


def terminal() -> tuple[Console, io.StringIO]:
    output = io.StringIO()
    return Console(file=output, force_terminal=True, width=120), output


def test_the_terminal_line_ends_at_the_files_final_count_however_fast_the_updates_came() -> None:
    console, _ = terminal()
    # 1,000,000 rows in four batches faster than the display refreshes: only the first
    # batch would be shown, were the last not always shown.
    with LoadProgress(min_interval=60, console=console) as progress:
        for rows in (255_042, 510_084, 765_126, 1_000_000):
            progress.update("measurements_001.csv", rows, rows / 500_000)
        assert progress.shown.startswith("measurements_001.csv: 255,042 rows read")
        progress.update("measurements_001.csv", 1_000_000, 2.0, done=True)
        assert progress.shown == "measurements_001.csv: 1,000,000 rows read, 500,000 rows/s"


def test_each_new_file_shows_at_once_on_a_terminal() -> None:
    console, _ = terminal()
    with LoadProgress(min_interval=60, console=console) as progress:
        progress.update("measurements_001.csv", 1_000, 1.0, done=True)
        progress.update("measurements_002.csv", 2_000, 1.0)
        assert progress.shown.startswith("measurements_002.csv: 2,000 rows read")


def test_in_a_pipe_a_long_files_lines_end_at_its_final_count(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="warehouse.console"), \
            LoadProgress(min_interval=0.05) as progress:
        progress.update("measurements_001.csv", 250_000, 1.0)
        time.sleep(0.06)
        progress.update("measurements_001.csv", 500_000, 2.0)
        progress.update("measurements_001.csv", 750_000, 3.0)  # within min_interval: left out
        progress.update("measurements_001.csv", 1_000_000, 4.0, done=True)
    assert [record.getMessage() for record in caplog.records] == [
        "measurements_001.csv: 500,000 rows read, 250,000 rows/s",
        "measurements_001.csv: 1,000,000 rows read, 250,000 rows/s",
    ]


def test_in_a_pipe_a_quick_file_logs_no_progress(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="warehouse.console"), LoadProgress(min_interval=60) as progress:
        progress.update("assets.json", 12, 0.01)
        progress.update("assets.json", 12, 0.01, done=True)
    assert caplog.records == []


def dbt_event(name: str, message: str, level: str = "info", **data: object) -> dict:
    return {"info": {"name": name, "msg": message, "level": level}, "data": data}


def node_event(name: str, index: int, status: str, message: str, level: str = "info") -> dict:
    node = {"unique_id": f"test.gridwarehouse.check_{index}", "node_status": status, "resource_type": "test"}
    return dbt_event(name, message, level, index=index, total=3, node_info=node)


@pytest.fixture
def drawn() -> Iterator[io.StringIO]:
    """dbt's lines drawn by DbtProgress on a terminal, as `warehouse run` does on one."""
    console, output = terminal()
    logger = logging.getLogger(DBT_LOGGER)
    handler = DbtProgress(console)
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield output
    finally:
        handler.close()
        logger.handlers[:], logger.level, logger.propagate = saved


def test_dbt_node_lines_become_a_bar_while_warnings_and_the_summary_stay(drawn: io.StringIO) -> None:
    for event in [
        dbt_event("MainReportVersion", "Running with dbt=1.11.16"),
        node_event("LogStartLine", 1, "started", "1 of 3 START test check_1 .... [RUN]"),
        node_event("LogTestResult", 1, "pass", "1 of 3 PASS check_1 .... [PASS in 0.1s]"),
        node_event("LogStartLine", 2, "started", "2 of 3 START test check_2 .... [RUN]"),
        node_event("LogTestResult", 2, "warn", "2 of 3 WARN 50 check_2 .... [WARN 50 in 0.1s]", "warn"),
        node_event("LogStartLine", 3, "started", "3 of 3 START test check_3 .... [RUN]"),
        node_event("LogTestResult", 3, "pass", "3 of 3 PASS check_3 .... [PASS in 0.1s]"),
        dbt_event("FinishedRunningStats", "Finished running 3 data tests in 0.5s."),
        dbt_event("StatsLine", "Done. PASS=2 WARN=1 ERROR=0 SKIP=0 NO-OP=0 TOTAL=3"),
    ]:
        log_dbt_event(event)
    text = drawn.getvalue()
    assert "Running with dbt=1.11.16" in text
    assert "2 of 3 WARN 50 check_2" in text
    assert "3/3" in text
    assert "Done. PASS=2 WARN=1" in text
    assert "START" not in text and "1 of 3 PASS" not in text
