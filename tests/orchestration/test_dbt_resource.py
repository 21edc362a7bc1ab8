"""WarehouseDbtCliResource replaces two private methods of dagster-dbt's DbtCliResource.

dagster-dbt 0.29.27 offers no public way to skip them (`dbt --version` in a subprocess
and a dbt adapter built in this process before every command, ~12 s per build here).
These tests fail when an upgrade of dagster-dbt renames, re-signs or stops calling
them, so the overrides are looked at again rather than silently ignored.
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect

from dagster_dbt import DbtCliResource

from orchestration.defs.transform.project import WarehouseDbtCliResource, dbt_resource
from kernel.settings import Settings

CHECKED_DAGSTER_DBT = "0.29.27"


def test_dagster_dbt_is_the_version_the_overrides_were_checked_against() -> None:
    assert importlib.metadata.version("dagster-dbt") == CHECKED_DAGSTER_DBT, (
        "dagster-dbt changed: check whether WarehouseDbtCliResource's overrides of "
        "_cli_version and _initialize_dbt_core_adapter still apply, or a public API replaces them")


def test_the_overridden_methods_exist_on_dbt_cli_resource_as_overridden() -> None:
    assert isinstance(inspect.getattr_static(DbtCliResource, "_cli_version"), functools.cached_property)
    assert list(inspect.signature(DbtCliResource._initialize_dbt_core_adapter).parameters) == ["self", "args"]
    assert list(inspect.signature(WarehouseDbtCliResource._initialize_dbt_core_adapter).parameters) == \
        ["self", "args"]


def test_cli_still_reaches_dbt_through_them() -> None:
    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in source
    assert "self._initialize_dbt_core_adapter(args)" in source


def test_the_version_without_a_subprocess_is_the_one_dbt_reports(tmp_path) -> None:
    settings = Settings(duckdb_path=tmp_path / "w.duckdb")
    ours = dbt_resource(settings)
    stock = DbtCliResource(project_dir=ours.project_dir, profiles_dir=ours.profiles_dir,
                           dbt_executable=ours.dbt_executable)
    assert ours._cli_version == stock._cli_version  # the stock one runs `dbt --version`
