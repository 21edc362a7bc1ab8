"""The lines of the runs this process executes (`warehouse run`, `verify`, `reseed`) in the
warehouse's format.

Dagster prints a run's lines (its events, `context.log`, and the warehouse's own loggers
it captures) through the run's loggers (orchestration.runs.terminal_logger); this filter
turns each into the warehouse's fields, so that WAREHOUSE_LOG_FORMAT=json makes every
line JSON, Dagster's included, each with the run id and the step, and a loader line
still carries its logger's name and its load id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any


def full_error(message: str, error: Any) -> str:
    """The message and the error with its stack trace, as Dagster's own console prints them."""
    return f"{message}\n\n{error.to_string()}".rstrip()


class DagsterLineFilter(logging.Filter):
    """Turns Dagster's line into the warehouse's fields: the message as it was logged,
    the run, the step, the event type, and the logger that logged it."""

    def __init__(self, error_text: Callable[[str, Any], str] = full_error):
        super().__init__()
        self.error_text = error_text

    def filter(self, record: logging.LogRecord) -> bool:
        meta: dict[str, Any] | None = getattr(record, "dagster_meta", None)
        if not isinstance(meta, dict):
            return True
        event = meta.get("dagster_event")
        message = str(meta.get("orig_message") or record.getMessage())
        error = getattr(getattr(event, "event_specific_data", None), "error", None) if event else None
        if error is not None:
            message = self.error_text(message, error)
        record.msg, record.args, record.exc_info = message, (), None
        record.run_id = meta.get("run_id")
        record.step = meta.get("step_key")
        record.event = event.event_type.name if event is not None else None  # RUN_START, STEP_SUCCESS, ...
        # Set by kernel.logging_config when the line came from one of the warehouse's loggers.
        record.name = getattr(record, "origin", None) or "dagster"
        return True
