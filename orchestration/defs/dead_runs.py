"""Runs whose process is gone: told apart by the process they recorded, and marked failed.

A run killed where it cannot say so (SIGKILL, the OOM killer, a container restart) stays
STARTED in the instance for ever: the run queue counts it against the one-writer limit,
and the schedule and the dump sensor wait for it. Dagster's run monitoring does not help
here: `warehouse run` executes in its own process, outside any run launcher, and the
DefaultRunLauncher of the deployment cannot check a run worker's health either.

So every run that writes the warehouse records its process in its tags (pid, host name,
process start time): `warehouse run` when it creates the run, every writing
step when it starts (which covers runs the daemon launched). Before a writing run starts
(`warehouse run`/`reseed`) or is requested (schedule, dump sensor), the unfinished runs
recorded on this host are checked, and those whose process no longer exists are marked
failed, with a message in their event log, and lose any concurrency slot they held. A
dbt process such a run had started and that still runs is stopped: nobody would record
what it builds, and on PostgreSQL nothing else keeps it from building alongside the next
run's dbt.

A run recorded under another host name (another container: each has a name of its own,
kept across restarts) cannot be checked from here; only a process under its own host name
clears it, or an operator in the UI. Two containers given one host name would take each
other's live runs for dead: give each its own.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance, DagsterRun

log = logging.getLogger(__name__)

PID_TAG = "gridwarehouse/pid"
HOST_TAG = "gridwarehouse/host"
# Boot id and start time in clock ticks (Linux): a pid reused by a later process is not
# taken for the dead run's process. A restarted container keeps its host name but counts
# pids from 1 again, so its code server's pid may well be the dead run's.
PROCESS_START_TAG = "gridwarehouse/process_start"
# "pid/start" of the process the run is waiting for (dbt); empty once it has ended.
SUBPROCESS_TAG = "gridwarehouse/subprocess"
# How long a left-behind process gets to stop on SIGINT (dbt cancels its queries) before SIGKILL.
STOP_SECONDS = 5.0


def process_tags() -> dict[str, str]:
    """The tags that let a process on this host tell whether this process still runs."""
    tags = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    started = _process_start(os.getpid())
    if started:
        tags[PROCESS_START_TAG] = started
    return tags


def record_process(instance: DagsterInstance, run_id: str) -> None:
    """Tag the run with this process unless it already is (a step of a launched run)."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return
    tags = process_tags()
    if any(run.tags.get(key) != value for key, value in tags.items()):
        instance.add_run_tags(run_id, tags)


def record_subprocess(instance: DagsterInstance, run_id: str, pid: int | None) -> None:
    """Tag the run with the process it started (`pid`), or with none once that one ended.

    Recorded only where its start time is known (Linux): that is what makes it safe for
    a later process to stop it, rather than whatever process has that pid by then.
    """
    started = _process_start(pid) if pid is not None else None
    instance.add_run_tags(run_id, {SUBPROCESS_TAG: f"{pid}/{started}" if started else ""})


def process_alive(pid: int, started: str | None = None) -> bool:
    """Whether process `pid` of this host exists and, when `started` is known, is the same one."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    if not Path("/proc/self/stat").exists():
        return True
    state = _proc_stat(pid)
    if state is None or state[0] in ("Z", "X"):
        return False  # gone since, or a zombie: dead, only not yet reaped by its parent
    return started is None or _process_start(pid) == started


def dead_run_process(run: DagsterRun) -> str | None:
    """`pid N on host H` when `run` recorded a process of this host that is gone, else None."""
    tags = run.tags
    if PID_TAG not in tags or tags.get(HOST_TAG) != socket.gethostname():
        return None
    pid = int(tags[PID_TAG])
    if process_alive(pid, tags.get(PROCESS_START_TAG)):
        return None
    return f"pid {pid} on host {tags[HOST_TAG]}"


def fail_dead_runs(instance: DagsterInstance, *, by: str) -> list[str]:
    """Mark failed every unfinished run whose recorded process on this host is gone.

    `by` names who noticed (shown in the run's event log). Also frees the concurrency
    slots of finished runs that still hold some. Returns the ids of the runs marked failed.
    """
    import dagster as dg

    unfinished = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                  dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
    failed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=unfinished)):
        process = dead_run_process(run)
        if process is None:
            continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.is_finished:
            continue  # someone else marked it meanwhile
        instance.report_run_failed(current, message=(
            f"Marked failed by {by}: the run's process ({process}) no longer exists, so it was "
            f"killed or crashed without recording its end. Its warehouse writer lock died with it, "
            f"and the database rolled back what its step had not committed (each file load and "
            f"each dbt model commits on its own); the next run carries on from there."))
        log.warning("run %s (%s) marked failed: its process (%s) is gone", run.run_id, run.job_name, process)
        stopped = stop_left_behind(current.tags.get(SUBPROCESS_TAG, ""))
        if stopped:
            instance.report_engine_event(
                f"{by} stopped process {stopped}, which this run had started and which outlived it.",
                current)
            log.warning("stopped process %s left behind by run %s", stopped, run.run_id)
        failed.append(run.run_id)
    free_slots_of_finished_runs(instance)
    return failed


def stop_left_behind(recorded: str) -> int | None:
    """Stop the process a dead run recorded (SUBPROCESS_TAG) if it still runs; its pid, or None."""
    pid_text, _, started = recorded.partition("/")
    if not pid_text or not started:
        return None
    pid = int(pid_text)
    if not process_alive(pid, started):
        return None
    for stop_signal in (signal.SIGINT, signal.SIGKILL):
        try:
            os.kill(pid, stop_signal)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline and process_alive(pid, started):
            time.sleep(0.1)
        if not process_alive(pid, started):
            break
    return pid


def free_slots_of_finished_runs(instance: DagsterInstance) -> list[str]:
    """Free the concurrency-pool slots still held by runs that have ended (or vanished).

    Dagster frees a run's slots when the run itself ends them; a run marked failed from
    outside (here, or in the UI) keeps them until the daemon's optional clean-up. Returns
    the ids of the runs whose slots were freed.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    freed = []
    for key in storage.get_concurrency_keys():
        for run_id in storage.get_concurrency_info(key).active_run_ids:
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(run_id)
                log.warning("freed the %r pool slot held by ended run %s", key, run_id)
                freed.append(run_id)
    return freed


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (state first), or None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    return text.rsplit(")", 1)[1].split()


def _process_start(pid: int) -> str | None:
    stat = _proc_stat(pid)
    if stat is None:
        return None
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return f"{boot}:{stat[19]}"  # field 22: start time, in clock ticks after boot
