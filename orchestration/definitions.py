"""The gridwarehouse code location: collects each concern's definitions, nothing more.

    ingest/      dump files -> raw tables (loaders), ledger checks
    transform/   raw -> staging -> analytics (dbt), dbt tests as checks, mart freshness
    automation/  refresh and reseed jobs, the schedule, the data-folder sensor
    alerts/      failed runs recorded and posted
"""

import dagster as dg

from orchestration.defs import alerts, automation, ingest, transform
from kernel.logging_config import configure_logging
from kernel.settings import Settings, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions.merge(
        ingest.definitions(),
        transform.definitions(settings),
        automation.definitions(settings),
        alerts.definitions(settings),
        # Steps are few and long; one process spares each a re-import of Dagster and dbt.
        dg.Definitions(resources={"settings": settings}, executor=dg.in_process_executor),
    )


@dg.definitions
def defs() -> dg.Definitions:
    # The code location is an entry point of its own (the UI's code server, each run
    # worker): its lines, dbt's included, in the warehouse's format.
    settings = load_settings()
    configure_logging(settings)
    return build_definitions(settings)
