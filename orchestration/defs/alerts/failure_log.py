"""Where a failed run goes: a row per failed step in `ops.run_failures`, and a webhook.

The table is the operator's record (`SELECT * FROM ops.run_failures ORDER BY failed_at
DESC`, or `warehouse failures`); the webhook, when WAREHOUSE_FAILURE_WEBHOOK_URL is set, gets the same rows as
JSON, one POST per failed run.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from kernel.ops import RUN_FAILURE_COLUMNS

if TYPE_CHECKING:
    from kernel.settings import Settings

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10
# The failure sensor may find DuckDB held by a run that just started; wait for it briefly.
RECORD_ATTEMPTS = 5
RECORD_RETRY_SECONDS = 3.0
COLUMNS = RUN_FAILURE_COLUMNS


@dataclass(frozen=True)
class RunFailure:
    run_id: str
    job_name: str
    step_key: str | None  # None: the run failed outside any step
    error: str
    failed_at: datetime


# Serialises the recorders of one PostgreSQL warehouse (the run, the sensor, `warehouse
# failures`), so that "insert unless recorded" holds across processes. DuckDB admits one
# writing process at a time by itself.
RECORD_LOCK_KEY = 0x6F70735F72756E  # "ops_run"


def record_failures(settings: Settings, failures: Sequence[RunFailure], *,
                    attempts: int = RECORD_ATTEMPTS) -> int:
    """Add the failures that ops.run_failures lacks (one row per run and step, whoever
    records it first), creating the table if need be; return how many were added."""
    if not failures:
        return 0
    from kernel.database import connect
    from kernel.ops import migrate_ops
    from orchestration.defs.warehouse_access import is_transient

    for attempt in range(1, attempts + 1):
        try:
            with connect(settings.warehouse, "loader") as db:
                migrate_ops(db)
                with db.transaction():
                    if db.dialect == "postgres":
                        db.execute("SELECT pg_advisory_xact_lock(?)", (RECORD_LOCK_KEY,))
                    added = 0
                    for failure in failures:
                        values = tuple(getattr(failure, column) for column in COLUMNS)
                        if db.execute("SELECT 1 FROM ops.run_failures WHERE run_id = ? "
                                      "AND step_key IS NOT DISTINCT FROM ?",
                                      (failure.run_id, failure.step_key)):
                            continue
                        db.execute(f"INSERT INTO ops.run_failures ({', '.join(COLUMNS)}) "
                                   "VALUES (?, ?, ?, ?, ?)", values)
                        added += 1
            return added
        except Exception as error:
            if attempt == attempts or not is_transient(error):
                raise
            log.warning("recording run failure, attempt %d: %s", attempt, error)
            time.sleep(RECORD_RETRY_SECONDS)
    return 0


def recorded_run_ids(settings: Settings, run_ids: Sequence[str]) -> set[str]:
    """Those of `run_ids` that ops.run_failures holds a row of."""
    from kernel.database import connect

    if not run_ids or (settings.target == "duckdb" and not settings.duckdb_path.exists()):
        return set()
    with connect(settings.warehouse, "loader", read_only=True) as db:
        if not db.table_exists("ops", "run_failures"):
            return set()
        placeholders = ", ".join("?" for _ in run_ids)
        return {run_id for (run_id,) in db.execute(
            f"SELECT DISTINCT run_id FROM ops.run_failures WHERE run_id IN ({placeholders})", tuple(run_ids))}


def recorded_failures(settings: Settings, limit: int = 20) -> list[RunFailure]:
    """The latest recorded failures, newest first (none before the first was recorded)."""
    from kernel.database import connect

    if settings.target == "duckdb" and not settings.duckdb_path.exists():
        return []
    with connect(settings.warehouse, "loader", read_only=True) as db:
        if not db.table_exists("ops", "run_failures"):
            return []
        rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM ops.run_failures "
                          "ORDER BY failed_at DESC, run_id, step_key LIMIT ?", (limit,))
    return [RunFailure(*row) for row in rows]


def post_failures(url: str, failures: Sequence[RunFailure]) -> None:
    """POST the failures of one run as JSON: {"run_id", "job_name", "failures": [...]}."""
    if not failures:
        return
    body = {
        "run_id": failures[0].run_id,
        "job_name": failures[0].job_name,
        "failures": [{**asdict(failure), "failed_at": failure.failed_at.isoformat()} for failure in failures],
    }
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        response.read()
