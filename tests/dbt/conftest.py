"""Warehouses built by dbt for the tests in this folder, each built once per session.

Loading the sample dumps and running `dbt build` takes a while, so every target gets
one warehouse over the sample data that all read-only tests share. The tests that
change raw data (incremental runs) build warehouses of their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dbt_harness import SAMPLE_DATA, SAMPLE_DUMPS, SOURCE_TIMEZONE, BuiltWarehouse, new_warehouse
from sample_expectations import Expected, expected_from_dumps


@pytest.fixture(
    scope="session", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def sample_warehouse(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BuiltWarehouse]:
    """The sample dumps loaded and `dbt build` run once, on each target."""
    workdir = tmp_path_factory.mktemp(f"sample-{request.param}")
    with new_warehouse(request, workdir, request.param) as warehouse:
        warehouse.copy_sample_files("assets.json", "signal.json", *SAMPLE_DUMPS)
        warehouse.load()
        yield BuiltWarehouse(warehouse, warehouse.dbt("build"))


@pytest.fixture(scope="session")
def expected() -> Expected:
    """The marts as computed from the sample dump files themselves."""
    return expected_from_dumps(SAMPLE_DATA, SAMPLE_DUMPS, SOURCE_TIMEZONE)
