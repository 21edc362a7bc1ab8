"""The raw tables describe themselves: every table and column carries a comment in the
database, the same on DuckDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.database import Database, connect
from kernel.settings import Settings
from loaders.sinks.base import migrate_raw

RAW_TABLES = ("assets", "signals", "measurements", "rejected_rows", "load_ledger")

TABLE_COMMENTS = {
    "duckdb": "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'raw'",
    "postgres": "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'raw' AND c.relkind IN ('r', 'p') AND NOT c.relispartition",
}
COLUMN_COMMENTS = {
    "duckdb": "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = 'raw'",
    "postgres": "SELECT c.relname, a.attname, col_description(c.oid, a.attnum) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'raw' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
                "AND a.attnum > 0 AND NOT a.attisdropped",
}


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "duckdb":
        settings = Settings(target="duckdb", duckdb_path=tmp_path / "w.duckdb")
    else:
        settings = Settings(target="postgres", pg_dsn=request.getfixturevalue("pg_dsn"))
    with connect(settings.warehouse, "loader") as db:
        migrate_raw(db)
        yield db


def comments(db: Database) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    tables = {name: comment for name, comment in db.execute(TABLE_COMMENTS[db.dialect]) if name in RAW_TABLES}
    columns = {(table, column): comment for table, column, comment in db.execute(COLUMN_COMMENTS[db.dialect])
               if table in RAW_TABLES}
    return tables, columns


def test_every_raw_table_and_every_column_has_a_description(migrated: Database) -> None:
    tables, columns = comments(migrated)
    assert sorted(tables) == sorted(RAW_TABLES)
    assert all(comment and comment.strip() for comment in tables.values()), tables
    undescribed = sorted(f"{table}.{column}" for (table, column), comment in columns.items() if not comment)
    assert undescribed == []
    assert len(columns) == 8 + 9 + 7 + 7 + 12


def test_the_descriptions_say_what_a_column_holds(migrated: Database) -> None:
    tables, columns = comments(migrated)
    assert columns[("measurements", "ts")].startswith("Ts, the reading's time as written")
    assert columns[("load_ledger", "sha256")].startswith("SHA-256 of the file's bytes")
    assert "reason" in tables["rejected_rows"]


def test_duckdb_and_postgres_carry_the_same_descriptions() -> None:
    from loaders.sinks.base import MIGRATIONS_DIR

    name = "0006_raw_descriptions.sql"
    assert (MIGRATIONS_DIR / "duckdb" / name).read_text() == (MIGRATIONS_DIR / "postgres" / name).read_text()
