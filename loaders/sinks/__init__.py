"""Writers for the two warehouses behind one interface (`WarehouseSink`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loaders.sinks.base import WarehouseSink
    from kernel.settings import Settings


def open_sink(settings: Settings) -> WarehouseSink:
    """A connected writer for the warehouse the settings point at."""
    if settings.target == "postgres":
        from loaders.sinks.postgres import PostgresSink

        return PostgresSink(settings.require_pg_dsn())
    from loaders.sinks.duckdb import DuckDBSink

    return DuckDBSink(settings.duckdb_path, settings.duckdb_config)
