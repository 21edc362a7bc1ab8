"""A page's rows as one JSON array, written by the database itself.

Turning a page of up to 10,000 rows into Python objects, checking them and writing them
as JSON costs milliseconds of the server's one Python process per request; the database
does the same in a fraction of that, outside the GIL. So a page's statement (its rows in
key order, `LIMIT limit + 1`) is wrapped in one that numbers the rows, writes each of the
first `limit` as a JSON object and joins them into one array, and answers one row:

    rows_json   the array's text ('[{...},{...}]'); null when the page is empty
    fetched     how many rows the inner statement gave: `limit + 1` means another page follows
    last_key    the key of the page's last row when another follows (the next cursor's key)

The values read as the page models (api/models.py) wrote them: times ISO 8601 in UTC with
a `Z` (microseconds only when there are any: `2022-01-01T10:00:00Z`,
`2022-01-01T10:00:00.500000Z`), dates `YYYY-MM-DD`, doubles in their shortest form that
reads back exactly (non-finite ones as null, as pydantic writes them), integers,
booleans, strings escaped by the database's JSON writer. The object's keys are the
columns' names, in the columns' order.
"""

from __future__ import annotations

from collections.abc import Sequence

# A column's kind (api/queries.py Column.kind) -> how its JSON value is written. Times
# with a zone (`timestamptz`, the ledger's) are first brought to UTC wall-clock time.
_POSTGRES_TIME = ("CASE WHEN date_trunc('second', {v}) = {v} THEN to_char({v}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                  "ELSE to_char({v}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END")
_DUCKDB_TIME = ("CASE WHEN date_trunc('second', {v}) = {v} THEN strftime({v}, '%Y-%m-%dT%H:%M:%SZ') "
                "ELSE strftime({v}, '%Y-%m-%dT%H:%M:%S.%fZ') END")
# x - x is 0 for every finite double and NaN for the others (and null for null).
_FINITE = "CASE WHEN {v} - {v} = 0 THEN {v} END"


def json_value(dialect: str, reference: str, kind: str) -> str:
    """The SQL of the JSON value of `reference` (a column of kind `kind`) on `dialect`."""
    time = _POSTGRES_TIME if dialect == "postgres" else _DUCKDB_TIME
    if kind == "timestamp":
        return time.format(v=reference)
    if kind == "timestamptz":
        return time.format(v=f"({reference} AT TIME ZONE 'UTC')")
    if kind == "double":
        return _FINITE.format(v=reference)
    if kind in ("date", "int64", "bool", "string"):
        return reference
    raise ValueError(f"no JSON form for a column of kind {kind!r}")


def page_statement(dialect: str, statement: str, columns: Sequence[tuple[str, str]], key: str,
                   descending: bool = False) -> str:
    """`statement` (rows in `key` order, `LIMIT limit + 1`) answered as one JSON page.

    `columns` are the statement's (name, kind) pairs. The result has two `?` of its own
    before the statement's: bind `limit` to both, then the statement's parameters.
    """
    order = f'"{key}"{" DESC" if descending else ""}'
    numbered = (f"(SELECT fetched.*, row_number() OVER (ORDER BY {order}) AS page_row "
                f"FROM ({statement}) AS fetched) AS numbered")
    values = [(name, json_value(dialect, f'numbered."{name}"', kind)) for name, kind in columns]
    if dialect == "postgres":
        # row_to_json writes compact objects (json_build_object puts spaces around every ':').
        shaped = ", ".join(f'{value} AS "{name}"' for name, value in values)
        return (f"SELECT '[' || string_agg(row_to_json(shaped)::text, ',' ORDER BY numbered.page_row) "
                f"FILTER (WHERE numbered.page_row <= ?) || ']', count(*), "
                f'max(numbered."{key}") FILTER (WHERE numbered.page_row = ?) '
                f"FROM {numbered} CROSS JOIN LATERAL (SELECT {shaped}) AS shaped")
    pairs = ", ".join(f"'{name}', {value}" for name, value in values)
    return (f"SELECT CAST(to_json(list(json_object({pairs}) ORDER BY numbered.page_row) "
            f"FILTER (WHERE numbered.page_row <= ?)) AS VARCHAR), count(*), "
            f'max(numbered."{key}") FILTER (WHERE numbered.page_row = ?) FROM {numbered}')
