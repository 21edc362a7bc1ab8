"""What the UI shows of a warehouse table: its columns, its row count, its first rows.

Read through a loader sink (its `execute` speaks both warehouses with `?` placeholders)
and closed again at once: DuckDB admits one writing process, so no step keeps a
connection open longer than it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    from kernel.database import Database

PREVIEW_ROWS = 5
PREVIEW_CELL_CHARS = 60


@dataclass(frozen=True)
class Relation:
    """A table or view in the warehouse, named as `schema.name`."""

    schema: str
    name: str

    @property
    def sql(self) -> str:
        return f'"{self.schema}"."{self.name}"'

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


# Each column's comment: the raw migrations write them, dbt's persist_docs the models'.
COLUMN_COMMENTS = {
    "duckdb": "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = ? AND table_name = ?",
    "postgres": "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = ? AND c.relname = ? AND a.attnum > 0 AND NOT a.attisdropped",
}


def column_schema(sink: Database, relation: Relation) -> dg.TableSchema:
    """The relation's columns: name, type, nullability and the description the database holds."""
    rows = sink.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        (relation.schema, relation.name))
    comments = dict(sink.execute(COLUMN_COMMENTS[sink.dialect], (relation.schema, relation.name)))
    return dg.TableSchema(columns=[
        dg.TableColumn(name=name, type=str(data_type).lower(), description=comments.get(name) or None,
                       constraints=dg.TableColumnConstraints(nullable=nullable == "YES"))
        for name, data_type, nullable in rows
    ])


def row_count(sink: Database, relation: Relation) -> int:
    return int(sink.execute(f"SELECT count(*) FROM {relation.sql}")[0][0])


def preview(sink: Database, relation: Relation, columns: Sequence[str]) -> dg.MetadataValue:
    """The relation's first rows as a Markdown table (the UI renders it)."""
    if not columns:
        return dg.MetadataValue.md("_no columns_")
    selected = ", ".join(f'"{column}"' for column in columns)
    rows = sink.execute(f"SELECT {selected} FROM {relation.sql} LIMIT {PREVIEW_ROWS}")
    return dg.MetadataValue.md(markdown_table(columns, rows, clip=PREVIEW_CELL_CHARS))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], *,
                   clip: int | None = None) -> str:
    """A Markdown table; cells longer than `clip` characters are cut short."""

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        if clip is not None and len(text) > clip:
            text = text[: clip - 1] + "…"
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    if not rows:
        lines.append("| " + " | ".join("" for _ in header) + " |")
    return "\n".join(lines)


def describe(sink: Database, relation: Relation, *, rows: int | None = None,
             with_preview: bool = True) -> dict[str, Any]:
    """Table name, column schema, `dagster/row_count` and a preview, as materialization metadata.

    `rows` saves a count(*) when the caller knows the count already (the load ledger does).
    """
    schema = column_schema(sink, relation)
    count = row_count(sink, relation) if rows is None else rows
    metadata: dict[str, Any] = {
        "dagster/table_name": str(relation),
        "dagster/column_schema": schema,
        "dagster/row_count": count,
    }
    if with_preview:
        metadata["preview"] = preview(sink, relation, [column.name for column in schema.columns])
    return metadata
