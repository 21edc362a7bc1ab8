"""The raw tables as Dagster assets, produced by the loaders in one step.

One asset per raw table, keyed exactly as dbt names its sources (`raw/assets`, ...), each
depending on its dump files (`dumps/<kind>`, dump_files.py), so the UI draws a single
lineage graph from the dump files to the marts. The step calls
`loaders.pipeline.load_directory`; every materialization carries what that load did.
"""

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg

from kernel.settings import Settings
from loaders.dump_kinds import DUMP_KINDS, dump_kind
from orchestration.defs.ingest.dump_files import DUMP_KEYS, load_observation
from orchestration.defs.ingest.ledger_queries import current_rows_by_kind, rejected_rows_total
from orchestration.defs.reader_snapshot import publish_for_analysts, run_has_dbt_step
from orchestration.defs.table_metadata import Relation, describe, markdown_table
from orchestration.defs.warehouse_access import exclusive_writer, retrying_transient_errors

if TYPE_CHECKING:
    from loaders.pipeline import FileLoadResult

# Raw table per dump kind (the registry's), and the two bookkeeping tables every load writes to.
DATA_TABLES = {kind.name: kind.table for kind in DUMP_KINDS}
RAW_KEYS = {name: dg.AssetKey(["raw", name])
            for name in (*DATA_TABLES.values(), "rejected_rows", "load_ledger")}
KIND_OF_KEY = {RAW_KEYS[table]: kind for kind, table in DATA_TABLES.items()}

DESCRIPTIONS = {
    **{kind.table: kind.description for kind in DUMP_KINDS},
    "rejected_rows": "Every row a loader refused, with its file, line, raw text and reason.",
    "load_ledger": "One row per attempt to load a file: checksum, counts, status, error.",
}
PROGRESS_LOG_SECONDS = 10.0


class IngestConfig(dg.Config):
    """Launchpad config of the raw-table step (the `reseed` job fills it in)."""

    reseed: bool = False
    """Empty the raw tables and the ledger first, so every file is read again."""
    confirm: bool = False
    """Must be true for a reseed: it deletes every raw row before reloading."""


def _dump_deps(key: dg.AssetKey) -> list[dg.AssetKey]:
    """The dump files a raw table is read from: its kind's, or every kind's for the
    bookkeeping tables (dump_files.py)."""
    kind = KIND_OF_KEY.get(key)
    return [DUMP_KEYS[kind]] if kind else list(DUMP_KEYS.values())


@dg.multi_asset(
    name="raw_tables",
    specs=[
        dg.AssetSpec(key, group_name="raw", description=DESCRIPTIONS[key.path[-1]],
                     kinds={"python", "polars"}, skippable=True, deps=_dump_deps(key),
                     metadata={"dagster/table_name": f"raw.{key.path[-1]}"})
        for key in RAW_KEYS.values()
    ],
    can_subset=True,
)
def raw_tables(
    context: dg.AssetExecutionContext, config: IngestConfig, settings: dg.ResourceParam[Settings]
) -> Iterator[dg.MaterializeResult]:
    """Load new or changed dump files from the data folder (all of them on a reseed)."""
    from loaders.pipeline import load_directory, reset_raw

    selected = context.selected_asset_keys
    # The bookkeeping tables change with any load; a selection of only them loads everything.
    kinds = [KIND_OF_KEY[key] for key in selected if key in KIND_OF_KEY] or list(DATA_TABLES)
    if config.reseed and not config.confirm:
        raise dg.Failure("a reseed deletes every raw row and the ledger before reloading; "
                         "launch it with `confirm: true` in its run config", allow_retries=False)
    # The lock covers the reads for the metadata too: on DuckDB they open the file, which
    # another writer must not hold meanwhile.
    with retrying_transient_errors(context), exclusive_writer(context, settings):
        if config.reseed:
            context.log.warning("reseed: emptying the raw tables and the load ledger")
            reset_raw(settings.warehouse)
        results = load_directory(settings.warehouse, settings.data_path, batch_rows=settings.batch_rows,
                                 kinds=kinds, progress=_progress_logger(context))
        materializations = list(_materializations(settings, selected, results))

    for result in results:
        context.log.info(f"{result.source_file}: {result.status}, {result.rows_loaded:,} loaded, "
                         f"{result.rows_rejected:,} rejected in {result.seconds:.1f} s")
    # The dump files as this load found them, recorded before the tables built from them.
    # Dagster read the dumps' data versions when the step started, for the materializations
    # to name as their inputs; forgetting them makes it read these (private, and the one
    # way: tests/orchestration/test_full_build.py fails if an upgrade changes it).
    step = context.get_step_execution_context()
    for kind in kinds:
        files = [(r.source_file, r.size_bytes, r.sha256) for r in results if r.file_kind == kind]
        context.log_event(load_observation(dump_kind(kind), settings.data_path, files))
        step.wipe_input_asset_version_info(DUMP_KEYS[kind])
    yield from materializations

    failed = [result for result in results if result.status == "failed"]
    if failed:
        # The other files are loaded and reported above; the step still fails, so the
        # operator (and the failure sensor) sees which file and why.
        raise dg.Failure(
            description="could not load " + "; ".join(_named(r.source_file, r.error or "") for r in failed),
            metadata={"failed_files": [r.source_file for r in failed]},
            allow_retries=False,
        )
    if not run_has_dbt_step(context):
        publish_for_analysts(context, settings)


def _materializations(
    settings: Settings, selected: Sequence[dg.AssetKey], results: Sequence["FileLoadResult"]
) -> Iterator[dg.MaterializeResult]:
    from kernel.database import connect

    with connect(settings.warehouse, "loader", read_only=True) as sink:
        table_rows = current_rows_by_kind(sink)
        for key in RAW_KEYS.values():
            if key not in selected:
                continue
            table = key.path[-1]
            relation = Relation("raw", table)
            if key in KIND_OF_KEY:
                kind = KIND_OF_KEY[key]
                mine = [result for result in results if result.file_kind == kind]
                metadata = {**load_metadata(mine), **describe(sink, relation, rows=table_rows.get(kind, 0))}
            elif table == "rejected_rows":
                metadata = {"rows_rejected": sum(r.rows_rejected for r in results),
                            **describe(sink, relation, rows=rejected_rows_total(sink))}
            else:
                metadata = {**load_metadata(results), **describe(sink, relation)}
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)


def _named(source_file: str, error: str) -> str:
    # The loaders' errors mostly start with the file's name already: never say it twice.
    return error if error.startswith(source_file) else f"{source_file}: {error}"


def load_metadata(results: Sequence["FileLoadResult"]) -> dict[str, Any]:
    """What this run's load did for a set of files: counts, speed and the files themselves.

    Plain numbers, so the UI plots them over runs.
    """
    loaded = [result for result in results if result.status == "loaded"]
    rows_read = sum(result.rows_read for result in loaded)
    seconds = sum(result.seconds for result in loaded)
    files = markdown_table(
        ("file", "status", "rows loaded", "rows rejected", "seconds", "bytes", "sha256"),
        [(r.source_file, r.status, f"{r.rows_loaded:,}", f"{r.rows_rejected:,}", f"{r.seconds:.2f}",
          f"{r.size_bytes:,}", r.sha256) for r in results],
    )
    return {
        "rows_read": rows_read,
        "rows_loaded": sum(result.rows_loaded for result in loaded),
        "rows_rejected": sum(result.rows_rejected for result in loaded),
        "rows_per_second": round(rows_read / seconds, 1) if seconds > 0 else 0.0,
        "files_loaded": len(loaded),
        "files_skipped": sum(result.status == "skipped" for result in results),
        "files_failed": sum(result.status == "failed" for result in results),
        "files": dg.MetadataValue.md(files if results else "_no dump files of this kind_"),
    }


def _progress_logger(context: dg.AssetExecutionContext):
    """A line every PROGRESS_LOG_SECONDS of a long file, and its final count if it had any."""
    last_logged = time.monotonic()
    logged_for: str | None = None

    def log_progress(source_file: str, rows_read: int, seconds: float, *, done: bool = False) -> None:
        nonlocal last_logged, logged_for
        if done:
            due = logged_for == source_file
        else:
            due = time.monotonic() - last_logged >= PROGRESS_LOG_SECONDS
        if not due:
            return
        last_logged = time.monotonic()
        logged_for = source_file
        rate = rows_read / seconds if seconds > 0 else 0.0
        context.log.info(f"{source_file}: {rows_read:,} rows read, {rate:,.0f} rows/s")

    return log_progress
