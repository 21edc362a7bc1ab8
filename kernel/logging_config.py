"""The warehouse's one logging setup, for the CLI, the loaders and Dagster runs alike.

`configure_logging(settings)` is called once by each entry point. Lines are
human-readable by default and JSON objects, one per line, when
WAREHOUSE_LOG_FORMAT=json. Every line names the load and the Dagster run it belongs to
(`-`/null when none): bind them with `log_context(load_id=..., run_id=...)`; inside a
Dagster step the run id is also picked up by itself. Dagster copies the same lines into
its run logs for the loggers the instance lists under `python_logs:
managed_python_loggers` (deploy/dagster/dagster.yaml lists these `LOGGERS`).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernel.settings import Settings

LOGGERS = ("kernel", "loaders", "warehouse", "orchestration")
CONTEXT_FIELDS = ("load_id", "run_id")

_context: ContextVar[dict[str, object]] = ContextVar("warehouse_log_context", default={})  # noqa: B039 (never mutated)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Attach fields (load_id, run_id) to every line logged inside the block, in this thread."""
    token = _context.set({**_context.get(), **{key: value for key, value in fields.items() if value is not None}})
    try:
        yield
    finally:
        _context.reset(token)


_run_id_sources: list[Callable[[], str | None]] = []


def add_run_id_source(source: Callable[[], str | None]) -> None:
    """Let the orchestrator name the run a line belongs to when nobody bound one.

    The kernel knows nothing of Dagster; the orchestration package registers how to ask
    it for the current step's run (orchestration/__init__.py).
    """
    if source not in _run_id_sources:
        _run_id_sources.append(source)


def _current_run_id() -> str | None:
    for source in _run_id_sources:
        run_id = source()
        if run_id:
            return run_id
    return None


class ContextFilter(logging.Filter):
    """Puts the bound context on every record, so formatters can rely on its fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        for field in CONTEXT_FIELDS:
            if getattr(record, field, None) is None:
                setattr(record, field, context.get(field))
        if record.run_id is None:
            record.run_id = _current_run_id()
        return True


class TextFormatter(logging.Formatter):
    """`2025-01-31 12:00:00 INFO  loaders.pipeline [load 7 run 3f2a…] message`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s [%(context)s] %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        record.context = " ".join(
            f"{field.removesuffix('_id')} {getattr(record, field, None) or '-'}" for field in CONTEXT_FIELDS)
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, load_id, run_id (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            line[field] = getattr(record, field, None)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(settings: Settings, stream: object = None) -> logging.Handler:
    """Send the warehouse's loggers to stderr (or `stream`) in the configured format.

    Idempotent: calling it again replaces the handler it installed before. Only the
    warehouse's own loggers get it; records still propagate, so pytest and Dagster see them.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler._gridwarehouse = True  # type: ignore[attr-defined]  # marks the handler to replace
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_gridwarehouse", False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(settings.log_level)
    return handler
