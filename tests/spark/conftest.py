"""A real local Spark cluster (master + two workers) for the Spark tests, started once per
session by the same code as `warehouse cluster start`, and stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.spark_cluster import ClusterLayout, start_cluster, stop_cluster
from spark_harness import cluster_layout


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterLayout]:
    """Two workers of one core each, as `warehouse cluster start --workers 2` runs them."""
    layout = cluster_layout(tmp_path_factory.mktemp("spark-cluster"), workers=2)
    try:
        start_cluster(layout, workers=2)
        yield layout
    finally:
        stop_cluster(layout)
