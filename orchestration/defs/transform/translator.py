"""The one translator from dbt nodes to Dagster assets.

dagster-dbt's defaults already key a source `raw.assets` as `raw/assets` (the raw
asset's key, so lineage connects) and a model as `<schema>/<name>`. What this adds:
groups named after the warehouse schemas, and every dbt test an asset check, tests on
sources included, so a broken raw table shows on the raw asset itself.
"""

from collections.abc import Mapping
from typing import Any

from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings


class WarehouseDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(
            enable_asset_checks=True,
            enable_source_tests_as_checks=True,
        ))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # raw, staging, analytics: the UI groups assets the way the warehouse's schemas do.
        return self.get_asset_key(dbt_resource_props).path[0]
