"""Every dbt model an asset and every dbt test an asset check, built by one `dbt build`.

The step holds the warehouse's writer lock while dbt runs and buffers dbt's events until
dbt exits: only then may this process open DuckDB to count each table's rows, which
it adds to the materializations before handing them to Dagster. dbt's lines are logged
as they come (dbt_output.py). When it succeeds it publishes the analysts' copy of a
DuckDB warehouse (orchestration.defs.reader_snapshot).
"""

import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource, dbt_assets

from orchestration.defs.dead_runs import record_subprocess
from orchestration.defs.transform.dbt_output import relayed_events
from orchestration.defs.reader_snapshot import publish_for_analysts
from orchestration.defs.table_metadata import Relation, column_schema, preview, row_count
from orchestration.defs.transform.refresh_plan import (
    RefreshPlan,
    plan_refresh,
    project_fingerprint,
    record_applied_project,
)
from orchestration.defs.transform.project import (
    dbt_environment,
    dbt_project,
    invocation_target_path,
    keep_parse_cache,
    load_manifest,
)
from orchestration.defs.warehouse_access import (
    exclusive_writer,
    is_transient_message,
    retry_later,
    retrying_transient_errors,
)
from kernel.settings import Settings

MARTS_SCHEMA = "analytics"
# Counting a view runs its whole query; tables and incremental models are counted.
COUNTED_MATERIALIZATIONS = {"table", "incremental", "seed", "snapshot"}
# How long an interrupted dbt gets to cancel its queries and exit before it is killed:
# well inside the 10 s in which a stopped run must be gone.
DBT_STOP_SECONDS = 5.0


class DbtBuildConfig(dg.Config):
    """Launchpad config of the dbt step (the `reseed` and `verify` jobs fill it in)."""

    full_refresh: bool = False
    """Rebuild incremental models from scratch instead of adding what is new."""
    check_scope: Literal["batch", "full"] = "batch"
    """What the tests of the big tables read: the rows of this run's batch, or the whole
    table (`full`, dbt's `--vars '{"check_scope": "full"}'`; a full refresh reads it all)."""

    def dbt_vars(self) -> dict[str, str]:
        """The `--vars` of the command: none for the default scope, so the parse cache of a
        plain build stays the one dbt wrote without vars."""
        return {} if self.check_scope == "batch" else {"check_scope": self.check_scope}


def builds_whole_graph(assets_def: dg.AssetsDefinition) -> bool:
    """Whether this execution builds every model and runs every check, which is when
    dagster-dbt does not subset the dbt selection (the `refresh` and `reseed` jobs); a
    checks-only execution (`verify`) or a selection from the UI is a subset."""
    return (assets_def.keys_by_output_name == assets_def.node_keys_by_output_name
            and assets_def.check_specs_by_output_name == assets_def.node_check_specs_by_output_name)


def model_relations(
    manifest: Mapping[str, Any], translator: DagsterDbtTranslator
) -> dict[str, tuple[Relation, str]]:
    """Each dbt-built asset's table or view in the warehouse, and how dbt materializes it.

    Keyed by the asset's output name (its key as a Python identifier), which is how
    dagster-dbt names the Output event of a model.
    """
    relations = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "seed", "snapshot"):
            continue
        key = translator.get_asset_key(node)
        relation = Relation(node["schema"], node.get("alias") or node["name"])
        relations[key.to_python_identifier()] = (relation, node["config"].get("materialized", "view"))
    return relations


def build_dbt_models(translator: DagsterDbtTranslator, manifest_path: Path) -> dg.AssetsDefinition:
    """The dbt assets of the manifest `prepare_manifest` returned."""
    manifest = load_manifest(manifest_path)
    relations = model_relations(manifest, translator)

    @dbt_assets(
        manifest=manifest,
        project=dbt_project(),
        dagster_dbt_translator=translator,
        name="dbt_models",
    )
    def dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig,
        settings: dg.ResourceParam[Settings],
    ) -> Iterator:
        # Unit tests check the SQL, not the data: they belong to development and CI. A
        # selection of checks only (the `verify` job) makes dagster-dbt select just their
        # tests, so this same build runs them and nothing else.
        args = ["build", "--exclude-resource-type", "unit_test"]
        whole_graph = builds_whole_graph(context.assets_def)
        fingerprint = project_fingerprint(manifest, settings)
        plan = (plan_refresh(settings, fingerprint, full_refresh=config.full_refresh) if whole_graph
                else RefreshPlan("full" if config.full_refresh else "incremental", "a selection of models"))
        if plan.mode == "skip":
            context.log.info(f"dbt build skipped: {plan.reason}")
            yield from (dg.AssetObservation(asset_key=key, metadata={"dbt_build": "skipped", "reason": plan.reason})
                        for key in sorted(context.selected_asset_keys) if key.path[0] == MARTS_SCHEMA)
            # The loads before may still have changed raw, and a copy may be missing.
            publish_for_analysts(context, settings)
            return
        if plan.mode == "full":
            context.log.info(f"dbt builds every model from scratch: {plan.reason}")
            args.append("--full-refresh")
        dbt_vars = config.dbt_vars()
        if dbt_vars:
            args += ["--vars", json.dumps(dbt_vars)]
        target_path = invocation_target_path(context.run.run_id, settings, dbt_vars)
        with retrying_transient_errors(context), exclusive_writer(context, settings):
            with dbt_environment(settings):
                invocation = dbt.cli(args, context=context, raise_on_error=False, target_path=target_path)
            with dbt_stopped_on_exit(context, invocation):
                events = list(relayed_events(invocation))
            error = invocation.get_error()
            if error is None and whole_graph:
                record_applied_project(settings, fingerprint)
        keep_parse_cache(target_path, settings, dbt_vars)
        if error is None:
            # Its events are read; a failed build keeps its compiled SQL and dbt.log to look at.
            shutil.rmtree(target_path, ignore_errors=True)
        elif is_transient_message(str(error)):
            raise retry_later(context, error)
        yield from with_table_metadata(settings, events, relations)
        if error is not None:
            context.log.error(f"dbt's log and compiled SQL of this build: {target_path}")
            raise DbtBuildFailed.of(error, target_path) from error
        publish_for_analysts(context, settings)

    return dbt_models


# dbt's error lines: a progress line per failed node ("29 of 52 FAIL 1 name ... [FAIL 1 in
# 0.2s]"), then per node a headline naming it and its file ("Failure in test name
# (tests/name.sql)", "Database Error in model name (models/...)") and the detail.
_DBT_PROGRESS = re.compile(r"^\d+ of \d+ ")
_DBT_HEADLINE = re.compile(r"^(Failure|\w+ Error|Error) in \w+ ")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class DbtBuildFailed(RuntimeError):
    """dbt exited with an error: the message names the first node that failed, its file, why,
    and where dbt's log is."""

    @classmethod
    def of(cls, error: Exception, target_path: Path) -> "DbtBuildFailed":
        # dagster-dbt's error opens with the whole dbt command line and ends with the error
        # lines it read from dbt's log, one paragraph each, after this heading.
        _, _, parsed = str(error).partition("Errors parsed from dbt logs:")
        lines = [" ".join(_ANSI.sub("", paragraph).split()) for paragraph in parsed.split("\n\n")]
        lines = [line for line in lines if line and not _DBT_PROGRESS.match(line)]
        where = f"dbt's log and compiled SQL: {target_path}"
        if not lines:
            return cls(f"dbt build failed; {where}")
        headlines = [at for at, line in enumerate(lines) if _DBT_HEADLINE.match(line)]
        first = headlines[0] if headlines else 0
        cause = lines[first]
        if first + 1 < len(lines) and first + 1 not in headlines:
            cause += f": {lines[first + 1]}"
        more = f" (and {len(headlines) - 1} more)" if len(headlines) > 1 else ""
        return cls(f"dbt build failed: {cause}{more}; {where}")


@contextmanager
def dbt_stopped_on_exit(context: dg.AssetExecutionContext, invocation: DbtCliInvocation) -> Iterator[None]:
    """Leave no dbt process behind, however the block ends.

    On an interrupt (Ctrl-C, or SIGTERM, which Dagster turns into one) dagster-dbt
    forwards SIGINT to dbt, which cancels its queries and exits; but it waits 25 s for
    that and then gives up with dbt still running. Here it waits DBT_STOP_SECONDS, and
    dbt is killed if it is still there; the interrupt then carries on stopping the run.
    If this process is killed outright, the run's tags name dbt for the next run to stop.
    """
    record_subprocess(context.instance, context.run.run_id, invocation.process.pid)
    invocation.termination_timeout_seconds = DBT_STOP_SECONDS
    try:
        yield
    except subprocess.TimeoutExpired as error:
        if not isinstance(error.__context__, dg.DagsterExecutionInterruptedError):
            raise
        invocation.process.kill()
        invocation.process.wait()
        raise error.__context__ from None
    finally:
        if invocation.process.poll() is None:
            invocation.process.kill()
            invocation.process.wait()
        record_subprocess(context.instance, context.run.run_id, None)


def with_table_metadata(
    settings: Settings, events: Sequence, relations: Mapping[str, tuple[Relation, str]]
) -> Iterator:
    """dbt's events, each model's output extended with its row count, columns and preview."""
    from kernel.database import connect

    outputs = [event for event in events if isinstance(event, dg.Output)]
    if not outputs:
        yield from events
        return
    extra: dict[str, dict] = {}
    # dbt's tables are the transformer's: read them with its login (the loader may not).
    with connect(settings.warehouse, "transformer", read_only=True) as sink:
        for output in outputs:
            if output.output_name not in relations:
                continue
            relation, materialized = relations[output.output_name]
            columns = column_schema(sink, relation)
            metadata: dict[str, Any] = {
                "dagster/table_name": str(relation),
                "dagster/column_schema": columns,
            }
            if materialized in COUNTED_MATERIALIZATIONS:
                metadata["dagster/row_count"] = row_count(sink, relation)
                metadata["preview"] = preview(sink, relation, [column.name for column in columns.columns])
            extra[output.output_name] = metadata
    for event in events:
        if isinstance(event, dg.Output) and event.output_name in extra:
            yield event.with_metadata({**event.metadata, **extra[event.output_name]})
        else:
            yield event
