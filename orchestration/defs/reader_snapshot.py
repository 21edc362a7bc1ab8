"""When a run publishes the analysts' copy of a DuckDB warehouse (kernel.reader_snapshot).

The last writing step of a run publishes it when that step succeeds: the dbt step in
`refresh`, `reseed` and `verify` (on every path, a skipped build included, so a missing
or stale copy is made good), the raw step in a run without dbt (raw tables materialized
on their own). Every way a run starts (`warehouse run`, the UI, the schedule, the dump
sensor) goes through those steps, and a failed step publishes nothing: analysts keep the
last good copy. Outside the asset graph on purpose: it is a copy of the whole file, not
a data asset of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from orchestration.defs.warehouse_access import (
    WRITER_LOCK_WAIT_SECONDS,
    exclusive_writer,
    retrying_transient_errors,
)

if TYPE_CHECKING:
    from kernel.settings import Settings


def publish_for_analysts(context: dg.OpExecutionContext, settings: Settings) -> None:
    """Replace the analysts' copy if the warehouse changed since it was made.

    Costs a stat of two files when nothing changed; otherwise a file copy under the
    writer lock (a transient error there retries the step, like any other).
    """
    from kernel.reader_snapshot import publish_reader_snapshot, snapshot_is_current

    if snapshot_is_current(settings.warehouse):
        return
    with retrying_transient_errors(context), exclusive_writer(context, settings):
        published = publish_reader_snapshot(settings.warehouse, wait_seconds=WRITER_LOCK_WAIT_SECONDS,
                                            run_id=context.run.run_id)
    if published is not None:
        context.log.info(str(published))


def run_has_dbt_step(context: dg.OpExecutionContext) -> bool:
    """Whether a dbt step comes later in this run (then that step publishes)."""
    # Imported here: the automation package imports the ingest assets, which call this.
    from orchestration.defs.automation.jobs import DBT_STEP

    return any(node.name == DBT_STEP for node in context.job_def.nodes_in_topological_order)
