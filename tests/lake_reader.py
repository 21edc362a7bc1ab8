"""SQL over a Spark warehouse's lake without a JVM, for the loaders' tests: an in-memory
DuckDB whose `raw.*` views read what Spark reads (the visible partitions, `load_id` from
the folder name) and whose `raw.load_ledger` is the latest event per load, as the Spark
view of loaders/migrations/spark/0001_raw_tables.sql defines it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from loaders.sinks.spark import LEDGER_SCHEMA, LEDGER_TABLE, RAW_SCHEMAS, table_dir


def visible_files(folder: Path) -> list[Path]:
    """The Parquet files Spark lists under a table's folder: it skips names starting with
    '.' or '_' at every level."""
    return sorted(path for path in folder.rglob("*.parquet")
                  if not any(part.startswith((".", "_")) for part in path.relative_to(folder).parts))


def lake_connection(raw_dir: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA raw")
    for table, schema in {**RAW_SCHEMAS, f"raw.{LEDGER_TABLE}_events": LEDGER_SCHEMA}.items():
        folder = table_dir(raw_dir, LEDGER_TABLE if table.endswith("_events") else table)
        files = visible_files(folder)
        if files:
            listing = ", ".join(f"'{path}'" for path in files)
            hive = ("hive_partitioning = false" if table.endswith("_events")
                    else "hive_partitioning = true, hive_types = {'load_id': BIGINT}")
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listing}], {hive})")
        else:
            con.register("empty_table", schema.empty_table())
            extra = "" if table.endswith("_events") else ", CAST(NULL AS BIGINT) AS load_id"
            con.execute(f"CREATE TABLE {table} AS SELECT *{extra} FROM empty_table")
            con.unregister("empty_table")
    con.execute("""
        CREATE VIEW raw.load_ledger AS
        SELECT * EXCLUDE (committed_by, event_rank) FROM (
            SELECT *, row_number() OVER (PARTITION BY load_id ORDER BY committed_by DESC) AS event_rank
            FROM raw.load_ledger_events)
        WHERE event_rank = 1""")
    return con


def lake_query(raw_dir: Path, statement: str) -> list[tuple]:
    con = lake_connection(raw_dir)
    try:
        return con.execute(statement).fetchall()
    finally:
        con.close()
