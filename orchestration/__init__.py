"""Dagster: wires the loaders and dbt into assets, checks, jobs, schedules and sensors."""

from __future__ import annotations

import logging
import sys

from kernel.logging_config import add_capture_check, add_run_id_source


def _dagster_run_id() -> str | None:
    # Only when Dagster is already loaded (a run worker): never import it for a CLI line.
    if "dagster" not in sys.modules:
        return None
    try:
        from dagster import OpExecutionContext

        return OpExecutionContext.get().run_id
    except Exception:  # outside a step there is no current context
        return None


def _captured_by_dagster(record: logging.LogRecord) -> bool:
    """Whether a Dagster step copies this record into its run's log, whose console logger
    prints it: Dagster's handler sits on the logger (or an ancestor it propagates to)
    while the step runs, or has already taken the record (it marks it `dagster_meta`)."""
    if "dagster" not in sys.modules:
        return False
    if hasattr(record, "dagster_meta"):
        return True
    # Private, and the one way to tell: dagster 1.13 has no public test for "captured".
    # tests/production/test_logging.py fails when an upgrade moves it.
    from dagster._core.log_manager import DagsterLogHandler

    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(isinstance(handler, DagsterLogHandler) for handler in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False


add_run_id_source(_dagster_run_id)
add_capture_check(_captured_by_dagster)
