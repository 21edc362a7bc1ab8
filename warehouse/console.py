"""What the CLI shows on a terminal: load progress and the per-file result table."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from loaders.pipeline import FileLoadResult

# Results go to stdout (they are the command's answer); progress goes to stderr.
console = Console()
progress_console = Console(stderr=True)


class LoadProgress:
    """One live status line per file being loaded: rows read and rows per second."""

    def __init__(self, min_interval: float = 0.5):
        self.min_interval = min_interval
        self._last_shown = time.monotonic()
        self._status = None

    def __enter__(self) -> LoadProgress:
        if progress_console.is_terminal:
            self._status = progress_console.status("loading…")
            self._status.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc_info)

    def update(self, source_file: str, rows_read: int, seconds: float) -> None:
        now = time.monotonic()
        if now - self._last_shown < self.min_interval:
            return
        self._last_shown = now
        rate = rows_read / seconds if seconds > 0 else 0.0
        message = f"{source_file}: {rows_read:,} rows read, {rate:,.0f} rows/s"
        if self._status is not None:
            self._status.update(message)
        else:
            print(message, file=sys.stderr, flush=True)


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
