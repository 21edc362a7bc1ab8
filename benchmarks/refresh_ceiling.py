"""The refresh benchmark's ceiling: the warehouse's measurement marts by hand, in DuckDB.

A hand-written SQL pipeline over the dumps: read_csv in the dialect (rows that do not
parse are dropped with `ignore_errors`; the warehouse instead keeps each with its
reason), known signals only, local time to UTC as the warehouse does, dedupe on
(signal, time) keeping the latest file then the later line, hourly aggregates (n, min,
max, avg, first, last) and the longest gap per signal and day (from day start to the
first reading, between readings, from the last one to day end), written as tables into
a DuckDB file.

refresh_benchmark.py runs this file as a process of its own and measures it:

    python benchmarks/refresh_ceiling.py CEILING.duckdb signals.json measurements_*.csv \\
        --source-timezone UTC

so it imports only the standard library and duckdb at the top: its time and memory
then hold what a hand-written duckdb script would, not psycopg's or Polars' imports.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb

# Each mart with the column whose sum must match: a different duplicate pick changes it.
COMPARED_TABLES = {"measurements": "value", "measurements_hourly": "n"}


def build_ceiling(duckdb_file: Path, signals_json: Path, dumps: list[Path],
                  source_timezone: str) -> None:
    """The hand-written pipeline: dumps -> measurements, measurements_hourly, daily gaps.
    The dumps in the loaders' order (by name), which the duplicate rule follows."""
    duckdb_file.unlink(missing_ok=True)
    with duckdb.connect(str(duckdb_file)) as con:
        # `with ordinality` numbers the rows in file order (checked against the files'
        # lines, also with the scan split over threads): the "later line" of the rule.
        con.execute(f"""
            create table measurements as
            with readings as (
                select
                    SignalId as signal_id,
                    {_to_utc('Ts', source_timezone)} as measured_at,
                    MeasurementValue as value,
                    file_index,
                    ordinality as line_order
                from read_csv({_sql_list(dumps)},
                    header = true, delim = '|', decimal_separator = ',', quote = '', escape = '',
                    auto_detect = false, ignore_errors = true,
                    columns = {{'Ts': 'TIMESTAMP', 'SignalId': 'BIGINT',
                                'MeasurementValue': 'DOUBLE'}})
                    with ordinality
                -- an empty value reads as null rather than an error
                where Ts is not null and SignalId is not null and MeasurementValue is not null
            ),
            known_signals as (
                select try_cast(SignalId as bigint) as signal_id
                from read_json({_sql_string(signals_json)}, format = 'array',
                               columns = {{'SignalId': 'VARCHAR'}})
            )
            select signal_id, measured_at, value
            from readings
            where signal_id in (select signal_id from known_signals)
            qualify row_number() over (
                partition by signal_id, measured_at order by file_index desc, line_order desc) = 1
        """)
        con.execute("""
            create table measurements_hourly as
            select
                signal_id,
                date_trunc('hour', measured_at) as hour_utc,
                count(*) as n,
                min(value) as min,
                max(value) as max,
                avg(value) as avg,
                arg_min(value, measured_at) as first_value,
                arg_max(value, measured_at) as last_value
            from measurements
            group by signal_id, hour_utc
        """)
        con.execute("""
            create table signal_daily_gaps as
            with sequenced as (
                select
                    signal_id,
                    measured_at,
                    cast(measured_at as date) as day_utc,
                    lag(measured_at) over (partition by signal_id, cast(measured_at as date)
                                           order by measured_at) as previous_at
                from measurements
            )
            select
                signal_id,
                day_utc,
                count(*) as n,
                greatest(
                    epoch_us(min(measured_at)) - epoch_us(cast(day_utc as timestamp)),
                    coalesce(max(epoch_us(measured_at) - epoch_us(previous_at)), 0),
                    epoch_us(cast(day_utc as timestamp) + interval 1 day)
                        - epoch_us(max(measured_at))
                ) / 1e6 as max_gap_seconds
            from sequenced
            group by signal_id, day_utc
        """)


def ceiling_figures(duckdb_file: Path) -> dict[str, tuple[int, float]]:
    """Rows and the compared column's sum of each of the ceiling's COMPARED_TABLES."""
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        return table_figures(con.execute, schema="")


def table_figures(execute: Callable[[str], Any], schema: str) -> dict[str, tuple[int, float]]:
    """Rows and the compared column's sum of each of COMPARED_TABLES in `schema` (with its
    dot, or "" for none), through any connection's `execute`."""
    figures = {}
    for table, column in COMPARED_TABLES.items():
        query = f"select count(*), coalesce(sum({column}), 0) from {schema}{table}"
        rows, total = execute(query).fetchone()
        figures[table] = (int(rows), float(total))
    return figures


def _to_utc(column: str, zone: str) -> str:
    # The warehouse's to_utc macro: naive local time -> naive UTC; nothing to do for UTC.
    if zone.upper() in ("UTC", "ETC/UTC"):
        return column
    return f"(({column}) at time zone '{zone}') at time zone 'UTC'"


def _sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _sql_list(paths: Iterable[Path]) -> str:
    return "[" + ", ".join(map(_sql_string, paths)) + "]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("duckdb_file", type=Path, help="the DuckDB file to write (replaced)")
    parser.add_argument("signals_json", type=Path, help="the dump's signals JSON")
    parser.add_argument("dumps", type=Path, nargs="+",
                        help="measurement dumps, in the loaders' order")
    parser.add_argument("--source-timezone", required=True,
                        help="the zone of the dumps' local times, as WAREHOUSE_SOURCE_TIMEZONE")
    args = parser.parse_args()
    build_ceiling(args.duckdb_file, args.signals_json, args.dumps, args.source_timezone)


if __name__ == "__main__":
    main()
