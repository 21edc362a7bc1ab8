"""The `warehouse` command: generate sample dumps, load them, run and watch the pipeline.

Heavy imports (Polars, Dagster, dbt) happen inside each command, so `warehouse --help`
answers at once.

A command that fails ends with one line saying what failed, where and what to do, and
exits 1; the traceback only with `warehouse --debug` or WAREHOUSE_LOG_LEVEL=DEBUG.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from kernel.settings import Settings, SettingsError, load_settings

# Exceptions of these packages carry a message written for the operator (the place and
# what to do); anything else is unexpected and says so.
OWN_PACKAGES = ("kernel.", "loaders.", "orchestration.", "warehouse.", "sample_data.", "api.")


class WarehouseGroup(click.Group):
    """The command group: a failure of any command ends as one line on stderr and exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            _fail(ctx, error)


def _fail(ctx: click.Context, error: Exception) -> None:
    from kernel.database import first_line

    state = ctx.find_root().obj or {}
    settings = state.get("settings")
    if state.get("debug") or (settings is not None and settings.log_level == "DEBUG"):
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    if type(error).__module__.startswith(OWN_PACKAGES):
        message = str(error).strip()
    else:
        message = (f"{type(error).__name__}: {first_line(error)} (unexpected: `warehouse --debug "
                   f"{ctx.invoked_subcommand or ''}` shows where it happened)")
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _settings(target: str | None, data_dir: Path | None) -> Settings:
    context = click.get_current_context(silent=True)
    state = context.find_root().ensure_object(dict) if context is not None else {}
    try:
        settings = load_settings(target=target, data_dir=data_dir,
                                 log_level="DEBUG" if state.get("debug") else None)
    except SettingsError as error:
        raise click.UsageError(str(error)) from None
    from kernel.logging_config import configure_logging

    configure_logging(settings)
    state["settings"] = settings
    return settings


def _spark_not_yet(settings: Settings, command: str) -> None:
    """Stop a command the Spark target does not support yet, saying so in one line."""
    if settings.target == "spark":
        raise click.UsageError(
            f"`warehouse {command}` does not support WAREHOUSE_TARGET=spark yet: on Spark the warehouse "
            "has its raw layer only (`warehouse load`, `warehouse migrate`, `warehouse cluster`); dbt, "
            "Dagster, the ops schema and the analysts' reads follow (docs/spark.md)")


target_option = click.option(
    "--target", type=click.Choice(["duckdb", "postgres", "spark"]), default=None,
    help="Warehouse to write (overrides WAREHOUSE_TARGET; default duckdb).")
data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Folder holding assets.json, signal.json and measurements*.csv (overrides WAREHOUSE_DATA_DIR).")


@click.group(cls=WarehouseGroup)
@click.version_option(package_name="gridwarehouse", prog_name="warehouse", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True,
              help="Log at DEBUG, Dagster's events and stack traces included, and show the traceback "
                   "of a failure (as WAREHOUSE_LOG_LEVEL=DEBUG does).")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """gridwarehouse: power-grid telemetry from the operator's dumps to analytics tables."""
    ctx.ensure_object(dict)["debug"] = debug


@main.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder to write assets.json, signal.json and measurements_NNN.csv into.")
@click.option("--rows", type=click.IntRange(min=0), default=300_000, show_default=True,
              help="Measurement rows in all dumps together.")
@click.option("--seed", type=int, default=42, show_default=True,
              help="Seed of the random generator: the same seed and options write the same bytes.")
@click.option("--files", type=click.IntRange(min=1), default=2, show_default=True,
              help="Number of measurement dumps to split the rows over.")
@click.option("--assets", "asset_count", type=click.IntRange(min=1), default=10, show_default=True,
              help="Substations in assets.json (at most 30).")
@click.option("--signals", "signal_count", type=click.IntRange(min=1), default=40, show_default=True,
              help="Signals in signal.json, spread unevenly over the substations, at least one each.")
@click.option("--defect-rate", type=click.FloatRange(0, 0.5), default=None,
              help="Share of rows carrying one of the defects real dumps have (0 for a clean set).")
@click.option("--force", is_flag=True,
              help="Replace assets.json, signal.json and measurements_NNN.csv already in --out.")
def generate(out_dir: Path, rows: int, seed: int, files: int, asset_count: int, signal_count: int,
             defect_rate: float | None, force: bool) -> None:
    """Write sample dumps in the operator's exact dialect (BOM, pipe, decimal comma).

    Refuses a folder that already holds assets.json, signal.json or measurements_NNN.csv
    unless --force is given.
    """
    from sample_data import existing_dumps, generate_dumps

    existing = existing_dumps(out_dir)
    if existing and not force:
        names = ", ".join(path.name for path in existing)
        raise click.ClickException(f"{out_dir} already holds dumps ({names}); pass --force to replace them")
    options = {} if defect_rate is None else {"defect_rate": defect_rate}
    started = time.perf_counter()
    try:
        generated = generate_dumps(out_dir, rows, seed, assets=asset_count, signals=signal_count,
                                   files=files, **options)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"wrote {out_dir} in {time.perf_counter() - started:.1f} s")
    click.echo(str(generated))


@main.command()
@target_option
@data_dir_option
def load(target: str | None, data_dir: Path | None) -> None:
    """Load new or changed dump files into the raw tables; print one line per file."""
    from kernel.reader_snapshot import publish_reader_snapshot
    from loaders.pipeline import load_directory
    from warehouse.console import LoadProgress, print_load_results

    settings = _settings(target, data_dir)
    with LoadProgress() as progress:
        results = load_directory(settings.warehouse, settings.data_path, batch_rows=settings.batch_rows,
                                 progress=progress.update)
    # DuckDB: the analysts' copy follows the raw tables (a no-op when nothing changed).
    published = publish_reader_snapshot(settings.warehouse)
    print_load_results(results, target=settings.target)
    if published is not None:
        click.echo(str(published), err=True)
    if any(result.status == "failed" for result in results):
        sys.exit(1)


@main.command()
@target_option
def migrate(target: str | None) -> None:
    """Apply the raw and ops schemas' missing migrations (roles included: run it as the database's admin)."""
    from kernel.database import connect
    from kernel.ops import migrate_ops
    from kernel.writer_lock import writer_lock
    from loaders.sinks.base import migrate_raw

    settings = _settings(target, None)
    if settings.target == "spark":
        from loaders.sinks.spark import register_raw_tables

        # The lake's folders (no JVM), then the raw tables in Spark's metastore (a driver on
        # the cluster). The ops schema does not exist on the Spark target yet.
        with writer_lock(settings.warehouse), connect(settings.warehouse, "loader") as lake:
            created = migrate_raw(lake)
        with connect(settings.warehouse, "transformer") as spark:
            defined = register_raw_tables(spark)
        click.echo(f"lake {settings.spark.raw_dir}: created {', '.join(created) or 'nothing (all there)'}; "
                   f"Spark metastore: {len(defined)} statements applied ({', '.join(defined)})")
        return
    with writer_lock(settings.warehouse), connect(settings.warehouse, "loader") as db:
        applied = [f"raw {version}" for version in migrate_raw(db)]
        applied += [f"ops {version}" for version in migrate_ops(db)]
    click.echo(f"applied {', '.join(applied)}" if applied else "raw and ops schemas up to date")


INTERRUPTED_EXIT_CODE = 130


def _run_job_and_report(settings: Settings, job_name: str, run_config: dict | None = None) -> None:
    """Run a Dagster job in this process, print what it did, exit 1 unless all went well.

    Ctrl-C and SIGTERM (docker stop, systemd, kill) stop it the same way: the step in
    progress is interrupted, its transaction rolls back, dbt is stopped, the run is
    marked failed, and the process exits with 130 after one line saying so.
    """
    import contextlib
    import signal

    # Before the heavy imports: a SIGTERM meanwhile must not orphan `dbt parse`. During
    # the run Dagster takes SIGINT and SIGTERM over and interrupts the step.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if settings.target == "postgres":
            from kernel.database import connect

            # A server that is down or mistyped: its one line within seconds, before Dagster
            # and dbt load (no run is started, so none is recorded).
            connect(settings.warehouse, "loader").close()
        from orchestration.runs import print_run_report, run_job
        from warehouse.console import console, dbt_progress_on_terminal

        # Whatever else prints during the run is progress: to stderr, leaving stdout to the report.
        with contextlib.redirect_stdout(sys.stderr), dbt_progress_on_terminal(settings.log_format):
            report = run_job(settings, job_name, run_config=run_config)
        print_run_report(report, console)
    except KeyboardInterrupt:
        click.echo(f"warehouse {job_name}: interrupted; nothing is left half-written (every file "
                   "load and every dbt model commits on its own or not at all)", err=True)
        sys.exit(INTERRUPTED_EXIT_CODE)
    if report.interrupted:
        sys.exit(INTERRUPTED_EXIT_CODE)
    if not report.ok:
        sys.exit(1)


@main.command()
@target_option
@data_dir_option
def run(target: str | None, data_dir: Path | None) -> None:
    """Build the whole warehouse: load new or changed dumps, build dbt, run every check.

    Runs Dagster's `refresh` job in this process (it shows in `warehouse ui`'s run
    history) and prints the assets, their rows and the checks. Exits 1 if the run
    failed or an error-severity check did not pass.
    """
    settings = _settings(target, data_dir)
    _spark_not_yet(settings, "run")
    _run_job_and_report(settings, "refresh")


@main.command()
@target_option
@data_dir_option
def verify(target: str | None, data_dir: Path | None) -> None:
    """Run every check over whole tables: each dbt data test and the raw ledger checks.

    Runs Dagster's `verify` job in this process (a refresh tests only its batch on the
    big tables; this reads them whole) and prints the checks. Builds nothing. Exits 1 if
    the run failed or an error-severity check did not pass.
    """
    settings = _settings(target, data_dir)
    _spark_not_yet(settings, "verify")
    _run_job_and_report(settings, "verify")


@main.command()
@target_option
@data_dir_option
@click.option("--confirm", is_flag=True,
              help="Required: the raw tables and the load ledger are emptied before reloading.")
def reseed(target: str | None, data_dir: Path | None, confirm: bool) -> None:
    """Rebuild the warehouse from scratch: empty raw, reload every dump, full-refresh dbt."""
    if not confirm:
        raise click.UsageError("reseed deletes every raw row and the load ledger before reloading "
                               "every dump; pass --confirm to go ahead")
    settings = _settings(target, data_dir)
    _spark_not_yet(settings, "reseed")
    _run_job_and_report(settings, "reseed", {"confirm": True})


@main.command()
@target_option
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the UI listens on (0.0.0.0 for every interface).")
@click.option("--port", type=int, default=3000, show_default=True, help="Port the UI listens on.")
def ui(target: str | None, data_dir: Path | None, host: str, port: int) -> None:
    """Start the Dagster UI with its daemon (`dagster dev`): schedule, sensors and run queue.

    DAGSTER_HOME is this warehouse's instance (orchestration.instance), shared with
    `warehouse run`, so runs started there show here too. Ctrl-C or SIGTERM stops every
    process it started within seconds (orchestration.ui_server) and exits with 130.
    """
    import os
    import signal

    settings = _settings(target, data_dir)
    _spark_not_yet(settings, "ui")
    # As in `warehouse run`: a SIGTERM while the dbt project is parsed stops `dbt parse` too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        from orchestration.defs.transform.project import prepare_manifest
        from orchestration.instance import prepare_dagster_home, write_workspace
        from orchestration.ui_server import serve

        prepare_manifest(settings)
        home = prepare_dagster_home(settings)
        # The code location reads its settings itself: hand it what was given here, and the
        # data folder and the DuckDB file as absolute paths, whatever directory its processes
        # start in (the runs launched here must write the warehouse this instance belongs to).
        env = {**os.environ, "DAGSTER_HOME": str(home), "WAREHOUSE_DATA_DIR": str(settings.data_path),
               "WAREHOUSE_DUCKDB_PATH": str(settings.duckdb_path.expanduser().resolve())}
        if target:
            env["WAREHOUSE_TARGET"] = target
        command = [str(Path(sys.executable).parent / "dagster"), "dev", "-w", str(write_workspace(home)),
                   "-h", host, "-p", str(port)]
    except KeyboardInterrupt:
        click.echo("warehouse ui: interrupted before Dagster started", err=True)
        sys.exit(INTERRUPTED_EXIT_CODE)
    click.echo(f"Dagster UI on http://{host}:{port} (DAGSTER_HOME={env['DAGSTER_HOME']}); Ctrl-C stops it",
               err=True)
    exit_code = serve(command, env, interrupted_exit_code=INTERRUPTED_EXIT_CODE)
    # Nothing is left to clean up, and the interpreter's teardown of the ~1900 modules of
    # Dagster and dbt imported above takes seconds on a busy machine: skip it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)


@main.command()
@target_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the API listens on; beyond the loopback it needs WAREHOUSE_API_TOKENS.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port the API listens on.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes (one per core to spare; each has its own connections).")
def serve(target: str | None, host: str, port: int, workers: int) -> None:
    """Serve the read API (FastAPI; docs at /docs) over the analysts' view, read-only.

    Ctrl-C or SIGTERM stops it within seconds.
    """
    import os

    from api.server import TokensRequired
    from api.server import serve as serve_api

    settings = _settings(target, None)
    _spark_not_yet(settings, "serve")
    if target:
        # Worker processes read their settings from the environment.
        os.environ["WAREHOUSE_TARGET"] = target
    try:
        serve_api(settings, host, port, workers)
    except TokensRequired as error:
        raise click.UsageError(str(error)) from None


@main.command()
@target_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Most recent failures to list.")
def failures(target: str | None, limit: int) -> None:
    """List the latest failed runs, wherever they ran (terminal, UI, schedule, sensor).

    First records in ops.run_failures every failed run of the Dagster instance that it
    lacks (one that failed while the warehouse could not be written, or with no daemon to
    run the failure sensor). When the warehouse cannot be reached, lists the instance's
    failed runs and exits 1 naming the reason.
    """
    from rich.markup import escape
    from rich.table import Table

    from orchestration.defs.alerts.failed_runs import list_failures
    from orchestration.instance import open_instance
    from warehouse.console import console

    import os

    settings = _settings(target, None)
    _spark_not_yet(settings, "failures")
    # No Dagster home yet, no runs in it: none to create just to find that out.
    has_runs = bool(os.environ.get("DAGSTER_HOME")) or settings.dagster_instance_dir.exists()
    listing = list_failures(settings, open_instance(settings) if has_runs else None, limit)
    table = Table(title="failed runs", title_justify="left")
    for column in ("failed at", "job", "step", "run", "error"):
        table.add_column(column)
    for failure in listing.failures:
        table.add_row(f"{failure.failed_at:%Y-%m-%d %H:%M:%S}", failure.job_name, failure.step_key or "",
                      failure.run_id[:8], escape(failure.error))
    if listing.failures or listing.problem is None:
        console.print(table)
    if listing.problem is not None:
        click.echo(f"Error: {listing.problem}; failed runs listed from the Dagster run history only",
                   err=True)
        sys.exit(1)


@main.command()
@target_option
@click.argument("query", required=False)
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]), default=None,
              help="How to print results [default: table on a terminal, else csv].")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def sql(target: str | None, query: str | None, output_format: str | None, debug: bool) -> None:
    """Query the analysts' view of the warehouse, read-only.

    QUERY as an argument, else the queries piped into stdin, else an interactive prompt.
    On DuckDB it reads the analysts' copy that each successful run publishes
    (WAREHOUSE_DUCKDB_READER_PATH), never the live file, so it never holds up a run; on
    PostgreSQL the analysts' login (WAREHOUSE_READER_PG_DSN) in a read-only session.
    Exits 1 with one line if the query fails.
    """
    from warehouse.sql_console import run_sql

    if debug:  # as `warehouse --debug sql`: the command group prints the traceback
        click.get_current_context().find_root().ensure_object(dict)["debug"] = True
    settings = _settings(target, None)
    _spark_not_yet(settings, "sql")
    sys.exit(run_sql(settings, query, output_format, debug=debug))



@main.group()
def cluster() -> None:
    """A local Spark standalone cluster (master + workers on 127.0.0.1) for the spark target.

    For development and tests: the daemons run from the installed pyspark wheel, with pid
    files and logs under .state/spark/cluster/. A real cluster is run by its operators;
    point WAREHOUSE_SPARK_MASTER at it instead (docs/spark.md).
    """


state_dir_option = click.option(
    "--state-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Folder of the pid files, logs and work folders (default .state/spark/cluster).")


def _cluster_layout(state_dir: Path | None, master_port: int | None = None, ui_port: int | None = None):
    from dataclasses import replace

    from kernel.paths import STATE_DIR
    from kernel.spark_cluster import saved_layout

    layout = saved_layout(state_dir or STATE_DIR / "spark" / "cluster")
    return replace(layout, **{key: value for key, value in
                              {"master_port": master_port, "ui_port": ui_port}.items() if value is not None})


@cluster.command("start")
@click.option("--workers", type=click.IntRange(0, 16), default=2, show_default=True,
              help="Workers to run (started ones are kept; missing ones are added).")
@click.option("--worker-cores", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Cores each worker offers.")
@click.option("--worker-memory", default="2g", show_default=True,
              help="Memory each worker offers to executors (512m, 2g).")
@click.option("--master-port", type=click.IntRange(1, 65535), default=None,
              help="The master's port (default 7077, or the last start's).")
@click.option("--ui-port", type=click.IntRange(1, 65535), default=None,
              help="The master's web UI and JSON port (default 8080, or the last start's); "
                   "worker N's UI takes this port + N.")
@state_dir_option
def cluster_start(workers: int, worker_cores: int, worker_memory: str, master_port: int | None,
                  ui_port: int | None, state_dir: Path | None) -> None:
    """Start the master and N workers; return once every worker has registered."""
    import re

    from kernel.spark_cluster import start_cluster

    if not re.fullmatch(r"[1-9]\d*[kmgt]", worker_memory, re.IGNORECASE):
        raise click.UsageError(f"--worker-memory {worker_memory!r}: use a whole number with a unit "
                               "k, m, g or t (512m, 2g)")
    started = time.perf_counter()
    status = start_cluster(_cluster_layout(state_dir, master_port, ui_port), workers,
                           worker_cores=worker_cores, worker_memory=worker_memory)
    click.echo(status.describe())
    click.echo(f"ready in {time.perf_counter() - started:.1f} s; use WAREHOUSE_SPARK_MASTER={status.master_url}",
               err=True)


@cluster.command("stop")
@state_dir_option
def cluster_stop(state_dir: Path | None) -> None:
    """Stop the master and workers `cluster start` started (and nothing else)."""
    from kernel.spark_cluster import stop_cluster

    done = stop_cluster(_cluster_layout(state_dir))
    click.echo("\n".join(done) if done else "local Spark cluster: nothing to stop")


@cluster.command("status")
@state_dir_option
def cluster_status(state_dir: Path | None) -> None:
    """The master's workers and applications (from its JSON page); exit 1 if it is not running."""
    from kernel.spark_cluster import cluster_status as read_status

    status = read_status(_cluster_layout(state_dir))
    click.echo(status.describe())
    if not status.running:
        sys.exit(1)


if __name__ == "__main__":
    main()
