"""Warehouses for the read API's tests: small generated dumps, loaded, built by dbt, once per
session and target.

DuckDB is built as `warehouse run` builds it. PostgreSQL is set up as the deployment sets it
up: the login users from the compose init script, the grants from the migrations (applied
as the admin), the dumps loaded as `loader`, dbt run as `transformer`, and the API reading
as `analyst`, so every endpoint is tried with the privileges it has in production.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from api.app import create_app
from kernel.database import Warehouse, connect
from kernel.reader_snapshot import publish_reader_snapshot
from kernel.settings import Settings
from loaders.sinks.base import migrate_raw
from sample_data import generate_dumps
from tests.dbt.dbt_harness import DbtWarehouse

ROWS = 20_000
# A file the loader cannot read at all: a failed load, which /ready and /loads report.
BROKEN_DUMP = "measurements_009.csv"


@dataclass
class Served:
    """A built warehouse and how the API reads it."""

    target: str
    fields: dict[str, Any]  # the API's settings, as given to Settings
    workdir: Path

    def settings(self, **overrides: Any) -> Settings:
        return Settings(_env_file=None, **{**self.fields, **overrides})

    def client(self, **overrides: Any) -> TestClient:
        """A client of a new app over this warehouse (leave the `with` to close its readers)."""
        return TestClient(create_app(self.settings(**overrides)))

    def sql(self, statement: str, params: tuple | list = ()) -> list[tuple]:
        """The same question asked directly, through the reader's own connection."""
        with connect(self.settings().warehouse, "reader") as db:
            return db.execute(statement, params)


@pytest.fixture(scope="session")
def _clean_environment() -> Iterator[None]:
    """No developer's WAREHOUSE_* variable or .env reaches the session's warehouses."""
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("WAREHOUSE_") and key != "WAREHOUSE_TEST_PG_DSN":
                patch.delenv(key)
        patch.setitem(Settings.model_config, "env_file", None)
        yield


def _dumps(data_dir: Path) -> None:
    generate_dumps(data_dir, rows=ROWS, seed=11, assets=4, signals=8, files=2)
    (data_dir / BROKEN_DUMP).write_text("when|what\n1|2\n", encoding="utf-8")


@pytest.fixture(scope="session")
def duckdb_served(tmp_path_factory: pytest.TempPathFactory, _clean_environment: None) -> Served:
    workdir = tmp_path_factory.mktemp("api-duckdb")
    _dumps(workdir / "data")
    fields = {"target": "duckdb", "data_dir": workdir / "data", "duckdb_path": workdir / "warehouse.duckdb",
              "duckdb_threads": 2}
    _build_allowing_the_failed_load(fields, workdir)
    return Served("duckdb", fields, workdir)


@pytest.fixture(scope="session")
def postgres_served(tmp_path_factory: pytest.TempPathFactory, pg_server_dsn: str,
                    _clean_environment: None) -> Iterator[Served]:
    from tests.conftest import create_database, drop_database
    from tests.production.conftest import drop_roles, run_init_script

    workdir = tmp_path_factory.mktemp("api-postgres")
    _dumps(workdir / "data")
    admin = create_database(pg_server_dsn, prefix="api")
    suffix = uuid.uuid4().hex[:8]
    users = {kind: f"{kind}_{suffix}" for kind in ("loader", "transformer", "analyst")}
    run_init_script(pg_server_dsn, users=users, databases=[conninfo_to_dict(admin)["dbname"]])
    with connect(Warehouse.postgres(admin), "loader") as db:
        migrate_raw(db)
    login = {kind: make_conninfo(admin, user=name) for kind, name in users.items()}
    fields = {"target": "postgres", "data_dir": workdir / "data", "pg_dsn": login["loader"],
              "transformer_pg_dsn": login["transformer"], "reader_pg_dsn": login["analyst"]}
    try:
        _build_allowing_the_failed_load(fields, workdir)
        yield Served("postgres", fields, workdir)
    finally:
        drop_database(pg_server_dsn, admin)
        drop_roles(pg_server_dsn, list(users.values()))


def _build_allowing_the_failed_load(fields: dict[str, Any], workdir: Path) -> None:
    from loaders.pipeline import load_directory

    settings = Settings(_env_file=None, **fields)
    results = load_directory(settings.warehouse, settings.data_path)
    assert [result.status for result in results if result.status == "failed"] == ["failed"]
    DbtWarehouse(settings, workdir).dbt("build")
    publish_reader_snapshot(settings.warehouse)


def writable_copy(served: Served, workdir: Path) -> Served:
    """A copy of a built DuckDB warehouse that a test may change, its analysts' copy published
    (what the API reads); after a change, `publish_reader_snapshot` shows it to the API."""
    copy = workdir / "warehouse.duckdb"
    shutil.copyfile(served.fields["duckdb_path"], copy)
    fields = {**served.fields, "duckdb_path": copy, "data_dir": workdir / "data"}
    publish_reader_snapshot(Settings(_env_file=None, **fields).warehouse)
    return Served("duckdb", fields, workdir)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest) -> Served:
    """Each built warehouse in turn: the tests that take it run on both."""
    return request.getfixturevalue(f"{request.param}_served")


@pytest.fixture
def client(served: Served) -> Iterator[TestClient]:
    with served.client() as test_client:
        yield test_client


# --- reading answers --------------------------------------------------------------------------

def naive_utc(text: str | None) -> datetime | None:
    """An answer's time ("...Z") as the naive UTC the marts hold."""
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def as_naive_utc(value: datetime | None) -> datetime | None:
    """A time from SQL (naive UTC, or aware from a timestamptz) as naive UTC."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def walk(client: TestClient, url: str, **headers: str) -> tuple[list[dict], int]:
    """Every row of a paged answer, following `next_url`; and how many pages it took."""
    rows, pages = [], 0
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["rows"]
        pages += 1
        url = body["next_url"]
    return rows, pages


@pytest.fixture
def signal_id(served: Served) -> int:
    """The signal with the most readings."""
    return served.sql("SELECT signal_id FROM analytics.measurements GROUP BY signal_id "
                      "ORDER BY count(*) DESC, signal_id LIMIT 1")[0][0]
