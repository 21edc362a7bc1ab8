"""The `warehouse` command: generate sample dumps, load them, run and watch the pipeline.

Heavy imports (Polars, Dagster, dbt) happen inside each command, so `warehouse --help`
answers at once.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from warehouse.settings import Settings, SettingsError, load_settings


def _settings(target: str | None, data_dir: Path | None) -> Settings:
    try:
        settings = load_settings(target=target, data_dir=data_dir)
    except SettingsError as error:
        raise click.UsageError(str(error)) from None
    from warehouse.logging_config import configure_logging

    configure_logging(settings)
    return settings


target_option = click.option(
    "--target", type=click.Choice(["duckdb", "postgres"]), default=None,
    help="Warehouse to write (overrides WAREHOUSE_TARGET; default duckdb).")
data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Folder holding assets.json, signal.json and measurements*.csv (overrides WAREHOUSE_DATA_DIR).")


@click.group()
def main() -> None:
    """gridwarehouse: power-grid telemetry from the operator's dumps to analytics tables."""


@main.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder to write assets.json, signal.json and measurements_NNN.csv into.")
@click.option("--rows", type=click.IntRange(min=0), default=300_000, show_default=True,
              help="Measurement rows in all dumps together.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--files", type=click.IntRange(min=1), default=2, show_default=True,
              help="Number of measurement dumps to split the rows over.")
@click.option("--assets", "asset_count", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--signals", "signal_count", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--defect-rate", type=click.FloatRange(0, 0.5), default=None,
              help="Share of rows carrying one of the defects real dumps have (0 for a clean set).")
def generate(out_dir: Path, rows: int, seed: int, files: int, asset_count: int, signal_count: int,
             defect_rate: float | None) -> None:
    """Write sample dumps in the operator's exact dialect (BOM, pipe, decimal comma)."""
    from warehouse.sample_data import generate_dumps

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
    from loaders.errors import LoaderError
    from loaders.pipeline import load_directory
    from warehouse.console import LoadProgress, print_load_results

    settings = _settings(target, data_dir)
    try:
        with LoadProgress() as progress:
            results = load_directory(settings, progress=progress.update)
    except LoaderError as error:
        raise click.ClickException(str(error)) from None
    print_load_results(results, target=settings.target)
    if any(result.status == "failed" for result in results):
        sys.exit(1)


@main.command()
@target_option
def migrate(target: str | None) -> None:
    """Apply the raw schema's missing migrations (roles included: run it as the database's admin)."""
    from loaders.errors import LoaderError
    from loaders.sinks import open_sink

    settings = _settings(target, None)
    try:
        with open_sink(settings) as sink, sink.writer_lock():
            applied = sink.migrate()
    except LoaderError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"applied {', '.join(applied)}" if applied else "raw schema up to date")


if __name__ == "__main__":
    main()
