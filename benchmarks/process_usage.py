"""What a process takes: wall and CPU seconds and the peak memory of its whole tree.

The benchmarks time whole processes (`warehouse run`, the hand-written ceiling): the
process, the children it starts (dbt, Dagster's helpers) and DuckDB inside them.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.1


class RunFailed(Exception):
    """A measured process exited non-zero; its log holds why."""

    def __init__(self, what: str, exit_code: int, log: Path) -> None:
        super().__init__(f"{what} exited with {exit_code}; log: {log}")
        self.log = log


@dataclass(frozen=True)
class Usage:
    """What one process tree took: wall and CPU seconds, peak RSS (MB) of the tree and of
    its largest process."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    largest_process_rss_mb: float


def run_measured(command: list[str], *, env: dict[str, str], cwd: Path, log: Path,
                 what: str) -> Usage:
    """Run `command` to its end and measure it: peak RSS of the process tree sampled, CPU
    time and the largest process's peak from wait4. Raises RunFailed."""
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
