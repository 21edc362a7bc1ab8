"""How Dagster steps touch the warehouse: one writer at a time, transient errors retried.

Three layers keep warehouse-writing runs from overlapping: the run queue admits one run
tagged as a writer at a time (dagster.yaml), the writing assets share one concurrency
pool, and the database itself refuses a second writer (DuckDB's file lock, PostgreSQL's
advisory lock) as the backstop when something starts outside Dagster's queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from warehouse.settings import Settings

WAREHOUSE_POOL = "warehouse"
"""Concurrency pool of every asset that writes to the warehouse (limit 1 in dagster.yaml)."""

WRITER_TAG_KEY = "gridwarehouse/writes"
WRITER_RUN_TAGS = {WRITER_TAG_KEY: "warehouse"}
"""Tags of the jobs that write; the run queue admits one run with them at a time."""

MAX_RETRIES = 4
FIRST_RETRY_DELAY_SECONDS = 5.0
WRITER_LOCK_WAIT_SECONDS = 60.0

# Messages of errors that go away by themselves: another writer holds the database, the
# server restarts, a deadlock victim. Matched in dbt's output, which arrives as text.
TRANSIENT_MESSAGES = (
    "could not set lock on file",
    "conflicting lock is held",
    "connection refused",
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "the database system is starting up",
    "the database system is shutting down",
    "deadlock detected",
    "could not serialize access",
    "writer lock",
)


def is_transient(error: BaseException) -> bool:
    """Whether retrying the step later can succeed without anyone fixing anything."""
    import duckdb
    import psycopg

    from loaders.errors import WarehouseBusyError

    if isinstance(error, WarehouseBusyError | psycopg.OperationalError):
        return True
    if isinstance(error, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return True
    if isinstance(error, duckdb.IOException | duckdb.ConnectionException):
        return True
    return is_transient_message(str(error))


def is_transient_message(message: str) -> bool:
    lowered = message.lower()
    return any(fragment in lowered for fragment in TRANSIENT_MESSAGES)


def retry_later(context: dg.OpExecutionContext, error: BaseException) -> dg.RetryRequested:
    """The step's retry request, waiting twice as long as the time before."""
    delay = FIRST_RETRY_DELAY_SECONDS * 2 ** context.retry_number
    context.log.warning(f"transient warehouse error, retry {context.retry_number + 1} of {MAX_RETRIES} "
                        f"in {delay:.0f} s: {error}")
    return dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=delay)


@contextmanager
def retrying_transient_errors(context: dg.OpExecutionContext) -> Iterator[None]:
    """Turn a transient database error inside the block into a retry with backoff."""
    try:
        yield
    except Exception as error:
        if not is_transient(error):
            raise
        raise retry_later(context, error) from error


@contextmanager
def exclusive_writer(settings: Settings) -> Iterator[None]:
    """Hold the warehouse's writer lock while another process (dbt) writes to it.

    The loaders take the same lock themselves, so a load and a dbt build of two runs
    can never interleave on PostgreSQL even if the run queue were bypassed.
    """
    if settings.target == "postgres":
        from loaders.sinks.postgres import PostgresSink

        sink = PostgresSink(settings.require_pg_dsn(), lock_timeout_seconds=WRITER_LOCK_WAIT_SECONDS)
        with sink, sink.writer_lock():
            yield
        return
    import duckdb

    # DuckDB's lock is the file itself, taken by whoever opens it to write. Probe it
    # here so a busy warehouse means a retry rather than a half-run dbt build.
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(settings.duckdb_path)).close()
    yield
