"""Writers for the warehouses behind one interface (`WarehouseSink`): DuckDB, PostgreSQL, and
the Spark target's lake of Parquet files."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernel.database import Database
    from loaders.sinks.base import WarehouseSink


def sink_for(db: Database) -> WarehouseSink:
    """The raw tables' writer over `db`, a loader's connection (kernel.database.connect)."""
    if db.dialect == "spark":
        from loaders.sinks.spark import SparkSink

        return SparkSink(db)
    if db.dialect == "postgres":
        from loaders.sinks.postgres import PostgresSink

        return PostgresSink(db)
    from loaders.sinks.duckdb import DuckDBSink

    return DuckDBSink(db)
