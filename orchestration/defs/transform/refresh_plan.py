"""What the dbt step of a refresh has to do: nothing, an incremental build, or a full one.

The marts' bookkeeping lives in the warehouse's `refresh_state` schema (written by dbt's
run hooks, see dbt_project/macros/refresh_batch.sql). When every current load is applied,
no applied load is gone, no signal change is pending, and the dbt project is the one the
marts were built with, a refresh has nothing to build. When the project changed (a model,
a seed, a variable, the source time zone), rows that no load touched may be stale, so the
marts are rebuilt in full, once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kernel.settings import Settings

# The node kinds whose SQL decides the marts' rows (tests only check them).
BUILT_RESOURCE_TYPES = ("model", "seed", "snapshot")
STATE_TABLES = ("applied_loads", "load_coverage", "pending_signals")


@dataclass(frozen=True)
class RefreshPlan:
    mode: str  # 'skip', 'incremental' or 'full'
    reason: str


def project_fingerprint(manifest: Mapping[str, Any], settings: Settings) -> str:
    """A digest of everything in the dbt project that decides the marts' rows: the built
    nodes' SQL, the project's own macros, dbt_project.yml (variables, configs) and the
    source time zone."""
    from kernel.dbt_profiles import DBT_PROJECT_DIR

    digest = hashlib.sha256()
    for unique_id, node in sorted(manifest["nodes"].items()):
        if node["resource_type"] in BUILT_RESOURCE_TYPES:
            digest.update(f"{unique_id}:{node['checksum']['checksum']}\n".encode())
    project = manifest["metadata"].get("project_name")
    for unique_id, macro in sorted(manifest["macros"].items()):
        if macro["package_name"] == project:
            digest.update(f"{unique_id}:{macro['macro_sql']}\n".encode())
    digest.update((DBT_PROJECT_DIR / "dbt_project.yml").read_bytes())
    digest.update(f"source_timezone:{settings.source_timezone}".encode())
    return digest.hexdigest()


def plan_refresh(settings: Settings, fingerprint: str, *, full_refresh: bool) -> RefreshPlan:
    """Decide the dbt step of this run from the warehouse's refresh_state."""
    if full_refresh:
        return RefreshPlan("full", "a full refresh was asked for")
    from kernel.database import connect

    # refresh_state is dbt's: on PostgreSQL read and write it with dbt's own login.
    with connect(settings.warehouse, "transformer", read_only=True) as sink:
        existing = {name for (name,) in sink.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'refresh_state'")}
        if not {*STATE_TABLES, "applied_project"} <= existing:
            return RefreshPlan("incremental", "the marts have not been built with this version yet")
        (applied,) = sink.execute("SELECT max(fingerprint) FROM refresh_state.applied_project")[0]
        if applied != fingerprint:
            return RefreshPlan("full", "the dbt project changed since the marts were built "
                                       "(models, seeds, variables or the source time zone)")
        (pending,) = sink.execute(
            """SELECT count(*) FROM (
                   (SELECT load_id FROM raw.load_ledger WHERE status = 'loaded'
                    EXCEPT SELECT load_id FROM refresh_state.applied_loads)
                   UNION ALL
                   (SELECT load_id FROM refresh_state.applied_loads
                    EXCEPT SELECT load_id FROM raw.load_ledger WHERE status = 'loaded')
                   UNION ALL
                   (SELECT load_id FROM refresh_state.load_coverage
                    EXCEPT SELECT load_id FROM raw.load_ledger WHERE status = 'loaded')
                   UNION ALL
                   SELECT signal_id FROM refresh_state.pending_signals
               ) AS changes""")[0]
    if pending:
        return RefreshPlan("incremental", f"{pending} loads or signals changed since the last build")
    return RefreshPlan("skip", "nothing new: the marts reflect every current load and signal")


def record_applied_project(settings: Settings, fingerprint: str) -> None:
    """After a successful build: the project the marts now reflect."""
    from kernel.database import connect

    with connect(settings.warehouse, "transformer") as sink, sink.transaction():
        sink.execute("CREATE TABLE IF NOT EXISTS refresh_state.applied_project "
                     "(fingerprint varchar(64) NOT NULL, applied_at timestamp NOT NULL)")
        sink.execute("DELETE FROM refresh_state.applied_project")
        sink.execute("INSERT INTO refresh_state.applied_project VALUES (?, current_timestamp)", (fingerprint,))
