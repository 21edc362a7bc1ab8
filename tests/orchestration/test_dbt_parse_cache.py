"""dbt's parse cache is kept per warehouse and per --vars: a dbt command whose settings
were seen before parses only what changed, whatever ran in between (project.py).

Each command is started the way the dbt step starts it: through the project's
DbtCliResource, in a folder from `invocation_target_path`, its parse kept after.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from orchestration.defs.transform.project import (
    dbt_environment,
    dbt_resource,
    invocation_target_path,
    keep_parse_cache,
)
from kernel.settings import Settings

FULL_PARSE = "Unable to do partial parsing"


def parse(settings: Settings, dbt_vars: Mapping[str, str] | None = None) -> str:
    """`dbt parse` as the dbt step would run it; dbt's debug log of it."""
    target_path = invocation_target_path("parse-cache-test", settings, dbt_vars)
    args = ["parse", *(["--vars", json.dumps(dict(dbt_vars))] if dbt_vars else [])]
    with dbt_environment(settings):
        invocation = dbt_resource(settings).cli(args, target_path=target_path)
    invocation.wait()
    keep_parse_cache(target_path, settings, dbt_vars)
    log = (target_path / "dbt.log").read_text(encoding="utf-8")
    shutil.rmtree(target_path)
    return log


def test_each_warehouse_keeps_its_own_parse_across_another_ones_commands(tmp_path: Path) -> None:
    first = Settings(duckdb_path=tmp_path / "first.duckdb")
    second = Settings(duckdb_path=tmp_path / "second.duckdb")
    assert FULL_PARSE in parse(first)  # never seen: a full parse, kept
    assert FULL_PARSE in parse(second)  # another profile: a full parse of its own
    again = parse(first)
    assert FULL_PARSE not in again
    assert "Partial parsing enabled" in again


def test_a_command_with_vars_keeps_a_parse_of_its_own(tmp_path: Path) -> None:
    settings = Settings(duckdb_path=tmp_path / "w.duckdb")
    full_scope = {"check_scope": "full"}
    parse(settings)
    assert FULL_PARSE in parse(settings, full_scope)  # dbt hashes --vars into its cache
    assert FULL_PARSE not in parse(settings)
    assert FULL_PARSE not in parse(settings, full_scope)
