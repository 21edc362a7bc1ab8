"""Benchmark: what the time-weighted marts add to a dbt build, before against after.

On one DuckDB warehouse holding N rows (the refresh benchmark's dumps: `warehouse
generate --files 100 --seed 11`, the first 99 loaded), alternating rounds time, for the
dbt project of a base git ref (before the time-weighted marts; default `dbt-macros`) and
for this checkout's:

  * full build: `dbt build --full-refresh` (models, seed and data tests; no unit tests,
    as `warehouse run` builds);
  * refresh: the 100th dump loaded into a copy of the warehouse that project built, then
    `dbt build` (incremental, data tests scoped to the batch).

Both run dbt the way the orchestration does (the settings' environment, a parse cache
prepared beforehand, untimed), as whole processes; the machine's load average is printed
with each step. Per-model times come from dbt's run_results.json. Only the dbt step is
timed: loading and Dagster are the same before and after.

    .venv/bin/python benchmarks/time_weighted_benchmark.py --rows 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from kernel.dbt_profiles import DBT_PROJECT_DIR, dbt_env  # noqa: E402
from kernel.settings import Settings  # noqa: E402
from loaders.pipeline import load_directory  # noqa: E402
from loaders.sources.measurements import FILE_GLOB  # noqa: E402

NEW_MARTS = ("measurements_15min", "signal_daily")


@dataclass
class Timings:
    full: list[float] = field(default_factory=list)
    full_cpu: list[float] = field(default_factory=list)
    refresh: list[float] = field(default_factory=list)
    refresh_cpu: list[float] = field(default_factory=list)
    models: dict[str, list[float]] = field(default_factory=dict)  # full build, per model


def cached_dumps(rows: int, files: int, seed: int) -> Path:
    """The refresh benchmark's folder of generated dumps, generated on first use."""
    folder = OUT_DIR / f"dumps-{rows}-rows-{files}-files-seed-{seed}"
    if not folder.is_dir():
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run([BIN / "warehouse", "generate", "--out", str(partial), "--rows", str(rows),
                        "--files", str(files), "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
        partial.rename(folder)
    return folder


def base_project(ref: str, into: Path) -> Path:
    """dbt_project/ as it is at git `ref`, extracted into `into`."""
    archive = subprocess.run(["git", "archive", ref, "dbt_project"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "dbt_project"


def dbt(project: Path, settings: Settings, target_path: Path, *args: str) -> tuple[float, float, dict[str, float]]:
    """Run one dbt command; its wall and CPU seconds (DuckDB runs inside dbt's process, so
    the CPU time is the build's work, which other processes on the machine do not inflate
    as much as the wall time) and each model's execution seconds."""
    command = [str(BIN / "dbt"), *args, "--project-dir", str(project), "--profiles-dir", str(project),
               "--target", "duckdb", "--target-path", str(target_path),
               "--log-path", str(target_path / "logs")]
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("WAREHOUSE_", "DBT_"))}
    environment = {**inherited, **dbt_env(settings), "DBT_PROJECT_DIR": str(project),
                   "DBT_PROFILES_DIR": str(project)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, env=environment, cwd=project, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed in {project}:\n{completed.stdout[-4000:]}")
    results = target_path / "run_results.json"
    models = {}
    if results.exists():
        for result in json.loads(results.read_text())["results"]:
            if result["unique_id"].startswith("model."):
                models[result["unique_id"].split(".")[-1]] = result["execution_time"]
    return seconds, cpu, models


def load(settings: Settings) -> None:
    failed = [r for r in load_directory(settings.warehouse, settings.data_path) if r.status == "failed"]
    if failed:
        raise SystemExit(f"loads failed: {failed}")


def settings_for(duckdb_file: Path, data_dir: Path) -> Settings:
    return Settings(_env_file=None, env="dev", target="duckdb", data_dir=data_dir, duckdb_path=duckdb_file,
                    pg_dsn=None, transformer_pg_dsn=None, source_timezone="UTC")


def load_average() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--base-ref", default="dbt-macros",
                        help="git ref of the dbt project before the time-weighted marts (default dbt-macros)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()

    dumps = cached_dumps(args.rows, args.files, args.seed)
    measurement_dumps = sorted(dumps.glob(FILE_GLOB))
    workdir = Path(tempfile.mkdtemp(prefix="time-weighted-bench-"))
    try:
        projects = {"before": base_project(args.base_ref, workdir / "base"), "after": DBT_PROJECT_DIR}
        data_dir = workdir / "data"
        data_dir.mkdir()
        for path in [dumps / "assets.json", dumps / "signal.json", *measurement_dumps[:-1]]:
            os.symlink(path, data_dir / path.name)
        warehouse = workdir / "warehouse.duckdb"
        settings = settings_for(warehouse, data_dir)
        started = time.perf_counter()
        load(settings)
        print(f"loaded {len(measurement_dumps) - 1} dumps in {time.perf_counter() - started:.1f} s")
        for name, project in projects.items():  # the parse caches, untimed
            dbt(project, settings, workdir / f"target-{name}", "parse")

        timings = {name: Timings() for name in projects}
        for round_number in range(args.rounds):
            order = list(projects) if round_number % 2 == 0 else list(reversed(projects))
            for name in order:
                project, target = projects[name], workdir / f"target-{name}"
                seconds, cpu, models = dbt(project, settings, target, "build", "--full-refresh",
                                           "--exclude-resource-type", "unit_test")
                timings[name].full.append(seconds)
                timings[name].full_cpu.append(cpu)
                for model, model_seconds in models.items():
                    timings[name].models.setdefault(model, []).append(model_seconds)
                print(f"round {round_number + 1} {name:6} full build  {seconds:6.1f} s, cpu {cpu:6.1f} s"
                      f"  (load {load_average()})")

                copy_dir = workdir / f"refresh-{name}"
                copy_dir.mkdir()
                shutil.copyfile(warehouse, copy_dir / "warehouse.duckdb")
                copy_data = copy_dir / "data"
                shutil.copytree(data_dir, copy_data, symlinks=True)
                os.symlink(measurement_dumps[-1], copy_data / measurement_dumps[-1].name)
                copy_settings = settings_for(copy_dir / "warehouse.duckdb", copy_data)
                load(copy_settings)
                seconds, cpu, _ = dbt(project, copy_settings, target, "build", "--exclude-resource-type", "unit_test")
                timings[name].refresh.append(seconds)
                timings[name].refresh_cpu.append(cpu)
                print(f"round {round_number + 1} {name:6} refresh     {seconds:6.1f} s, cpu {cpu:6.1f} s"
                      f"  (load {load_average()})")
                shutil.rmtree(copy_dir)

        print_results(args.rows, timings)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def print_results(rows: int, timings: dict[str, Timings]) -> None:
    before, after = timings["before"], timings["after"]
    print(f"\n{rows:,} rows, medians of {len(before.full)} rounds (dbt processes, seconds)")
    for step in ("full", "full_cpu", "refresh", "refresh_cpu"):
        was, now = statistics.median(getattr(before, step)), statistics.median(getattr(after, step))
        label = step.replace("_cpu", " (cpu)").replace("full", "full build")
        print(f"{label:20} before {was:6.1f}  after {now:6.1f}  added {now - was:+6.1f} s ({(now / was - 1) * 100:+.0f} %)")
    print("\nmodel execution seconds in the full build (median):")
    for model in sorted(set(before.models) | set(after.models)):
        was = statistics.median(before.models[model]) if model in before.models else None
        now = statistics.median(after.models[model]) if model in after.models else None
        print(f"  {model:24} before {'' if was is None else f'{was:6.2f}':>6}  after {'' if now is None else f'{now:6.2f}':>6}")


if __name__ == "__main__":
    main()
