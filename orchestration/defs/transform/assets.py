"""Every dbt model an asset and every dbt test an asset check, built by one `dbt build`.

The step holds the warehouse's writer lock while dbt runs and buffers dbt's events until
dbt exits: only then may this process open DuckDB to count each table's rows, which
it adds to the materializations before handing them to Dagster.
"""

import json
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.defs.table_metadata import Relation, column_schema, preview, row_count
from orchestration.defs.transform.project import (
    dbt_environment,
    dbt_project,
    invocation_target_path,
    keep_parse_cache,
    load_manifest,
)
from orchestration.defs.warehouse_access import (
    WAREHOUSE_POOL,
    exclusive_writer,
    is_transient_message,
    retry_later,
    retrying_transient_errors,
)
from warehouse.settings import Settings

# Counting a view runs its whole query; tables and incremental models are counted.
COUNTED_MATERIALIZATIONS = {"table", "incremental", "seed", "snapshot"}


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
        pool=WAREHOUSE_POOL,
    )
    def dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig,
        settings: dg.ResourceParam[Settings],
    ) -> Iterator:
        # Unit tests check the SQL, not the data: they belong to development and CI. A
        # selection of checks only (the `verify` job) makes dagster-dbt select just their
        # tests, so this same build runs them and nothing else.
        args = ["build", "--exclude-resource-type", "unit_test"]
        if config.full_refresh:
            args.append("--full-refresh")
        dbt_vars = config.dbt_vars()
        if dbt_vars:
            args += ["--vars", json.dumps(dbt_vars)]
        target_path = invocation_target_path(context.run.run_id, settings, dbt_vars)
        with retrying_transient_errors(context), exclusive_writer(settings):
            with dbt_environment(settings):
                invocation = dbt.cli(args, context=context, raise_on_error=False, target_path=target_path)
            events = list(invocation.stream())
            error = invocation.get_error()
        keep_parse_cache(target_path, settings, dbt_vars)
        if error is None:
            # Its events are read; a failed build keeps its compiled SQL and dbt.log to look at.
            shutil.rmtree(target_path, ignore_errors=True)
        elif is_transient_message(str(error)):
            raise retry_later(context, error) from error
        yield from with_table_metadata(settings, events, relations)
        if error is not None:
            context.log.error(f"dbt's log and compiled SQL of this build: {target_path}")
            raise error

    return dbt_models


def with_table_metadata(
    settings: Settings, events: Sequence, relations: Mapping[str, tuple[Relation, str]]
) -> Iterator:
    """dbt's events, each model's output extended with its row count, columns and preview."""
    from loaders.sinks import open_sink

    outputs = [event for event in events if isinstance(event, dg.Output)]
    if not outputs:
        yield from events
        return
    extra: dict[str, dict] = {}
    # dbt's tables are the transformer's: read them with its login (the loader may not).
    reader = (settings.model_copy(update={"pg_dsn": settings.transformer_dsn})
              if settings.target == "postgres" else settings)
    with open_sink(reader) as sink:
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
