"""A page's rows as one JSON array: written by PostgreSQL itself, or by orjson for DuckDB.

A page holds up to 10,000 rows. Checking every row with pydantic and writing it with
FastAPI's encoder costs milliseconds of the server's Python process per request, so
neither is done; which writer is cheaper depends on where the database runs:

* **PostgreSQL** runs in processes of its own. The page's statement is wrapped in one
  that writes each row as a JSON object (`row_to_json`) and joins them into one array
  (`page_statement`); the server receives one text value and passes it on, its Python
  process doing no per-row work. Fetching the rows instead and writing them with orjson
  took PostgreSQL's hourly month from 604 to 416 requests/s (10M rows, 16 clients, two
  runs under a similar load of 7-10).
* **DuckDB** runs inside the server's process, so the database's work is the server's
  work: its `json_object` per row cost 2.7 ms of CPU for a month of hourly values (720
  rows), against 0.97 ms to run the plain statement and fetch the rows and 1.06 ms with
  orjson writing them (`rows_json`).

Either way the values read the same, as the page models (api/models.py) describe them:
times ISO 8601 in UTC with a `Z` (microseconds only when there are any:
`2022-01-01T10:00:00Z`, `2022-01-01T10:00:00.500000Z`; the statements bring times with a
zone to UTC first), dates `YYYY-MM-DD`, doubles in their shortest form that reads back
exactly (non-finite ones as null, as pydantic writes them), integers, booleans, strings.
The object's keys are the columns' names, in the columns' order.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import orjson

_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


def _other(value: object) -> object:
    # numeric sums come back as Decimal: written as the double the models declare.
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"no JSON form for {type(value).__name__} {value!r}")


def rows_json(names: Sequence[str], rows: Sequence[tuple]) -> bytes:
    """The rows as a JSON array of objects keyed by `names` (orjson)."""
    return orjson.dumps([dict(zip(names, row)) for row in rows], default=_other, option=_OPTIONS)


# PostgreSQL's JSON value of a column, by the column's kind (api/queries.py Column.kind).
_TIME = ("CASE WHEN date_trunc('second', {v}) = {v} THEN to_char({v}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
         "ELSE to_char({v}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END")
# x - x is 0 for every finite double and NaN for the others (and null for null).
_FINITE = "CASE WHEN {v} - {v} = 0 THEN {v} END"


def json_value(reference: str, kind: str) -> str:
    """The SQL of the JSON value of `reference` (a column of kind `kind`) on PostgreSQL."""
    if kind == "timestamp":
        return _TIME.format(v=reference)
    if kind == "double":
        return _FINITE.format(v=reference)
    if kind in ("date", "int64", "bool", "string"):
        return reference
    raise ValueError(f"no JSON form for a column of kind {kind!r}")


def page_statement(statement: str, columns: Sequence[tuple[str, str]], key: str, descending: bool = False) -> str:
    """`statement` (rows in `key` order, `LIMIT limit + 1`) answered by PostgreSQL as one row:

        rows_json   the first `limit` rows as one JSON array's text; null when there are none
        fetched     how many rows the statement gave: `limit + 1` means another page follows
        last_key    the key of the page's last row when another follows (the next cursor's key)

    `columns` are the statement's (name, kind) pairs. The result has two `?` of its own
    before the statement's: bind `limit` to both, then the statement's parameters.
    """
    order = f'"{key}"{" DESC" if descending else ""}'
    numbered = (f"(SELECT fetched.*, row_number() OVER (ORDER BY {order}) AS page_row "
                f"FROM ({statement}) AS fetched) AS numbered")
    # row_to_json writes compact objects (json_build_object puts spaces around every ':').
    shaped = ", ".join(f'{json_value(f"numbered.{chr(34)}{name}{chr(34)}", kind)} AS "{name}"'
                       for name, kind in columns)
    return (f"SELECT '[' || string_agg(row_to_json(shaped)::text, ',' ORDER BY numbered.page_row) "
            f"FILTER (WHERE numbered.page_row <= ?) || ']', count(*), "
            f'max(numbered."{key}") FILTER (WHERE numbered.page_row = ?) '
            f"FROM {numbered} CROSS JOIN LATERAL (SELECT {shaped}) AS shaped")
