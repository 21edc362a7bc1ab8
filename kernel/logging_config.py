"""The warehouse's one logging setup, for the CLI, the loaders and Dagster runs alike.

`configure_logging(settings)` is called once by each entry point (the CLI, the code
location). Lines are human-readable by default and JSON objects, one per line, when
WAREHOUSE_LOG_FORMAT=json. Every line names the load and the Dagster run it belongs to
(`-`/null when none): bind them with `log_context(load_id=..., run_id=...)`; inside a
Dagster step the run id is also picked up by itself. Dagster copies the same lines into
its run logs for the loggers the instance lists under `python_logs:
managed_python_loggers` (deploy/dagster/dagster.yaml lists these `LOGGERS`) and prints
them through the run's console logger; this module's handler then leaves them to it, so
each line is printed once (`add_capture_check`).
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
DBT_LOGGER = "dbt"
"""dbt's own output, line by line, relayed by the dbt step: printed, never copied into
Dagster's event log (130 lines a build), and drawn as a progress bar on a terminal."""
CONTEXT_FIELDS = ("load_id", "run_id")
# Set on some records only: the Dagster step and event of a run's line, dbt's event,
# node and status of a dbt line. JSON lines carry them when set.
OPTIONAL_FIELDS = ("step", "event", "node", "status")

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


_capture_checks: list[Callable[[logging.LogRecord], bool]] = []


def add_capture_check(captured: Callable[[logging.LogRecord], bool]) -> None:
    """Let the orchestrator say which records it prints itself.

    Inside a Dagster step Dagster copies the records of its managed loggers into the
    run's event log and prints them through the run's console logger; the handler of
    `configure_logging` printing them too is how every loader line came out twice.
    """
    if captured not in _capture_checks:
        _capture_checks.append(captured)


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


class NotCapturedFilter(logging.Filter):
    """Passes the records no orchestrator prints itself (see `add_capture_check`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not any(captured(record) for captured in _capture_checks):
            return True
        # Dagster hands the record's extra attributes on to its console logger, not its
        # logger's name: keep it there, so that line still names `loaders.pipeline`.
        record.origin = record.name
        return False


class TextFormatter(logging.Formatter):
    """`2025-01-31 12:00:00 INFO  loaders.pipeline [load 7 run 3f2a…] message`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s [%(context)s] %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        context = [f"{field.removesuffix('_id')} {getattr(record, field, None) or '-'}"
                   for field in CONTEXT_FIELDS]
        if getattr(record, "step", None):
            context.append(f"step {record.step}")
        record.context = " ".join(context)
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
        for field in OPTIONAL_FIELDS:
            if getattr(record, field, None) is not None:
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _StderrHandler(logging.StreamHandler):
    """A StreamHandler on whatever sys.stderr is when it writes, not when it was made:
    a live progress display on the terminal (rich) takes sys.stderr over meanwhile and
    prints the lines above itself."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def make_handler(log_format: str, stream: object = None) -> logging.Handler:
    """A handler writing lines in `log_format` (text or json) to `stream`, by default stderr."""
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    return handler


def is_ours(handler: logging.Handler) -> bool:
    """Whether `configure_logging` installed this handler."""
    return getattr(handler, "_gridwarehouse", False)


def configure_logging(settings: Settings, stream: object = None) -> logging.Handler:
    """Send the warehouse's loggers and dbt's lines to stderr (or `stream`) in the configured format.

    Idempotent: calling it again replaces the handler it installed before. Only the
    warehouse's own loggers get it; records still propagate, so pytest and Dagster see them.
    """
    handler = make_handler(settings.log_format, stream)
    # Before the context filter: a record Dagster prints is not formatted here at all.
    handler.filters.insert(0, NotCapturedFilter())
    handler._gridwarehouse = True  # type: ignore[attr-defined]  # marks the handler to replace
    for name in (*LOGGERS, DBT_LOGGER):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if is_ours(h)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(settings.log_level)
    return handler
