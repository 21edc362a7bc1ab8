"""A local Spark standalone cluster for development and tests: one master, N workers.

`warehouse cluster start|stop|status` runs Spark's own daemons from the installed pyspark
wheel (`$SPARK_HOME/bin/spark-class org.apache.spark.deploy.master.Master`, `...Worker`),
each a process of its own on 127.0.0.1, with its pid file and log under
`.state/spark/cluster/`. Start waits until every worker has registered with the master;
stop ends exactly the processes it started (a pid file names the process by pid *and*
its start time, so a pid the kernel has since given to another process is never
signalled) and is a no-op when nothing runs; status reads the master's JSON page
(`http://127.0.0.1:<ui port>/json/`): its workers and applications.

A real cluster is started by its operators; the warehouse then only needs
WAREHOUSE_SPARK_MASTER pointing at it (docs/spark.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kernel.paths import STATE_DIR

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
HOST = "127.0.0.1"
DEFAULT_MASTER_PORT = 7077
DEFAULT_UI_PORT = 8080
# A JVM daemon starts in 5-20 s on a busy machine; registration follows within seconds.
START_TIMEOUT_SECONDS = 120.0
STOP_GRACE_SECONDS = 10.0


class ClusterError(Exception):
    """The local cluster cannot be started, stopped or asked; the message says why and
    what to do."""


@dataclass(frozen=True)
class ClusterLayout:
    """Where a local cluster keeps its pid files, logs and work folders, and its ports."""

    state_dir: Path = STATE_DIR / "spark" / "cluster"
    master_port: int = DEFAULT_MASTER_PORT
    ui_port: int = DEFAULT_UI_PORT

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.master_port}"

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.ui_port}"

    @property
    def master_pid_file(self) -> Path:
        return self.state_dir / "master.pid"

    def worker_pid_file(self, number: int) -> Path:
        return self.state_dir / f"worker-{number}.pid"

    def log_file(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def worker_pid_files(self) -> list[Path]:
        return sorted(self.state_dir.glob("worker-*.pid"), key=lambda path: int(path.stem.split("-")[1]))


def saved_layout(state_dir: Path = STATE_DIR / "spark" / "cluster") -> ClusterLayout:
    """The layout the last `start_cluster` in `state_dir` used (its ports), else the defaults."""
    try:
        saved = json.loads((state_dir / "cluster.json").read_text(encoding="utf-8"))
        return ClusterLayout(state_dir, int(saved["master_port"]), int(saved["ui_port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return ClusterLayout(state_dir)


@dataclass(frozen=True)
class DaemonProcess:
    """One daemon this module started, as its pid file records it."""

    name: str
    pid: int
    # The process's start time in clock ticks since boot (/proc/<pid>/stat, field 22):
    # with the pid, it names one process for as long as the machine runs.
    start_ticks: int
    main_class: str
    ui_port: int

    def is_running(self) -> bool:
        """The recorded process is alive (not a later process that was given the same pid)."""
        ticks = process_start_ticks(self.pid)
        return ticks is not None and ticks == self.start_ticks and not _is_zombie(self.pid)

    def write(self, path: Path) -> None:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(temporary, path)

    @classmethod
    def read(cls, path: Path) -> DaemonProcess | None:
        """The process `path` records; None for a file that records none (cut short, edited)."""
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None


@dataclass
class ClusterStatus:
    """What the master says about its cluster, with the daemons this module runs."""

    master_url: str
    ui_url: str
    running: bool
    daemons: list[DaemonProcess] = field(default_factory=list)
    workers: list[dict] = field(default_factory=list)
    applications: list[dict] = field(default_factory=list)
    completed_applications: list[dict] = field(default_factory=list)

    @property
    def alive_workers(self) -> list[dict]:
        return [worker for worker in self.workers if worker.get("state") == "ALIVE"]

    def describe(self) -> str:
        if not self.running:
            return f"local Spark cluster: not running (no master at {self.ui_url})"
        lines = [f"local Spark cluster: master {self.master_url}, UI {self.ui_url}",
                 f"workers alive: {len(self.alive_workers)}"]
        for worker in self.workers:
            lines.append(f"  {worker['id']}  {worker['state']}  cores {worker['coresused']}/{worker['cores']}"
                         f"  memory {worker['memoryused']}/{worker['memory']} MB  {worker['webuiaddress']}")
        lines.append(f"applications running: {len(self.applications)}")
        for app in self.applications:
            lines.append(f"  {app['id']}  {app['name']}  {app['state']}  cores {app['cores']}")
        if self.completed_applications:
            lines.append(f"applications completed: {len(self.completed_applications)}")
        lines.append("processes: " + (", ".join(f"{daemon.name} pid {daemon.pid}" for daemon in self.daemons)
                                      or "none started by `warehouse cluster start` (an outside master)"))
        return "\n".join(lines)


def spark_home() -> Path:
    """The installed pyspark package folder: Spark's jars and launch scripts (SPARK_HOME)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise ClusterError("pyspark is not installed: the Spark target's packages are the optional "
                           "extra `spark` (`make install-spark`, or `uv sync --extra spark`)")
    home = Path(next(iter(spec.submodule_search_locations)))
    if not (home / "bin" / "spark-class").is_file():
        raise ClusterError(f"{home} holds no bin/spark-class: reinstall pyspark (`make install-spark`)")
    return home


def start_cluster(layout: ClusterLayout, workers: int = 2, *, worker_cores: int = 1,
                  worker_memory: str = "2g", timeout: float = START_TIMEOUT_SECONDS) -> ClusterStatus:
    """Start the master (unless it runs) and workers until `workers` of ours run; wait
    until all of them registered with the master."""
    if workers < 0:
        raise ClusterError(f"--workers {workers}: a cluster has zero or more workers")
    home = spark_home()
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ClusterError("no `java` on PATH and JAVA_HOME unset: Spark needs Java 17 (apt install "
                           "openjdk-17-jre-headless)")
    layout.state_dir.mkdir(parents=True, exist_ok=True)
    (layout.state_dir / "logs").mkdir(exist_ok=True)
    _forget_stale_pid_files(layout)
    (layout.state_dir / "cluster.json").write_text(
        json.dumps({"master_port": layout.master_port, "ui_port": layout.ui_port}), encoding="utf-8")

    master = DaemonProcess.read(layout.master_pid_file)
    if master is None:
        if _master_json(layout) is not None:
            raise ClusterError(f"another process answers on {layout.ui_url} (not a master this command "
                               "started): stop it, or start on other ports (--master-port, --ui-port)")
        master = _spawn(home, layout, "master", MASTER_CLASS,
                        ["--host", HOST, "--port", str(layout.master_port), "--webui-port", str(layout.ui_port)],
                        ui_port=layout.ui_port)
        _wait_for(lambda: (_master_json(layout) or {}).get("status") == "ALIVE", master, layout, timeout,
                  f"the master did not answer on {layout.ui_url}")

    running = [daemon for path in layout.worker_pid_files() if (daemon := DaemonProcess.read(path))]
    numbers = {int(daemon.name.split("-")[1]) for daemon in running}
    started = []
    for number in range(1, workers + 1):
        if number in numbers:
            continue
        ui_port = layout.ui_port + number
        work_dir = layout.state_dir / "work" / f"worker-{number}"
        work_dir.mkdir(parents=True, exist_ok=True)
        started.append(_spawn(home, layout, f"worker-{number}", WORKER_CLASS,
                              [layout.master_url, "--host", HOST, "--cores", str(worker_cores), "--memory",
                               worker_memory, "--webui-port", str(ui_port), "--work-dir", str(work_dir)],
                              ui_port=ui_port))
    ours = running + started
    expected = {f"{HOST}:{daemon.ui_port}" for daemon in ours if daemon.name.startswith("worker-")}

    def all_registered() -> bool:
        answer = _master_json(layout) or {}
        alive = {worker["webuiaddress"].removeprefix("http://") for worker in answer.get("workers", [])
                 if worker.get("state") == "ALIVE"}
        return expected <= alive

    for daemon in started:
        _wait_for(all_registered, daemon, layout, timeout,
                  f"{len(expected)} worker(s) did not all register with {layout.master_url}")
    if not started:
        _wait_for(all_registered, master, layout, timeout, "the workers did not register")
    return cluster_status(layout)


def stop_cluster(layout: ClusterLayout, *, grace_seconds: float = STOP_GRACE_SECONDS) -> list[str]:
    """Stop the daemons `start_cluster` started (workers first), and only those; return
    one line per pid file handled. Stopping a stopped cluster does nothing."""
    done = []
    for path in [*layout.worker_pid_files(), layout.master_pid_file]:
        if not path.exists():
            continue
        daemon = DaemonProcess.read(path)
        if daemon is None or not daemon.is_running():
            described = f"pid {daemon.pid}" if daemon else "no process"
            done.append(f"{path.stem}: stale pid file ({described} not running), removed")
            path.unlink(missing_ok=True)
            continue
        _terminate(daemon, grace_seconds)
        path.unlink(missing_ok=True)
        done.append(f"{daemon.name}: pid {daemon.pid} stopped")
    return done


def cluster_status(layout: ClusterLayout) -> ClusterStatus:
    """The daemons we run and the master's view of workers and applications."""
    daemons = [daemon for path in [layout.master_pid_file, *layout.worker_pid_files()]
               if (daemon := DaemonProcess.read(path)) is not None and daemon.is_running()]
    answer = _master_json(layout)
    if answer is None:
        return ClusterStatus(layout.master_url, layout.ui_url, running=False, daemons=daemons)
    return ClusterStatus(answer.get("url", layout.master_url), layout.ui_url, running=True, daemons=daemons,
                         workers=answer.get("workers", []), applications=answer.get("activeapps", []),
                         completed_applications=answer.get("completedapps", []))


def process_start_ticks(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot); None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return int(stat.rsplit(")", 1)[1].split()[19])


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def _forget_stale_pid_files(layout: ClusterLayout) -> None:
    for path in [layout.master_pid_file, *layout.worker_pid_files()]:
        daemon = DaemonProcess.read(path)
        if daemon is None or not daemon.is_running():
            path.unlink(missing_ok=True)


def _spawn(home: Path, layout: ClusterLayout, name: str, main_class: str, arguments: list[str], *,
           ui_port: int) -> DaemonProcess:
    # A busy port fails the daemon (and says so in its log) instead of Spark quietly
    # taking the next one, where this module would not find it. No REST submission
    # server: nothing here submits through it, and its fixed port (6066) would keep a
    # second local cluster from starting.
    options = (f"{os.environ.get('SPARK_DAEMON_JAVA_OPTS', '')} -Dspark.port.maxRetries=0 "
               "-Dspark.master.rest.enabled=false").strip()
    environment = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": HOST,
                   "SPARK_LOG_DIR": str(layout.state_dir / "logs"), "SPARK_NO_DAEMONIZE": "1",
                   "SPARK_DAEMON_JAVA_OPTS": options}
    log_path = layout.log_file(name)
    with log_path.open("ab") as log:
        # A session of its own: Ctrl-C in the terminal that started it does not reach the
        # daemon. spark-class ends by exec'ing the JVM, so this pid is the daemon's.
        process = subprocess.Popen([str(home / "bin" / "spark-class"), main_class, *arguments],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=environment, start_new_session=True, cwd=layout.state_dir)
    ticks = process_start_ticks(process.pid)
    if ticks is None:
        raise ClusterError(f"{name} exited at once; see {log_path}")
    daemon = DaemonProcess(name, process.pid, ticks, main_class, ui_port)
    pid_file = layout.master_pid_file if name == "master" else layout.worker_pid_file(int(name.split("-")[1]))
    daemon.write(pid_file)
    return daemon


def _wait_for(condition, daemon: DaemonProcess, layout: ClusterLayout, timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        log_path = layout.log_file(daemon.name)
        if not daemon.is_running():
            _reap(daemon.pid)
            raise ClusterError(f"{failure}: {daemon.name} (pid {daemon.pid}) exited; its log {log_path} "
                               f"ends: {_last_line(log_path)}")
        if time.monotonic() > deadline:
            raise ClusterError(f"{failure} within {timeout:.0f} s; see {log_path} (`warehouse cluster stop` "
                               "ends what did start)")
        time.sleep(0.5)


def _terminate(daemon: DaemonProcess, grace_seconds: float) -> None:
    try:
        os.kill(daemon.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_seconds
    while daemon.is_running() and time.monotonic() < deadline:
        _reap(daemon.pid)
        time.sleep(0.2)
    if daemon.is_running():
        os.kill(daemon.pid, signal.SIGKILL)
        while daemon.is_running():
            _reap(daemon.pid)
            time.sleep(0.1)
    _reap(daemon.pid)


def _reap(pid: int) -> None:
    # A daemon started by this very process (the tests) stays a zombie until waited for.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _master_json(layout: ClusterLayout) -> dict | None:
    try:
        with urllib.request.urlopen(f"{layout.ui_url}/json/", timeout=2) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    errors = [line for line in lines if "ERROR" in line or "Exception" in line]
    return (errors or lines or ["(empty)"])[-1].strip()[:300]
