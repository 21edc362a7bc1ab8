"""The console logger of the runs this process executes (`warehouse run`, `verify`, `reseed`).

Dagster prints a run's lines (its events, `context.log`, and the warehouse's own loggers
it captures) through the run's loggers; this one writes them in the warehouse's format,
so that WAREHOUSE_LOG_FORMAT=json makes every line JSON, Dagster's included, each with
the run id and the step, and every loader line still carries its load id.
"""

from __future__ import annotations

import logging
from typing import Any

import dagster as dg

from kernel.logging_config import make_handler


class DagsterLineFilter(logging.Filter):
    """Turns Dagster's line into the warehouse's fields: the message as it was logged,
    the run, the step, the event type, and the logger that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        meta: dict[str, Any] | None = getattr(record, "dagster_meta", None)
        if meta is None:
            return True
        event = meta.get("dagster_event")
        message = meta.get("orig_message") or record.getMessage()
        error = getattr(getattr(event, "event_specific_data", None), "error", None) if event else None
        if error is not None:
            message = f"{message}\n{error.to_string()}".rstrip()
        record.msg, record.args = message, ()
        record.run_id = meta.get("run_id")
        record.step = meta.get("step_key")
        record.event = event.event_type.name if event is not None else None  # RUN_START, STEP_SUCCESS, ...
        # Set by kernel.logging_config when the line came from one of the warehouse's loggers.
        record.name = getattr(record, "origin", None) or "dagster"
        return True


@dg.logger(
    config_schema={
        "log_level": dg.Field(str, default_value="INFO", description="The logger's threshold."),
        "log_format": dg.Field(str, default_value="text", description="text or json."),
    },
    description="The run's lines on stderr in the warehouse's format (WAREHOUSE_LOG_FORMAT).",
)
def warehouse_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    # A logger of its own, not registered by name: Dagster alone calls it.
    logger = logging.Logger("dagster", level=init_context.logger_config["log_level"])
    handler = make_handler(init_context.logger_config["log_format"])
    handler.filters.insert(0, DagsterLineFilter())
    logger.addHandler(handler)
    return logger
