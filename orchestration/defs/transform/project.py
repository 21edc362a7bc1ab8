"""The dbt project as Dagster sees it: where it lives, how dbt is run, its manifest.

The manifest is never committed: it is parsed here whenever it is missing or older than
any file of the project, so `warehouse run`, `warehouse ui` and the tests always build
their assets from the models as they are on disk.

dbt's own parse cache (`partial_parse.msgpack`) is kept per warehouse and per `--vars`:
dbt throws the cache away and parses the whole project again (~15 s) when the profile
(target, DuckDB file, host, login), the command-line vars or the dbt version differ from
those it was written with, so one shared file would be re-parsed every time a run, a
`verify` and a test alternate. Each dbt command starts from the cache of its own
settings and leaves its parse there for the next one.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from kernel.dbt_profiles import DBT_PROJECT_DIR, dbt_env

if TYPE_CHECKING:
    from kernel.settings import Settings

log = logging.getLogger(__name__)

TARGET_DIR = DBT_PROJECT_DIR / "target"
MANIFEST_PATH = TARGET_DIR / "manifest.json"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
PARSE_CACHE_DIR = TARGET_DIR / "parse-cache"
# One cache per warehouse a machine builds (tests make many): the oldest go beyond this.
MAX_PARSE_CACHES = 16
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

    Both are private: dagster-dbt 0.29.27 has no public switch for either.
    tests/orchestration/test_dbt_resource.py fails when an upgrade changes them.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Any) -> None:
        return None


def dbt_resource(settings: Settings) -> DbtCliResource:
    # dagster-dbt reads dbt's events from its output, never its JSON artifacts, and a
    # build's folder is deleted once read: writing manifest.json and run_results.json
    # would only add to every build (a failed one keeps dbt.log and the compiled SQL).
    # dbt's lines go to pipes, files and JSON logs (dbt_output.py): no colour codes.
    return WarehouseDbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                                   target=settings.target, dbt_executable=dbt_executable(),
                                   global_config_flags=["--no-write-json", "--no-use-colors"])


def manifest_is_stale() -> bool:
    if not MANIFEST_PATH.exists():
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
        command = [dbt_executable(), "--no-use-colors", "parse", "--quiet", "--target", settings.target,
                   "--target-path", scratch, "--log-path", scratch]
        log.info("parsing the dbt project: %s", " ".join(command))
        # The environment a build sees (dbt_environment): the same profile, so the parse
        # cache left here is one the next build of these settings can use.
        with dbt_environment(settings):
            completed = subprocess.run(command, cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
                                       env=dict(os.environ), check=False)
        if completed.returncode != 0:
            raise DbtParseError(
                f"dbt parse failed in {DBT_PROJECT_DIR}:\n{completed.stdout}{completed.stderr}")
        keep_parse_cache(Path(scratch), settings)
        os.replace(Path(scratch) / "manifest.json", MANIFEST_PATH)
    return MANIFEST_PATH


def parse_cache_dir(settings: Settings, dbt_vars: Mapping[str, Any] | None = None) -> Path:
    """Where dbt's parse cache for these settings and `--vars` lives.

    Named by a digest of everything dbt checks before it reuses a parse: the variables
    profiles.yml and the project read (the DSN's password only as part of the digest),
    the target, the vars and the dbt version.
    """
    identity = json.dumps({
        "target": settings.target,
        "environment": dbt_env(settings),
        "vars": dict(dbt_vars or {}),
        "dbt": importlib.metadata.version("dbt-core"),
    }, sort_keys=True)
    return PARSE_CACHE_DIR / f"{settings.target}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


def keep_parse_cache(target_path: Path, settings: Settings,
                     dbt_vars: Mapping[str, Any] | None = None) -> None:
    """Keep the parse a dbt command left in `target_path` for the next one of its settings.

    dbt rewrites the file only when it parsed; otherwise it is the copy it started from.
    """
    parsed = target_path / PARTIAL_PARSE_FILE
    if not parsed.exists():
        return
    cache = parse_cache_dir(settings, dbt_vars)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        # Copy beside, then rename: a command starting meanwhile reads the old file or the new.
        scratch = cache / f"{PARTIAL_PARSE_FILE}.{uuid.uuid4().hex[:8]}"
        shutil.copyfile(parsed, scratch)
        os.replace(scratch, cache / PARTIAL_PARSE_FILE)
        _prune_parse_caches()
    except OSError as error:
        # Only the next command's speed depends on it (another process pruned it meanwhile).
        log.warning("could not keep dbt's parse cache in %s: %s", cache, error)


def _prune_parse_caches() -> None:
    def last_written(cache: Path) -> float:
        try:
            return cache.stat().st_mtime
        except FileNotFoundError:  # pruned by another process meanwhile
            return 0.0

    caches = sorted(PARSE_CACHE_DIR.iterdir(), key=last_written, reverse=True)
    for stale in caches[MAX_PARSE_CACHES:]:
        shutil.rmtree(stale, ignore_errors=True)


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    """The prepared manifest, singular tests attached to the raw source they declare.

    A singular test reading several nodes names the one it checks in its properties
    (`dbt_project/tests/_singular_tests.yml`, `meta.dagster.ref`), dagster-dbt's way to
    make it an asset check. dagster-dbt 0.29 resolves that ref among models only; a test
    of the raw layer declares its source (`ref: {source_name: raw, name: load_ledger}`)
    and is attached to it here, through dbt's own `attached_node`, as a generic test on a
    source would be.
    """
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test":
            continue
        ref = node.get("config", {}).get("meta", {}).get("dagster", {}).get("ref", {})
        if "source_name" not in ref:
            continue
        source_id = f"source.{node['package_name']}.{ref['source_name']}.{ref['name']}"
        if source_id not in manifest["sources"]:
            raise DbtParseError(f"{node['original_file_path']}: meta.dagster.ref names source "
                                f"{ref['source_name']}.{ref['name']}, which the project does not define")
        node["attached_node"] = source_id
        for meta in (node["config"]["meta"], node.get("meta", {})):
            meta.get("dagster", {}).pop("ref", None)
    return manifest


def invocation_target_path(run_id: str, settings: Settings,
                           dbt_vars: Mapping[str, Any] | None = None) -> Path:
    """A fresh target folder for one dbt command, seeded with its settings' parse cache.

    dagster-dbt gives every command its own target folder, where dbt finds no
    partial-parse file and parses the whole project again; the cache of these settings
    saves that (dbt re-parses what changed by itself). Hand the folder to
    `keep_parse_cache` when dbt is done.
    """
    path = TARGET_DIR / f"run-{run_id[:8]}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    try:
        shutil.copyfile(parse_cache_dir(settings, dbt_vars) / PARTIAL_PARSE_FILE, path / PARTIAL_PARSE_FILE)
    except FileNotFoundError:
        pass  # the first command of these settings: dbt parses and `keep_parse_cache` keeps it
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
