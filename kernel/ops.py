"""The `ops` schema: the warehouse's operational tables (run failures), apart from the data.

`raw` holds what the operator shipped, `staging`/`analytics` what dbt made of it; what the
warehouse records about its own runs lives here, with migrations of its own
(kernel/ops_migrations/). Writers migrate it (`migrate_ops`); readers never do, and find
an empty history where it does not exist yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kernel.migrations import apply_migrations

if TYPE_CHECKING:
    from kernel.database import Database

OPS_MIGRATIONS_DIR = Path(__file__).resolve().parent / "ops_migrations"
RUN_FAILURE_COLUMNS = ("run_id", "job_name", "step_key", "error", "failed_at")


def migrate_ops(db: Database) -> list[str]:
    """Apply the ops schema's missing migrations; return the versions applied now."""
    applied = apply_migrations(db, OPS_MIGRATIONS_DIR, schema="ops")
    _adopt_raw_run_failures(db)
    return applied


def _adopt_raw_run_failures(db: Database) -> None:
    # The first versions kept run failures in raw.run_failures: move their rows here once.
    if not db.table_exists("raw", "run_failures"):
        return
    columns = ", ".join((*RUN_FAILURE_COLUMNS, "recorded_at"))
    with db.transaction():
        db.execute(f"INSERT INTO ops.run_failures ({columns}) SELECT {columns} FROM raw.run_failures")
        db.execute("DROP TABLE raw.run_failures")
