"""How Dagster steps touch the warehouse: one writer at a time, transient errors retried.

Two layers keep warehouse-writing runs from overlapping: the run queue admits one run
tagged as a writer at a time (dagster.yaml), and every writing step holds the warehouse's
writer lock (kernel.writer_lock), which also covers runs started outside the queue
(`warehouse run`, an ad-hoc materialization). No Dagster concurrency pool: a pool slot is
a row in Dagster's storage that a SIGKILLed holder never gives back, so every later run
would wait for it for ever; the writer lock dies with its holder.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from kernel.settings import Settings

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
# The reasons a *connection* fails that go away by themselves: another process holds the
# DuckDB file, or the server is starting or stopping. A refused port, an unknown host, a
# timeout or a wrong password do not; retrying them only delays the message for minutes.
TRANSIENT_CONNECT_MESSAGES = (
    "could not set lock on file",
    "conflicting lock is held",
    "the database system is starting up",
    "the database system is shutting down",
)


def is_transient(error: BaseException) -> bool:
    """Whether retrying the step later can succeed without anyone fixing anything."""
    import duckdb
    import psycopg

    from kernel.database import ConnectionFailed, WarehouseBusyError

    if isinstance(error, WarehouseBusyError):
        return True
    if isinstance(error, ConnectionFailed):
        # Matched against its own list: the message of a connection made for the writer lock
        # says "writer lock", which alone must not make an unreachable server worth waiting for.
        lowered = str(error).lower()
        return any(fragment in lowered for fragment in TRANSIENT_CONNECT_MESSAGES)
    if isinstance(error, psycopg.OperationalError):
        return True
    if isinstance(error, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return True
    if isinstance(error, duckdb.IOException | duckdb.ConnectionException):
        return True
    return is_transient_message(str(error))


def is_transient_message(message: str) -> bool:
    lowered = message.lower()
    return any(fragment in lowered for fragment in TRANSIENT_MESSAGES)


def retry_later(context: dg.OpExecutionContext, error: BaseException) -> BaseException:
    """What a step raises for a transient error: a retry request waiting twice as long as
    the time before, or, once MAX_RETRIES retries are spent, the error itself (so the step
    fails with its own message rather than Dagster's "Exceeded max_retries").

    `context.retry_number` counts the retries already made: 0 on the first attempt.
    """
    if context.retry_number >= MAX_RETRIES:
        context.log.warning(f"transient warehouse error after {MAX_RETRIES} retries, giving up: {error}")
        return error
    delay = FIRST_RETRY_DELAY_SECONDS * 2 ** context.retry_number
    context.log.warning(f"transient warehouse error, retry {context.retry_number + 1} of {MAX_RETRIES} "
                        f"in {delay:.0f} s: {error}")
    request = dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=delay)
    request.__cause__ = error
    return request


@contextmanager
def retrying_transient_errors(context: dg.OpExecutionContext) -> Iterator[None]:
    """Turn a transient database error inside the block into a retry with backoff."""
    try:
        yield
    except Exception as error:
        if not is_transient(error):
            raise
        raise retry_later(context, error)


@contextmanager
def exclusive_writer(context: dg.OpExecutionContext, settings: Settings) -> Iterator[None]:
    """Hold the warehouse's writer lock for a writing step (the loaders, dbt).

    Waits up to WRITER_LOCK_WAIT_SECONDS for another writer, then raises the transient
    WarehouseBusyError naming it (the step retries with backoff). The run first records
    its process, so that if it is killed while holding the lock a later run can tell it
    is dead (orchestration.defs.dead_runs).
    """
    from kernel.database import connect
    from kernel.writer_lock import writer_lock
    from orchestration.defs.dead_runs import record_process

    record_process(context.instance, context.run.run_id)
    with writer_lock(settings.warehouse, wait_seconds=WRITER_LOCK_WAIT_SECONDS, run_id=context.run.run_id):
        if settings.target == "duckdb":
            # A process outside the lock's protocol (an analyst's DuckDB shell, a dbt left
            # running by a killed run) holds the file itself: fail into a retry now rather
            # than halfway through a dbt build.
            connect(settings.warehouse, "loader").close()
        yield
