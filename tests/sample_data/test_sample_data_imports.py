"""The generator sits beside the loaders: it takes the format from `loaders.sources`, no more."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import sample_data

PACKAGE = Path(sample_data.__file__).parent
PROJECT_PACKAGES = ("kernel", "loaders", "orchestration", "sample_data", "warehouse")


def project_imports() -> dict[str, set[str]]:
    """Modules of this project each module of the package imports, by module file name."""
    found = {}
    for path in sorted(PACKAGE.glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[path.name] = {name for name in names if name.split(".")[0] in PROJECT_PACKAGES}
    return found


def test_the_package_imports_of_this_project_only_itself_the_loaders_sources_and_kernel() -> None:
    allowed = ("sample_data", "loaders.sources", "kernel")
    forbidden = {
        module: sorted(name for name in names if not name.startswith(allowed))
        for module, names in project_imports().items()
    }
    assert forbidden == dict.fromkeys(forbidden, [])
    assert "loaders.sources" in project_imports()["writer.py"]


def test_importing_the_package_loads_neither_dagster_nor_dbt() -> None:
    completed = subprocess.run([sys.executable, "-X", "importtime", "-c", "import sample_data"],
                               capture_output=True, text=True, timeout=120, check=True)
    lines = [line for line in completed.stderr.splitlines() if line.startswith("import time:")]
    packages = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines[1:]}
    assert "loaders" in packages
    assert packages.isdisjoint({"dagster", "dagster_dbt", "dbt", "orchestration", "warehouse"})
