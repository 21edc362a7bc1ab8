"""Checks of the raw tables against the load ledger, run after every load.

`ledger_reconciles`: each table holds exactly the rows the ledger says its current loads
wrote, no more, no fewer; blocking, since dbt would build on a miscount. The one
reconciliation of raw against the ledger, for every dump kind of the registry. A refresh
checks the loads it added or removed (those the marts do not reflect yet, from
refresh_state), so its cost follows what arrived; `verify`, `reseed` and a warehouse
never built check every load.
`rejected_share_below_threshold`: the share of refused rows stays under
`settings.max_rejected_share`, so a dump that went bad shows as a failed check. It is an
error for the measurement dumps; for assets.json and signal.json, a few dozen records
where one bad record is already several percent, it warns (what a missing signal costs
shows in dbt's orphan-readings test).
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg

from loaders.dump_kinds import DUMP_KINDS
from orchestration.defs.ingest.assets import DATA_TABLES, RAW_KEYS
from orchestration.defs.ingest.ledger_queries import (
    changed_load_ids,
    current_load_count,
    mismatches,
    rejected_share,
    top_reject_reasons,
)
from orchestration.defs.table_metadata import markdown_table
from kernel.settings import Settings

if TYPE_CHECKING:
    from kernel.database import Database

KIND_OF_TABLE = {table: kind for kind, table in DATA_TABLES.items()}
# rejected_rows reconciles against every current load's rows_rejected (kind None).
RECONCILED_TABLES: dict[str, str | None] = {**KIND_OF_TABLE, "rejected_rows": None}
SHARE_SEVERITY = {kind.name: dg.AssetCheckSeverity.WARN if kind.reference else dg.AssetCheckSeverity.ERROR
                  for kind in DUMP_KINDS}
SHOWN_MISMATCHES = 10
# Jobs whose reconciliation covers every load, whatever changed.
FULL_SCOPE_JOBS = {"verify", "reseed"}


def _reconcile_spec(table: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "ledger_reconciles", asset=RAW_KEYS[table], blocking=True,
        description=f"raw.{table} holds exactly the rows the ledger's current loads account for.")


def _share_spec(table: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "rejected_share_below_threshold", asset=RAW_KEYS[table],
        description="Rows refused by the loader stay under WAREHOUSE_MAX_REJECTED_SHARE of the rows read.")


@dg.multi_asset_check(
    name="raw_table_checks",
    specs=[*(_reconcile_spec(table) for table in RECONCILED_TABLES),
           *(_share_spec(table) for table in DATA_TABLES.values())],
    can_subset=True,
)
def raw_table_checks(
    context: dg.AssetCheckExecutionContext, settings: dg.ResourceParam[Settings]
) -> Iterator[dg.AssetCheckResult]:
    from kernel.database import connect

    with connect(settings.warehouse, "loader", read_only=True) as sink:
        scope = None if context.run.job_name in FULL_SCOPE_JOBS else changed_load_ids(sink)
        for check_key in context.selected_asset_check_keys:
            table = check_key.asset_key.path[-1]
            if check_key.name == "ledger_reconciles":
                yield reconcile(sink, table, RECONCILED_TABLES[table], scope)
            else:
                yield share_under_threshold(sink, table, KIND_OF_TABLE[table],
                                            settings.max_rejected_share)


def reconcile(sink: "Database", table: str, kind: str | None,
              load_ids: "list[int] | None" = None) -> dg.AssetCheckResult:
    """raw.<table> against the ledger: every load, or those of `load_ids` (a refresh's)."""
    wrong = mismatches(sink, table, kind, load_ids)
    metadata: dict[str, Any] = {
        "scope": "every load" if load_ids is None else f"{len(load_ids)} loads changed by this run",
        "loads_checked": current_load_count(sink, kind) if load_ids is None else len(load_ids),
        "loads_mismatched": len(wrong),
    }
    if wrong:
        metadata["mismatches"] = dg.MetadataValue.md(markdown_table(
            ("load_id", "rows in ledger", f"rows in raw.{table}"),
            [(m.load_id, "not a current load" if m.expected is None else f"{m.expected:,}", f"{m.found:,}")
             for m in wrong[:SHOWN_MISMATCHES]]))
    return dg.AssetCheckResult(asset_key=RAW_KEYS[table], check_name="ledger_reconciles",
                               passed=not wrong, metadata=metadata)


def share_under_threshold(
    sink: "Database", table: str, kind: str, threshold: float
) -> dg.AssetCheckResult:
    share = rejected_share(sink, kind)
    metadata: dict[str, Any] = {
        "rejected_share": round(share.share, 6),
        "threshold": threshold,
        "rows_read": share.rows_read,
        "rows_rejected": share.rows_rejected,
    }
    reasons = top_reject_reasons(sink, kind)
    if reasons:
        metadata["top_reasons"] = dg.MetadataValue.md(markdown_table(("reason", "rows"), reasons))
    return dg.AssetCheckResult(asset_key=RAW_KEYS[table], check_name="rejected_share_below_threshold",
                               passed=share.share <= threshold, severity=SHARE_SEVERITY[kind],
                               metadata=metadata)
