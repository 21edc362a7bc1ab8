"""A killed `warehouse run` never wedges the next one, which builds exactly what an
uninterrupted build does; a SIGTERMed one stops within seconds and leaves nothing behind.

Real processes on real databases: `.venv/bin/warehouse run` is started on a copy of the
sample data and killed at a point recognised in its output, in the two ways runs die:
the whole process group at once (a container restart) or the run's process alone (the
OOM killer), which leaves its dbt running as an orphan. Then `warehouse run` is started
again: it must end (never wait for a slot or a lock of the dead run), succeed, and the
analytics tables must equal those of the uninterrupted in-process build of the same files
(`duckdb_build`, `postgres_build`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil
import pytest

from orchestration.instance import open_instance
from tests.orchestration.conftest import Build, analytics_snapshot, build_settings, copy_sample_data, query
from kernel.settings import Settings

pytestmark = pytest.mark.timeout(900)

WAREHOUSE = Path(sys.executable).parent / "warehouse"
RUN_SECONDS = 300  # a run takes 20-40 s here; one waiting for a dead run's slot never ends
STOP_SECONDS = 10  # SIGTERM to gone
INTERRUPTED_EXIT_CODE = 130


@dataclass(frozen=True)
class KillPoint:
    name: str
    marker: re.Pattern[str]  # the line of `warehouse run`'s stderr after which the kill lands
    whole_group: bool  # a container restart; else the OOM killer taking the run's process only
    extra_env: tuple[tuple[str, str], ...] = ()


# After assets.json's load has committed, while the other files load (small batches make
# that take a few seconds).
DURING_LOAD = KillPoint("load", re.compile(r"load \d+ of assets\.json:"), whole_group=True,
                        extra_env=(("WAREHOUSE_BATCH_ROWS", "1000"),))
# After dbt's first model is built, while it builds the others.
DURING_DBT = KillPoint("dbt", re.compile(r"\d+ of \d+ OK created"), whole_group=False)


class WarehouseCli:
    """`warehouse run` as a process of its own, on a warehouse living under `root`."""

    def __init__(self, settings: Settings, root: Path):
        self.settings = settings
        self.root = root

    def env(self, extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("WAREHOUSE_", "DAGSTER_"))}
        env.update({
            "WAREHOUSE_TARGET": self.settings.target,
            "WAREHOUSE_DATA_DIR": str(self.settings.data_dir),
            "WAREHOUSE_DUCKDB_PATH": str(self.settings.duckdb_path),
            "WAREHOUSE_DAGSTER_HOME": str(self.settings.dagster_home),
            "WAREHOUSE_AUTOMATION_ENABLED": "false",
        })
        if self.settings.pg_dsn:
            env["WAREHOUSE_PG_DSN"] = self.settings.pg_dsn
        env.update(dict(extra))
        return env

    def start(self, extra_env: tuple[tuple[str, str], ...] = ()) -> subprocess.Popen:
        return subprocess.Popen([str(WAREHOUSE), "run"], env=self.env(extra_env), cwd=self.root,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    def run_to_the_end(self) -> subprocess.CompletedProcess:
        return subprocess.run([str(WAREHOUSE), "run"], env=self.env(), cwd=self.root, capture_output=True,
                              text=True, timeout=RUN_SECONDS, check=False)


def read_until(process: subprocess.Popen, marker: re.Pattern[str]) -> None:
    seen: list[str] = []
    for line in process.stderr:
        seen.append(line)
        if marker.search(line):
            return
    pytest.fail(f"`warehouse run` ended (exit {process.wait()}) before printing {marker.pattern!r}:\n"
                + "".join(seen[-30:]))


def descendants(process: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(process.pid).children(recursive=True)


def command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # ended meanwhile
        return ""


def still_running(processes: list[psutil.Process]) -> list[str]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{process.pid} {command_line(process)[:120]}")
        except psutil.NoSuchProcess:
            pass
    return alive


def wait_gone(processes: list[psutil.Process], seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while still_running(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    return still_running(processes)


@pytest.fixture
def warehouse_root(tmp_path: Path) -> Path:
    copy_sample_data(tmp_path / "data")
    return tmp_path


@pytest.fixture
def group_reaper() -> Iterator[list[subprocess.Popen]]:
    """Whatever a test leaves running (a failed assertion mid-run) is killed at its end."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def kill_and_run_again(cli: WarehouseCli, point: KillPoint, reaper: list[subprocess.Popen]) -> None:
    """Kill a run at `point`, then run again; the second run must succeed."""
    killed = cli.start(point.extra_env)
    reaper.append(killed)
    read_until(killed, point.marker)
    children = descendants(killed)
    if point.whole_group:
        os.killpg(killed.pid, signal.SIGKILL)
    else:
        killed.kill()
    killed.wait()

    if point.name == "load":
        # The kill landed inside the load: some files committed, not all.
        loaded = query(cli.settings, "SELECT count(*) FROM raw.load_ledger WHERE status = 'loaded'")[0][0]
        assert loaded in (1, 2, 3)

    again = cli.run_to_the_end()
    assert again.returncode == 0, again.stderr[-4000:]
    assert "(refresh) succeeded" in again.stdout
    # An orphaned dbt finished meanwhile or was stopped by the new run.
    assert wait_gone(children, 10) == []

    instance = open_instance(cli.settings)
    killed_run, = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    messages = "\n".join(entry.message or "" for entry in instance.all_logs(killed_run.run_id))
    assert f"process (pid {killed.pid} on host" in messages and "no longer exists" in messages


@pytest.mark.parametrize("point", [DURING_LOAD, DURING_DBT], ids=lambda point: point.name)
def test_a_run_killed_on_duckdb_never_wedges_the_next_which_builds_the_same_tables(
        point: KillPoint, warehouse_root: Path, duckdb_build: Build, group_reaper: list) -> None:
    cli = WarehouseCli(build_settings(warehouse_root), warehouse_root)
    kill_and_run_again(cli, point, group_reaper)
    assert analytics_snapshot(cli.settings) == duckdb_build.analytics


@pytest.mark.postgres
def test_a_run_killed_during_dbt_on_postgres_never_wedges_the_next_which_builds_the_same_tables(
        warehouse_root: Path, pg_dsn: str, postgres_build: Build, group_reaper: list) -> None:
    cli = WarehouseCli(build_settings(warehouse_root, target="postgres", pg_dsn=pg_dsn), warehouse_root)
    kill_and_run_again(cli, DURING_DBT, group_reaper)
    assert analytics_snapshot(cli.settings) == postgres_build.analytics


def test_sigterm_during_dbt_stops_the_run_within_seconds_leaving_no_process_behind(
        warehouse_root: Path, duckdb_build: Build, group_reaper: list) -> None:
    cli = WarehouseCli(build_settings(warehouse_root), warehouse_root)
    run = cli.start()
    group_reaper.append(run)
    read_until(run, DURING_DBT.marker)
    children = descendants(run)
    # global flags such as --no-write-json stand between dbt and its command
    assert any(re.search(r"bin/dbt( --[\w-]+)* build\b", command_line(child)) for child in children)

    sent = time.monotonic()
    run.send_signal(signal.SIGTERM)  # to the run's process only, as `docker stop` does
    stdout, stderr = run.communicate(timeout=STOP_SECONDS)
    assert run.returncode == INTERRUPTED_EXIT_CODE
    # dbt, and Dagster's helpers (log tailers, multiprocessing's resource tracker), which
    # end when they see their parent gone: all of them within the same 10 s.
    assert wait_gone(children, STOP_SECONDS - (time.monotonic() - sent)) == []
    assert time.monotonic() - sent < STOP_SECONDS
    last_line = stdout.strip().splitlines()[-1]
    assert "interrupted in step dbt_models" in last_line and "marked failed" in last_line

    instance = open_instance(cli.settings)
    [interrupted] = instance.get_runs()
    assert interrupted.status == dg.DagsterRunStatus.FAILURE

    again = cli.run_to_the_end()
    assert again.returncode == 0, again.stderr[-4000:]
    assert analytics_snapshot(cli.settings) == duckdb_build.analytics
