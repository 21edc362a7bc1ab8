"""Transform: raw -> staging -> analytics, by dbt, each model an asset, each test a check."""

import dagster as dg

from orchestration.defs.transform.assets import MARTS_SCHEMA, build_dbt_models
from orchestration.defs.transform.freshness import freshness_sensor, mart_freshness_checks
from orchestration.defs.transform.project import dbt_resource, prepare_manifest
from orchestration.defs.transform.translator import WarehouseDbtTranslator
from kernel.settings import Settings


def definitions(settings: Settings) -> dg.Definitions:
    dbt_models = build_dbt_models(WarehouseDbtTranslator(), prepare_manifest(settings))
    marts = sorted(key for key in dbt_models.keys if key.path[0] == MARTS_SCHEMA)
    freshness_checks = mart_freshness_checks(marts, settings.mart_max_age_hours)
    return dg.Definitions(
        assets=[dbt_models],
        asset_checks=freshness_checks,
        sensors=([freshness_sensor(freshness_checks, running=settings.automation_enabled)]
                 if freshness_checks else []),
        resources={"dbt": dbt_resource(settings)},
    )
