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


def record_failures(settings: Settings, failures: Sequence[RunFailure]) -> None:
    """Append the failures to ops.run_failures (creating the table if need be)."""
    if not failures:
        return
    from kernel.database import connect
    from kernel.ops import migrate_ops
    from orchestration.defs.warehouse_access import is_transient

    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            with connect(settings.warehouse, "loader") as db:
                migrate_ops(db)
                with db.transaction():
                    for failure in failures:
                        db.execute(
                            f"INSERT INTO ops.run_failures ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
                            tuple(getattr(failure, column) for column in COLUMNS))
            return
        except Exception as error:
            if attempt == RECORD_ATTEMPTS or not is_transient(error):
                raise
            log.warning("recording run failure, attempt %d: %s", attempt, error)
            time.sleep(RECORD_RETRY_SECONDS)


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
