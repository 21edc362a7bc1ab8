"""The dbt project as Dagster sees it: where it lives, how dbt is run, its manifest.

The manifest is never committed: it is parsed here whenever it is missing or older than
any file of the project, so `warehouse run`, `warehouse ui` and the tests always build
their assets from the models as they are on disk.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from warehouse.dbt_profiles import DBT_PROJECT_DIR, dbt_env

if TYPE_CHECKING:
    import dagster as dg

    from warehouse.settings import Settings

log = logging.getLogger(__name__)

TARGET_DIR = DBT_PROJECT_DIR / "target"
MANIFEST_PATH = TARGET_DIR / "manifest.json"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# What dbt reads to build its manifest; a change in any of them makes it stale.
PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml", "selectors.yml",
                  "models", "macros", "tests", "seeds", "snapshots", "analyses")


class DbtParseError(RuntimeError):
    """`dbt parse` failed: the dbt project on disk does not compile into a manifest."""


def dbt_executable() -> str:
    """dbt from this interpreter's environment, even when that environment is not on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class WarehouseDbtCliResource(DbtCliResource):
    """DbtCliResource without two start-up costs this warehouse never needs.

    Before every command the stock resource runs `dbt --version` in a subprocess and
    builds a dbt adapter in this process, the latter only for `fetch_row_counts()` and
    `fetch_column_metadata()`, which we do not use (they would open DuckDB while dbt
    holds it). Together they cost ~12 s per build here. The version is the installed
    dbt-core's: `dbt_executable` is this environment's own dbt.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Any) -> None:
        return None


def dbt_resource(settings: Settings) -> DbtCliResource:
    return WarehouseDbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                                   target=settings.target, dbt_executable=dbt_executable())


def manifest_is_stale() -> bool:
    if not MANIFEST_PATH.exists() or not (TARGET_DIR / PARTIAL_PARSE_FILE).exists():
        return True
    built = MANIFEST_PATH.stat().st_mtime
    for name in PROJECT_INPUTS:
        path = DBT_PROJECT_DIR / name
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        if any(file.is_file() and file.stat().st_mtime > built for file in files):
            return True
    return False


def prepare_manifest(settings: Settings) -> Path:
    """Parse the dbt project into target/manifest.json unless the one there is current."""
    if not manifest_is_stale():
        return MANIFEST_PATH
    TARGET_DIR.mkdir(parents=True, exist_ok=True)
    # Parse into a private folder and move the result into place in one step, so two
    # processes preparing at once (a test run and `warehouse ui`) never read half a file.
    with tempfile.TemporaryDirectory(prefix="parse-", dir=TARGET_DIR) as scratch:
        command = [dbt_executable(), "parse", "--quiet", "--target", settings.target,
                   "--target-path", scratch, "--log-path", scratch]
        log.info("parsing the dbt project: %s", " ".join(command))
        completed = subprocess.run(command, cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
                                   env={**os.environ, **dbt_env(settings)}, check=False)
        if completed.returncode != 0:
            raise DbtParseError(
                f"dbt parse failed in {DBT_PROJECT_DIR}:\n{completed.stdout}{completed.stderr}")
        if (Path(scratch) / PARTIAL_PARSE_FILE).exists():
            os.replace(Path(scratch) / PARTIAL_PARSE_FILE, TARGET_DIR / PARTIAL_PARSE_FILE)
        os.replace(Path(scratch) / "manifest.json", MANIFEST_PATH)
    return MANIFEST_PATH


def load_manifest() -> dict[str, Any]:
    """The prepared manifest, with every singular test attached to one asset.

    dagster-dbt makes a test an asset check of the one node it is attached to; a
    singular test reading several nodes has none and would only be logged. We attach
    it to its deepest parent in the dbt graph (the first the test reads, among equals):
    `assert_load_ledger_reconciles` reads only raw tables, the ledger first, and becomes
    a check of raw/load_ledger; `assert_measurement_files_reconcile` one of the
    measurements mart.
    """
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    depth = graph_depths(manifest["parent_map"])
    for node in manifest["nodes"].values():
        parents = node.get("depends_on", {}).get("nodes", [])
        if node["resource_type"] == "test" and not node.get("attached_node") and len(parents) > 1:
            deepest = max(depth.get(parent, 0) for parent in parents)
            node["attached_node"] = next(parent for parent in parents if depth.get(parent, 0) == deepest)
    return manifest


def graph_depths(parent_map: dict[str, list[str]]) -> dict[str, int]:
    """Each node's longest distance from a root (a source or a model without parents)."""
    depths: dict[str, int] = {}

    def depth(node: str) -> int:
        if node not in depths:
            depths[node] = 1 + max((depth(parent) for parent in parent_map.get(node, [])), default=-1)
        return depths[node]

    for node in parent_map:
        depth(node)
    return depths


def invocation_target_path(context: dg.OpExecutionContext) -> Path:
    """A fresh target folder for one dbt command, seeded with the parse cache.

    dagster-dbt gives every command its own target folder, where dbt finds no
    partial-parse file and parses the whole project again; a copy of the one
    `prepare_manifest` left saves that (dbt reparses by itself if it no longer fits).
    """
    path = TARGET_DIR / f"run-{context.run.run_id[:8]}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    cache = TARGET_DIR / PARTIAL_PARSE_FILE
    if cache.exists():
        shutil.copyfile(cache, path / PARTIAL_PARSE_FILE)
    return path


@contextmanager
def dbt_environment(settings: Settings) -> Iterator[None]:
    """The variables profiles.yml reads, set while dagster-dbt starts its dbt process.

    DbtCliResource hands dbt a copy of os.environ and takes no environment of its own,
    so this is the one place the settings reach dbt; the old values come back after.
    """
    wanted = dbt_env(settings)
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
