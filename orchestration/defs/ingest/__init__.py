"""Ingest: dump files -> raw tables, through the loaders, with ledger checks."""

import dagster as dg

from orchestration.defs.ingest.assets import raw_tables
from orchestration.defs.ingest.checks import raw_table_checks
from orchestration.defs.ingest.dump_files import DUMP_ASSETS


def definitions() -> dg.Definitions:
    return dg.Definitions(assets=[*DUMP_ASSETS, raw_tables], asset_checks=[raw_table_checks])
