"""`warehouse cluster start|stop|status`: real Spark daemons from the pyspark wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from spark_harness import cluster_layout

from kernel.spark_cluster import (MASTER_CLASS, WORKER_CLASS, ClusterLayout, DaemonProcess, cluster_status,
                                  process_start_ticks)

WAREHOUSE = str(Path(sys.executable).with_name("warehouse"))


def master_json(layout: ClusterLayout) -> dict:
    with urllib.request.urlopen(f"{layout.ui_url}/json/", timeout=5) as response:
        return json.load(response)


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_start_returns_once_both_workers_registered_with_the_master(spark_cluster: ClusterLayout) -> None:
    answer = master_json(spark_cluster)
    assert answer["status"] == "ALIVE"
    assert answer["url"] == spark_cluster.master_url
    alive = sorted(worker["webuiaddress"] for worker in answer["workers"] if worker["state"] == "ALIVE")
    assert alive == [f"http://127.0.0.1:{spark_cluster.ui_port + 1}", f"http://127.0.0.1:{spark_cluster.ui_port + 2}"]
    assert [worker["cores"] for worker in answer["workers"]] == [1, 1]
    assert [worker["memory"] for worker in answer["workers"]] == [2048, 2048]


def test_each_daemon_is_a_jvm_of_the_wheel_with_its_pid_file_and_log(spark_cluster: ClusterLayout) -> None:
    status = cluster_status(spark_cluster)
    assert [daemon.name for daemon in status.daemons] == ["master", "worker-1", "worker-2"]
    for daemon in status.daemons:
        assert daemon.is_running()
        assert (MASTER_CLASS if daemon.name == "master" else WORKER_CLASS) in cmdline(daemon.pid)
        assert "site-packages/pyspark/jars" in cmdline(daemon.pid)
        assert spark_cluster.log_file(daemon.name).stat().st_size > 0
    recorded = DaemonProcess.read(spark_cluster.worker_pid_file(2))
    assert recorded is not None and recorded.start_ticks == process_start_ticks(recorded.pid)


def test_status_prints_the_workers_and_applications(spark_cluster: ClusterLayout) -> None:
    answer = subprocess.run([WAREHOUSE, "cluster", "status", "--state-dir", str(spark_cluster.state_dir)],
                            capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert f"local Spark cluster: master {spark_cluster.master_url}, UI {spark_cluster.ui_url}" in answer.stdout
    assert "workers alive: 2" in answer.stdout
    assert "applications running: 0" in answer.stdout


def test_stop_ends_its_own_daemons_only_is_idempotent_and_clears_a_stale_pid_file(tmp_path: Path) -> None:
    layout = cluster_layout(tmp_path / "cluster", workers=1)
    command = [WAREHOUSE, "cluster"]
    where = ["--state-dir", str(layout.state_dir)]
    started = subprocess.run([*command, "start", "--workers", "1", "--master-port", str(layout.master_port),
                              "--ui-port", str(layout.ui_port), *where], capture_output=True, text=True, timeout=300)
    # A process that is no daemon of ours, recorded under a pid file as a stale one would be
    # when the kernel has given a dead daemon's pid to another process: same pid, other start.
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        assert started.returncode == 0, started.stderr
        assert "workers alive: 1" in started.stdout
        daemons = [DaemonProcess.read(layout.master_pid_file), DaemonProcess.read(layout.worker_pid_file(1))]
        assert all(daemon is not None and daemon.is_running() for daemon in daemons)
        DaemonProcess("worker-7", bystander.pid, process_start_ticks(bystander.pid) + 1, WORKER_CLASS,
                      layout.ui_port + 7).write(layout.worker_pid_file(7))
        DaemonProcess("worker-8", 2**22 + 1, 1, WORKER_CLASS, layout.ui_port + 8).write(layout.worker_pid_file(8))

        stopped = subprocess.run([*command, "stop", *where], capture_output=True, text=True, timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.splitlines() == [
            f"worker-1: pid {daemons[1].pid} stopped",
            f"worker-7: stale pid file (pid {bystander.pid} not running), removed",
            f"worker-8: stale pid file (pid {2**22 + 1} not running), removed",
            f"master: pid {daemons[0].pid} stopped",
        ]
        assert bystander.poll() is None
        assert not any(daemon.is_running() for daemon in daemons)
        assert list(layout.state_dir.glob("*.pid")) == []

        again = subprocess.run([*command, "stop", *where], capture_output=True, text=True, timeout=60)
        assert (again.returncode, again.stdout) == (0, "local Spark cluster: nothing to stop\n")
        status = subprocess.run([*command, "status", *where], capture_output=True, text=True, timeout=60)
        assert status.returncode == 1
        assert status.stdout == f"local Spark cluster: not running (no master at {layout.ui_url})\n"
    finally:
        bystander.kill()
        bystander.wait()
        subprocess.run([*command, "stop", *where], capture_output=True, timeout=120)


def test_start_over_a_busy_port_fails_naming_the_log(tmp_path: Path) -> None:
    import socket

    layout = cluster_layout(tmp_path / "cluster", workers=0)
    with socket.socket() as occupant:
        occupant.bind(("127.0.0.1", layout.master_port))
        occupant.listen()
        answer = subprocess.run([WAREHOUSE, "cluster", "start", "--workers", "0", "--master-port",
                                 str(layout.master_port), "--ui-port", str(layout.ui_port),
                                 "--state-dir", str(layout.state_dir)], capture_output=True, text=True,
                                timeout=300)
    try:
        assert answer.returncode == 1
        assert answer.stderr.startswith(f"Error: the master did not answer on {layout.ui_url}: master (pid ")
        assert f"exited; its log {layout.log_file('master')} ends: " in answer.stderr
    finally:
        subprocess.run([WAREHOUSE, "cluster", "stop", "--state-dir", str(layout.state_dir)], timeout=120)
    assert list(layout.state_dir.glob("*.pid")) == []


def test_start_without_spark_in_the_pyspark_package_says_how_to_install_it(tmp_path: Path) -> None:
    # A `pyspark` package without Spark's launch scripts ahead of the installed one.
    (tmp_path / "pyspark").mkdir()
    (tmp_path / "pyspark" / "__init__.py").write_text("")
    layout = cluster_layout(tmp_path / "cluster", workers=0)
    answer = subprocess.run([WAREHOUSE, "cluster", "start", "--master-port", str(layout.master_port),
                             "--ui-port", str(layout.ui_port), "--state-dir", str(layout.state_dir)],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(tmp_path)}, cwd=tmp_path)
    assert answer.returncode == 1
    assert answer.stderr == (f"Error: {tmp_path / 'pyspark'} holds no bin/spark-class: reinstall pyspark "
                             "(`make install-spark`)\n")
    assert not layout.master_pid_file.exists()
