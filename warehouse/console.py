"""What the CLI shows: load progress, dbt's progress, and the per-file result table.

On a terminal progress is drawn live on stderr; in a pipe or a file it is logged as lines
(text or JSON, WAREHOUSE_LOG_FORMAT), never drawn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from loaders.pipeline import FileLoadResult

# Results go to stdout (they are the command's answer); progress goes to stderr.
console = Console()
progress_console = Console(stderr=True)
log = logging.getLogger(__name__)


class LoadProgress:
    """One live status line per file being loaded: rows read and rows per second.

    Updates come after every batch and are thinned out to one per `min_interval`; the
    first of a file and its last (`done`, the file's final count) are always shown. In a
    pipe a file's progress is logged only once it has taken longer than `min_interval`.
    """

    def __init__(self, min_interval: float = 0.5, console: Console | None = None):
        self.min_interval = min_interval
        self.console = console or progress_console
        self.shown: str | None = None  # the last line shown or logged
        self._last_shown = time.monotonic()
        self._file: str | None = None
        self._shown_for_file = False
        self._status = None

    def __enter__(self) -> LoadProgress:
        if self.console.is_terminal:
            self._status = self.console.status("loading…")
            self._status.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc_info)

    def update(self, source_file: str, rows_read: int, seconds: float, *, done: bool = False) -> None:
        now = time.monotonic()
        new_file = source_file != self._file
        if new_file:
            self._file, self._shown_for_file = source_file, False
            if self._status is None:
                self._last_shown = now
        if self._status is not None:
            due = new_file or done or now - self._last_shown >= self.min_interval
        elif done:
            due = self._shown_for_file  # a quick file's count is in its result line
        else:
            due = now - self._last_shown >= self.min_interval
        if not due:
            return
        self._last_shown = now
        self._shown_for_file = True
        rate = rows_read / seconds if seconds > 0 else 0.0
        message = self.shown = f"{source_file}: {rows_read:,} rows read, {rate:,.0f} rows/s"
        if self._status is not None:
            self._status.update(message)
        else:
            log.info("%s", message)


class DbtProgress(logging.Handler):
    """dbt's lines on a terminal: its per-node lines as one progress bar, the others as
    they come (the header, the run's summary), and a node's line whenever it warns or
    fails. Installed on the `dbt` logger by `dbt_progress_on_terminal`."""

    def __init__(self, console: Console):
        super().__init__()
        self.console = console
        self._progress: Progress | None = None
        self._task = None
        self._done = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            index = getattr(record, "dbt_index", None)
            if index is not None and getattr(record, "dbt_resource", None) != "operation":
                self._advance(record)
            if index is not None and record.levelno < logging.WARNING:
                return  # a node's (or a hook's) START/OK/PASS line: the bar says it
            style = {logging.WARNING: "yellow", logging.ERROR: "bold red"}.get(record.levelno)
            target = self._progress.console if self._progress is not None else self.console
            target.print(record.getMessage(), style=style, markup=False, highlight=False, soft_wrap=True)
            if getattr(record, "event", None) == "FinishedRunningStats":
                self.close_bar()
        except Exception:
            self.handleError(record)

    def _advance(self, record: logging.LogRecord) -> None:
        total = getattr(record, "dbt_total", None)
        if self._progress is None:
            self._progress = Progress(TextColumn("dbt build"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TextColumn("{task.description}"),
                                      console=self.console)
            self._progress.start()
            self._task = self._progress.add_task("", total=total)
            self._done = 0
        if getattr(record, "event", "").endswith("Result"):  # LogModelResult, LogTestResult, ...
            self._done += 1
        node = str(getattr(record, "node", "") or "").split(".")
        name = node[2] if len(node) > 2 else ""
        self._progress.update(self._task, completed=self._done, total=total,
                              description=name if len(name) <= 40 else name[:39] + "…")
        if total is not None and self._done >= total:
            self.close_bar()

    def close_bar(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description="")
            self._progress.stop()
            self._progress = None

    def close(self) -> None:
        self.close_bar()
        super().close()


@contextmanager
def dbt_progress_on_terminal(log_format: str) -> Iterator[None]:
    """While the block runs, dbt's lines become `DbtProgress` when stderr is a terminal
    and lines are for people (text); elsewhere they stay plain log lines."""
    from kernel.logging_config import DBT_LOGGER, is_ours

    if log_format != "text" or not progress_console.is_terminal:
        yield
        return
    logger = logging.getLogger(DBT_LOGGER)
    plain = [handler for handler in logger.handlers if is_ours(handler)]
    drawn = DbtProgress(progress_console)
    for handler in plain:
        logger.removeHandler(handler)
    logger.addHandler(drawn)
    try:
        yield
    finally:
        logger.removeHandler(drawn)
        drawn.close()
        for handler in plain:
            logger.addHandler(handler)


def print_load_results(results: Sequence[FileLoadResult], *, target: str) -> None:
    table = Table(title=f"load into {target}", title_justify="left")
    for column in ("file", "status", "read", "loaded", "rejected", "seconds"):
        table.add_column(column, justify="left" if column in ("file", "status") else "right")
    styles = {"loaded": "green", "skipped": "dim", "failed": "bold red"}
    for result in results:
        table.add_row(
            result.source_file,
            f"[{styles[result.status]}]{result.status}[/]",
            f"{result.rows_read:,}", f"{result.rows_loaded:,}", f"{result.rows_rejected:,}",
            f"{result.seconds:.2f}",
        )
    if not results:
        table.caption = "no dump files found"
    console.print(table)
    for result in results:
        if result.error:
            # A loader's message names its file already; say it once.
            named = result.source_file in result.error
            console.print(result.error if named else f"{result.source_file}: {result.error}",
                          style="red", markup=False, highlight=False)
