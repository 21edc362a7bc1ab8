"""Helpers of the Spark tests: free ports for a local cluster."""

from __future__ import annotations

import socket
from pathlib import Path

from kernel.spark_cluster import ClusterLayout


def free_ports(count: int) -> int:
    """The first of `count` consecutive TCP ports free on 127.0.0.1 (the master's UI at the
    first, worker N's UI at first + N)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65535:
            continue
        sockets = []
        try:
            for port in range(first, first + count):
                bound = socket.socket()
                sockets.append(bound)
                bound.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for bound in sockets:
                bound.close()
    raise RuntimeError("no run of free ports on 127.0.0.1")


def cluster_layout(state_dir: Path, workers: int) -> ClusterLayout:
    return ClusterLayout(state_dir=state_dir, master_port=free_ports(1), ui_port=free_ports(workers + 1))
