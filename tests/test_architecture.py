"""The rooms of docs/architecture.md and what each may import, read from the source itself.

Every import counts, also those inside functions (the project imports heavy libraries
lazily): a rule broken in a rarely taken branch is still broken.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ORCHESTRATION_LIBRARIES = {"dagster", "dagster_dbt", "dagster_webserver", "dagster_postgres", "dbt"}
# Room -> the top-level modules it must never import.
FORBIDDEN: dict[str, set[str]] = {
    "kernel": {"loaders", "orchestration", "warehouse", "sample_data", *ORCHESTRATION_LIBRARIES},
    "loaders": {"orchestration", "warehouse", "sample_data", *ORCHESTRATION_LIBRARIES},
    "sample_data": {"orchestration", "warehouse", *ORCHESTRATION_LIBRARIES},
    "orchestration": {"warehouse", "sample_data"},
    # The read API reads the warehouse through the kernel; what it knows of runs it reads
    # from the warehouse, never from Dagster.
    "api": {"loaders", "orchestration", "warehouse", "sample_data", *ORCHESTRATION_LIBRARIES},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def violations(room: str) -> list[str]:
    found = []
    for path in sorted((PROJECT_ROOT / room).rglob("*.py")):
        for module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN[room]:
                found.append(f"{path.relative_to(PROJECT_ROOT)} imports {module}")
    return found


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_each_room_imports_only_the_rooms_below_it(room: str) -> None:
    if not (PROJECT_ROOT / room).is_dir():
        pytest.skip(f"{room}/ is not in this checkout")
    assert violations(room) == []


def test_the_rule_catches_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("def later():\n    import dagster as dg\n    from dbt.cli.main import dbtRunner\n")
    assert imported_modules(module) == {"dagster", "dbt.cli.main"}


def test_the_sinks_write_and_open_no_connection_of_their_own() -> None:
    # One database-access module: only kernel/database.py and the writer lock's own
    # session connect to a database.
    connecting = []
    for path in sorted(PROJECT_ROOT.glob("*/**/*.py")):
        if ".venv" in path.parts or path.parts[len(PROJECT_ROOT.parts)] in {"tests", "benchmarks"}:
            continue
        text = path.read_text(encoding="utf-8")
        # A Spark driver (SparkSession ... getOrCreate) is the Spark target's connection.
        if any(call in text for call in ("psycopg.connect(", "duckdb.connect(", "getOrCreate(", "SparkSession.builder")):
            connecting.append(str(path.relative_to(PROJECT_ROOT)))
    assert connecting == ["kernel/database.py", "kernel/writer_lock.py"]
