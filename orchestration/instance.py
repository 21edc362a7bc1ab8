"""The Dagster instance the warehouse's runs are recorded in: one per warehouse, under .state.

`warehouse run`, `verify`, `reseed` and `warehouse ui` of one warehouse share it, so a
run started from the terminal shows in the UI's run history and both see the same runs in
flight. Another warehouse (another DuckDB file, another PostgreSQL database) has its own
(Settings.dagster_instance_dir), so its runs and row counts never show here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from kernel.paths import PROJECT_ROOT

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from kernel.settings import Settings

INSTANCE_CONFIG = Path(__file__).resolve().parent / "dagster.yaml"
LOCATION_NAME = "gridwarehouse"


def prepare_dagster_home(settings: Settings) -> Path:
    """Create this warehouse's DAGSTER_HOME with the project's dagster.yaml in it; return its path."""
    home = settings.dagster_instance_dir.resolve()
    home.mkdir(parents=True, exist_ok=True)
    wanted = INSTANCE_CONFIG.read_text(encoding="utf-8")
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text(encoding="utf-8") != wanted:
        config.write_text(wanted, encoding="utf-8")
    return home


def write_workspace(home: Path) -> Path:
    """The workspace `dagster dev` loads: this project's code location, named gridwarehouse."""
    workspace = home / "workspace.yaml"
    workspace.write_text(
        "# Written by `warehouse ui`: the code location of this checkout.\n"
        "load_from:\n"
        "  - python_module:\n"
        "      module_name: orchestration.definitions\n"
        f"      location_name: {LOCATION_NAME}\n"
        f"      working_directory: {PROJECT_ROOT}\n",
        encoding="utf-8")
    return workspace


def open_instance(settings: Settings) -> DagsterInstance:
    """The deployment's instance where DAGSTER_HOME is set, else this warehouse's under .state.

    In the compose deployment DAGSTER_HOME names the shared instance (PostgreSQL storage):
    `warehouse reseed` run in a container must be recorded where the UI, the run queue
    and the sensors look, not in a private SQLite instance.
    """
    from dagster import DagsterInstance

    if os.environ.get("DAGSTER_HOME"):
        return DagsterInstance.get()
    return DagsterInstance.from_config(str(prepare_dagster_home(settings)))
