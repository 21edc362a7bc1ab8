"""`warehouse sql`: queries against the analysts' view, printed as a table, CSV or JSON.

The connection is `kernel.database.connect(warehouse, "reader")`: on DuckDB the analysts'
copy, read-only; on PostgreSQL the reader's login in a read-only session. A query comes
as an argument, from stdin when piped, or from an interactive prompt on a terminal.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kernel.database import DatabaseError, ResultSet, connect

if TYPE_CHECKING:
    from kernel.database import Database
    from kernel.settings import Settings

OutputFormat = Literal["table", "csv", "json"]
# A table on the terminal shows this many rows; csv and json print them all.
TABLE_MAX_ROWS = 1_000
PROMPT, CONTINUATION = "warehouse> ", "        -> "
QUIT_WORDS = {"\\q", "quit", "exit"}


@dataclass
class SqlSession:
    """One connection of the reader, reopened when a newer analysts' copy is published."""

    settings: Settings
    db: Database | None = None
    _opened_copy: tuple[int, int] | None = None

    def database(self) -> Database:
        if self.db is not None and self._copy_identity() != self._opened_copy:
            # A run published a new copy since: read that one from the next query on.
            self.close()
            err_console.print("[dim](a newer copy of the warehouse was published: reading it)[/]",
                              highlight=False)
        if self.db is None:
            self._opened_copy = self._copy_identity()
            self.db = connect(self.settings.warehouse, "reader")
            if self.db.dialect == "duckdb":
                # Its progress bar draws on stdout, in the middle of the CSV or JSON.
                self.db.execute("SET enable_progress_bar = false")
        return self.db

    def _copy_identity(self) -> tuple[int, int] | None:
        path = self.settings.warehouse.reader_path
        if self.settings.target != "duckdb" or path is None:
            return None
        try:
            status = os.stat(path)
        except FileNotFoundError:
            return None
        return status.st_dev, status.st_ino

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


out_console = Console()
err_console = Console(stderr=True)


def run_sql(settings: Settings, query: str | None, output_format: OutputFormat | None, *,
            debug: bool = False) -> int:
    """Run `query` (else stdin's, else a prompt) and print the results; the exit code."""
    output_format = output_format or ("table" if out_console.is_terminal else "csv")
    session = SqlSession(settings)
    try:
        if query is None and sys.stdin.isatty():
            return _interactive(session, output_format, debug=debug)
        script = query if query is not None else sys.stdin.read()
        if not script.strip():
            err_console.print("error: no query given (pass one as an argument or on stdin)",
                              highlight=False, soft_wrap=True)
            return 2
        try:
            _run_and_print(session, script, output_format)
        except DatabaseError as error:
            if debug:
                raise
            _print_error(error)
            return 1
        return 0
    finally:
        session.close()


def _run_and_print(session: SqlSession, script: str, output_format: OutputFormat) -> None:
    for result in session.database().run_script(script):
        if not result.columns:
            continue  # SET, a comment: nothing to show
        if output_format == "csv":
            write_csv(result, sys.stdout)
        elif output_format == "json":
            write_json(result, sys.stdout)
        else:
            print_table(result, out_console)
    sys.stdout.flush()


def _interactive(session: SqlSession, output_format: OutputFormat, *, debug: bool) -> int:
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    where = session.settings.warehouse
    source = where.reader_path if where.target == "duckdb" and where.reader_path else where.label
    err_console.print(f"reading {source} (read-only); end a query with ';', quit with \\q or Ctrl-D",
                      highlight=False, soft_wrap=True)
    for script in _statements_typed():
        try:
            _run_and_print(session, script, output_format)
        except DatabaseError as error:
            if debug:
                raise
            _print_error(error)
    return 0


def _statements_typed() -> Iterator[str]:
    """What the person types, one query at a time (a query ends with ';')."""
    lines: list[str] = []
    while True:
        try:
            line = input(CONTINUATION if lines else PROMPT)
        except EOFError:
            err_console.print()
            if lines:
                yield "\n".join(lines)
            return
        except KeyboardInterrupt:  # Ctrl-C drops the query being typed, as psql does
            err_console.print()
            lines = []
            continue
        if not lines and line.strip().lower() in QUIT_WORDS:
            return
        lines.append(line)
        if line.rstrip().endswith(";"):
            yield "\n".join(lines)
            lines = []


def _print_error(error: BaseException) -> None:
    message = " ".join(str(error).split())  # one line, whatever the driver sent
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


# --- the three formats ------------------------------------------------------------------

def print_table(result: ResultSet, console: Console, max_rows: int = TABLE_MAX_ROWS) -> None:
    table = Table(show_edge=False, header_style="bold")
    for column in result.columns:
        table.add_column(escape(column))
    shown, more = 0, False
    for batch in result.batches:
        for row in batch:
            if shown == max_rows:
                more = True
                break
            table.add_row(*(_cell(value) for value in row))
            shown += 1
        if more:
            break
    console.print(table)
    if more:
        err_console.print(f"[dim]first {max_rows:,} rows shown; --format csv prints them all[/]",
                          highlight=False)
    else:
        err_console.print(f"[dim]({shown:,} row{'s' if shown != 1 else ''})[/]", highlight=False)


def _cell(value: Any) -> str:
    if value is None:
        return "[dim]NULL[/]"
    return escape(str(value))


def write_csv(result: ResultSet, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    for batch in result.batches:
        writer.writerows(batch)


def write_json(result: ResultSet, out: TextIO) -> None:
    """A JSON array of objects, one per row, written as the rows arrive."""
    out.write("[")
    first = True
    for batch in result.batches:
        for row in batch:
            out.write("\n" if first else ",\n")
            out.write(json.dumps(dict(zip(result.columns, row, strict=True)), default=_json_value,
                                 ensure_ascii=False))
            first = False
    out.write("\n]\n" if not first else "]\n")


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)  # intervals, UUIDs, anything else: as the database prints it
