"""`warehouse ui` stops as a whole: after SIGTERM or Ctrl-C it exits with 130 within 10 s,
no process it started is left and its port is free; SIGKILLed, it leaves nothing behind
either (its watchdog stops the rest).

Real processes: `.venv/bin/warehouse ui` on a free port over an empty warehouse, started
in a session of its own as a shell starts a job. Its process tree (webserver, daemon,
code servers, ...) is read from /proc once the webserver answers, and every process of
it is looked for again after the signal, by pid and start time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.orchestration.test_ui_browser import free_port, wait_for_http

pytestmark = pytest.mark.timeout(600)

WAREHOUSE = Path(sys.executable).parent / "warehouse"
STARTUP_SECONDS = 240
STOP_SECONDS = 10
INTERRUPTED_EXIT_CODE = 130


@dataclass(frozen=True)
class TreeProcess:
    pid: int
    started: int  # clock ticks after boot: tells the process apart from a later one with its pid
    command: str


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from the state on (field 3), or None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:160]
    except OSError:
        return ""


def process_tree(root: int) -> list[TreeProcess]:
    """`root` and all its descendants, by parent pid."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := stat_fields(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            started[int(entry.name)] = int(fields[19])
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in started:
            tree.append(TreeProcess(pid, started[pid], command_line(pid)))
        todo.extend(children.get(pid, []))
    return tree


def alive(tree: list[TreeProcess]) -> list[TreeProcess]:
    """The processes of `tree` still running (a zombie has ended)."""
    left = []
    for process in tree:
        fields = stat_fields(process.pid)
        if fields and int(fields[19]) == process.started and fields[0] not in ("Z", "X"):
            left.append(process)
    return left


def wait_gone(tree: list[TreeProcess], seconds: float) -> list[TreeProcess]:
    deadline = time.monotonic() + seconds
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(tree)


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as probe:
        # As a server binds (connections of the stopped one may linger in TIME_WAIT).
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class RunningUi:
    process: subprocess.Popen
    port: int
    log: Path
    tree: list[TreeProcess]

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def running_ui(tmp_path: Path) -> Iterator[RunningUi]:
    """`warehouse ui` up and answering HTTP; whatever a failed test leaves is killed after it."""
    (tmp_path / "data").mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WAREHOUSE_", "DAGSTER_"))}
    env.update({"WAREHOUSE_DATA_DIR": str(tmp_path / "data"),
                "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
                "WAREHOUSE_DAGSTER_HOME": str(tmp_path / "dagster_home"),
                "WAREHOUSE_AUTOMATION_ENABLED": "false"})
    port = free_port()
    log = tmp_path / "warehouse-ui.log"
    with log.open("w") as output:
        process = subprocess.Popen([str(WAREHOUSE), "ui", "--port", str(port)], env=env, cwd=tmp_path,
                                   stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    ui = RunningUi(process, port, log, [])
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", process, log, STARTUP_SECONDS)
        ui.tree = process_tree(process.pid)
        yield ui
    finally:
        for left in alive(ui.tree or process_tree(process.pid)):
            os.kill(left.pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def assert_whole_tree_started(ui: RunningUi) -> None:
    commands = " | ".join(process.command for process in ui.tree)
    for part in ("dagster dev", "dagster_webserver", "dagster._daemon", "code-server"):
        assert part in commands, f"no {part!r} among the processes of `warehouse ui`: {commands}"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_stopped_ui_leaves_no_process_and_frees_its_port(
    running_ui: RunningUi, stop: signal.Signals
) -> None:
    ui = running_ui
    assert_whole_tree_started(ui)

    # Ctrl-C in a terminal signals the foreground job's process group: `warehouse ui`'s.
    started = time.monotonic()
    os.killpg(ui.process.pid, stop)
    try:
        exit_code = ui.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`warehouse ui` still running {STOP_SECONDS} s after {stop.name}:\n{ui.output()}")
    seconds = time.monotonic() - started

    left = alive(ui.tree)
    assert not left, (f"still running after `warehouse ui` exited ({seconds:.1f} s after {stop.name}):\n"
                      + "\n".join(f"{process.pid} {process.command}" for process in left))
    assert exit_code == INTERRUPTED_EXIT_CODE, ui.output()
    assert port_is_free(ui.port)
    assert f"warehouse ui: {stop.name} received" in ui.output()


def test_a_killed_ui_leaves_no_process_behind(running_ui: RunningUi) -> None:
    ui = running_ui
    assert_whole_tree_started(ui)

    ui.process.kill()
    assert ui.process.wait(timeout=5) == -signal.SIGKILL

    # The watchdog gives them the same grace as a SIGTERM would, then kills them.
    left = wait_gone(ui.tree, STOP_SECONDS)
    assert not left, (f"still running {STOP_SECONDS} s after `warehouse ui` was killed:\n"
                      + "\n".join(f"{process.pid} {process.command}" for process in left))
    assert port_is_free(ui.port)
