"""Where the project's own folders are: the checkout, its state folder and the dbt project."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Files the warehouse writes for itself: the DuckDB file, Dagster's history, locks.
STATE_DIR = PROJECT_ROOT / ".state"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
