"""Least-privilege roles on a real PostgreSQL server: every boundary tried and refused.

The users come from the deployment's own init script and the privileges from the
migrations, as `docker compose up` makes them (see conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from loaders.pipeline import load_directory
from sample_data import generate_dumps
from tests.conftest import create_database, drop_database
from tests.dbt.dbt_harness import DbtWarehouse
from tests.production.conftest import Logins, logins_on, run_init_script
from kernel.settings import Settings
from kernel.database import Warehouse, connect
from loaders.sinks.base import migrate_raw

pytestmark = pytest.mark.postgres

SCHEMAS = ("public", "raw", "staging", "analytics")


@pytest.fixture
def mart(logins: Logins) -> str:
    """A table in analytics built by the transformer (as dbt would), holding one row."""
    with psycopg.connect(logins.transformer, autocommit=True) as conn:
        conn.execute("CREATE TABLE analytics.assets AS SELECT 1::bigint AS asset_id, 'UW Beznau'::text AS name")
    return "analytics.assets"


def execute(dsn: str, statement: str) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchall() if cursor.description else []


def refused(dsn: str, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        execute(dsn, statement)


# --- analysts: read analytics, nothing else ---------------------------------------------

def test_analyst_reads_analytics(logins: Logins, mart: str) -> None:
    assert execute(logins.analyst, f"SELECT asset_id, name FROM {mart}") == [(1, "UW Beznau")]


def test_analyst_reads_a_table_the_transformer_creates_later(logins: Logins, mart: str) -> None:
    execute(logins.transformer, "CREATE TABLE analytics.signals AS SELECT 7::bigint AS signal_id")

    assert execute(logins.analyst, "SELECT signal_id FROM analytics.signals") == [(7,)]


def test_analyst_reads_a_table_rebuilt_by_the_transformer(logins: Logins, mart: str) -> None:
    # dbt rebuilds a table by creating it under a temporary name and swapping it in.
    execute(logins.transformer, "CREATE TABLE analytics.assets__dbt_tmp AS SELECT 2::bigint AS asset_id; "
                                f"DROP TABLE {mart}; ALTER TABLE analytics.assets__dbt_tmp RENAME TO assets")

    assert execute(logins.analyst, f"SELECT asset_id FROM {mart}") == [(2,)]


def test_analyst_cannot_insert(logins: Logins, mart: str) -> None:
    refused(logins.analyst, f"INSERT INTO {mart} VALUES (2, 'UW Grynau')")


def test_analyst_cannot_update(logins: Logins, mart: str) -> None:
    refused(logins.analyst, f"UPDATE {mart} SET name = 'renamed'")


def test_analyst_cannot_delete(logins: Logins, mart: str) -> None:
    refused(logins.analyst, f"DELETE FROM {mart}")


def test_analyst_cannot_truncate(logins: Logins, mart: str) -> None:
    refused(logins.analyst, f"TRUNCATE {mart}")


def test_analyst_cannot_drop(logins: Logins, mart: str) -> None:
    refused(logins.analyst, f"DROP TABLE {mart}")


def test_analyst_cannot_alter(logins: Logins, mart: str) -> None:
    refused(logins.analyst, f"ALTER TABLE {mart} ADD COLUMN note text")


@pytest.mark.parametrize("schema", SCHEMAS)
def test_analyst_cannot_create_in_any_schema(logins: Logins, schema: str) -> None:
    refused(logins.analyst, f"CREATE TABLE {schema}.scratch (x int)")


def test_analyst_cannot_create_temporary_tables(logins: Logins) -> None:
    refused(logins.analyst, "CREATE TEMPORARY TABLE scratch (x int)")


def test_analyst_cannot_create_schemas(logins: Logins) -> None:
    refused(logins.analyst, "CREATE SCHEMA scratch")


@pytest.mark.parametrize("table", ["raw.measurements", "raw.assets", "raw.signals", "raw.schema_migrations"])
def test_analyst_cannot_read_raw_rows(logins: Logins, table: str) -> None:
    refused(logins.analyst, f"SELECT * FROM {table}")


def test_analyst_reads_the_load_ledger_and_rejected_rows(logins: Logins) -> None:
    # How the data got in is the analysts' (and the read API's) to see: migration 0005.
    execute(logins.admin, "INSERT INTO raw.load_ledger (load_id, source_file, file_kind, size_bytes, sha256, "
                          "started_at, status) VALUES (7, 'assets.json', 'assets', 10, 'abc', now(), 'failed'); "
                          "INSERT INTO raw.rejected_rows VALUES (7, 'assets.json', 'assets', 3, '{', 'not JSON', now())")

    assert execute(logins.analyst, "SELECT load_id, status FROM raw.load_ledger") == [(7, "failed")]
    assert execute(logins.analyst, "SELECT line_number, reason FROM raw.rejected_rows") == [(3, "not JSON")]


def test_analyst_reads_what_the_marts_reflect(logins: Logins) -> None:
    # refresh_state's tables are made later, by dbt as the transformer.
    execute(logins.transformer, "CREATE TABLE refresh_state.applied_loads AS SELECT 7::bigint AS load_id")

    assert execute(logins.analyst, "SELECT load_id FROM refresh_state.applied_loads") == [(7,)]
    refused(logins.analyst, "DELETE FROM refresh_state.applied_loads")


def test_analyst_cannot_read_staging(logins: Logins) -> None:
    execute(logins.transformer, "CREATE VIEW staging.stg_assets AS SELECT 1 AS asset_id")

    refused(logins.analyst, "SELECT * FROM staging.stg_assets")


def test_analyst_cannot_write_raw(logins: Logins) -> None:
    refused(logins.analyst, "DELETE FROM raw.load_ledger")


# --- the loader: raw only -----------------------------------------------------------------

def test_loader_loads_and_replaces_files(logins: Logins, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    generate_dumps(data_dir, rows=2_000, seed=5, files=2)
    settings = Settings(target="postgres", data_dir=data_dir, pg_dsn=logins.loader)

    first = load_directory(settings.warehouse, settings.data_path)
    # A changed file replaces its load: the old partition is dropped, a new one attached.
    generate_dumps(data_dir, rows=3_000, seed=6, files=2)
    second = load_directory(settings.warehouse, settings.data_path)

    assert [result.status for result in first] == ["loaded"] * 4
    assert [result.status for result in second] == ["loaded"] * 4
    read, rejected = execute(logins.admin, "SELECT (SELECT count(*) FROM raw.measurements), "
                                           "(SELECT count(*) FROM raw.rejected_rows WHERE file_kind = 'measurements')")[0]
    assert read + rejected == 3_000
    owners = execute(logins.admin, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'raw' "
                                   "AND tablename LIKE 'measurements_load_%'")
    assert owners == [("warehouse_loader",)]


def test_loader_finds_no_migration_to_apply(logins: Logins) -> None:
    with connect(Warehouse.postgres(logins.loader), "loader") as sink:
        assert migrate_raw(sink) == []


def test_loader_cannot_write_analytics(logins: Logins, mart: str) -> None:
    refused(logins.loader, f"INSERT INTO {mart} VALUES (2, 'UW Grynau')")


def test_loader_cannot_drop_analytics(logins: Logins, mart: str) -> None:
    refused(logins.loader, f"DROP TABLE {mart}")


@pytest.mark.parametrize("schema", ["staging", "analytics", "public"])
def test_loader_cannot_create_outside_raw(logins: Logins, schema: str) -> None:
    refused(logins.loader, f"CREATE TABLE {schema}.scratch (x int)")


def test_loader_cannot_rewrite_the_migration_history(logins: Logins) -> None:
    refused(logins.loader, "DELETE FROM raw.schema_migrations")


# --- the transformer: read raw, build staging and analytics -------------------------------

def test_transformer_builds_analytics_from_raw(logins: Logins) -> None:
    execute(logins.admin, "INSERT INTO raw.assets VALUES (1, 47.5, 8.2, 'UW Beznau', 1, 'assets.json', 2, now())")

    execute(logins.transformer, "CREATE VIEW staging.stg_assets AS SELECT asset_id, descri FROM raw.assets; "
                                "CREATE TABLE analytics.assets AS SELECT * FROM staging.stg_assets; "
                                "CREATE TEMPORARY TABLE scratch AS SELECT 1 AS x")

    assert execute(logins.analyst, "SELECT asset_id, descri FROM analytics.assets") == [(1, "UW Beznau")]


def test_transformer_cannot_write_raw(logins: Logins) -> None:
    refused(logins.transformer, "DELETE FROM raw.assets")


# --- dbt's grants: analysts read what dbt builds, whichever login builds it ---------------

# Every relation dbt builds in analytics: the marts and the seed.
ANALYTICS_RELATIONS = [
    ("assets", "BASE TABLE"),
    ("measurements", "BASE TABLE"),
    ("measurements_15min", "BASE TABLE"),
    ("measurements_hourly", "BASE TABLE"),
    ("orphan_measurements", "BASE TABLE"),
    ("signal_daily", "BASE TABLE"),
    ("signal_daily_quality", "BASE TABLE"),
    ("signal_flatlines", "BASE TABLE"),
    ("signals", "BASE TABLE"),
    ("unit_plausible_ranges", "BASE TABLE"),
]
INCREMENTAL_MARTS = ["measurements", "measurements_hourly", "measurements_15min", "orphan_measurements",
                     "signal_daily", "signal_daily_quality", "signal_flatlines"]


@dataclass(frozen=True)
class DbtBuilt:
    """A warehouse that dbt built twice (full, then incremental after a new dump)."""

    logins: Logins
    # the incremental marts' table oids after the first build and after the second
    first_oids: dict[str, int]
    second_oids: dict[str, int]


def table_oids(dsn: str, names: list[str]) -> dict[str, int]:
    return {name: execute(dsn, f"SELECT 'analytics.{name}'::regclass::oid")[0][0] for name in names}


@pytest.fixture(scope="module", params=["one owner login", "split logins"])
def dbt_built(request: pytest.FixtureRequest, pg_server_dsn: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtBuilt]:
    """Dumps loaded and `dbt build` run twice, as one owner login or as loader + transformer.

    One owner login: WAREHOUSE_PG_DSN only, the warehouse's admin, so loads and dbt run
    as a login whose tables the migrations' default privileges (for the transformer's
    tables) do not cover. The analysts' USAGE on analytics is revoked first, as a
    database whose migrations never granted it: dbt's grants alone must let them in.
    """
    dsn = create_database(pg_server_dsn, prefix="grants")
    try:
        with logins_on(pg_server_dsn, dsn) as logins:
            yield build_twice(logins, request.param, tmp_path_factory.mktemp("grants"))
    finally:
        drop_database(pg_server_dsn, dsn)


def build_twice(logins: Logins, arrangement: str, workdir: Path) -> DbtBuilt:
    execute(logins.admin, "REVOKE USAGE ON SCHEMA analytics FROM warehouse_analyst")
    data_dir = workdir / "data"
    if arrangement == "one owner login":
        settings = Settings(_env_file=None, target="postgres", data_dir=data_dir,
                            pg_dsn=logins.admin, transformer_pg_dsn=None)
    else:
        settings = Settings(_env_file=None, target="postgres", data_dir=data_dir,
                            pg_dsn=logins.loader, transformer_pg_dsn=logins.transformer)
    warehouse = DbtWarehouse(settings=settings, workdir=workdir)

    generate_dumps(data_dir, rows=2_000, seed=5, files=1)
    warehouse.load()
    warehouse.dbt("build")
    first_oids = table_oids(logins.admin, INCREMENTAL_MARTS)
    generate_dumps(data_dir, rows=3_000, seed=6, files=2)
    warehouse.load()
    warehouse.dbt("build")
    return DbtBuilt(logins, first_oids, table_oids(logins.admin, INCREMENTAL_MARTS))


def test_dbt_builds_exactly_these_relations_in_analytics(dbt_built: DbtBuilt) -> None:
    relations = execute(dbt_built.logins.admin, """
        SELECT table_name, table_type FROM information_schema.tables
        WHERE table_schema = 'analytics' ORDER BY table_name""")

    assert relations == ANALYTICS_RELATIONS


def test_the_second_build_was_incremental(dbt_built: DbtBuilt) -> None:
    # The same tables, not rebuilt ones: what follows holds for grants that survive a refresh.
    assert dbt_built.second_oids == dbt_built.first_oids


@pytest.mark.parametrize("relation", [name for name, _ in ANALYTICS_RELATIONS])
def test_analyst_reads_every_relation_dbt_builds(dbt_built: DbtBuilt, relation: str) -> None:
    count = f"SELECT count(*) FROM analytics.{relation}"

    assert execute(dbt_built.logins.analyst, count) == execute(dbt_built.logins.admin, count)


@pytest.mark.parametrize("relation", [name for name, _ in ANALYTICS_RELATIONS])
def test_analyst_cannot_write_any_relation_dbt_builds(dbt_built: DbtBuilt, relation: str) -> None:
    (first_column,) = execute(dbt_built.logins.admin, f"""
        SELECT column_name FROM information_schema.columns
        WHERE table_schema = 'analytics' AND table_name = '{relation}'
          AND ordinal_position = 1""")[0]
    table = f"analytics.{relation}"
    analyst = dbt_built.logins.analyst

    refused(analyst, f"INSERT INTO {table} SELECT * FROM {table}")
    refused(analyst, f"UPDATE {table} SET {first_column} = {first_column}")
    refused(analyst, f"DELETE FROM {table}")
    refused(analyst, f"TRUNCATE {table}")
    refused(analyst, f"DROP TABLE {table}")


def test_analyst_cannot_read_the_staging_views_dbt_builds(dbt_built: DbtBuilt) -> None:
    refused(dbt_built.logins.analyst, "SELECT count(*) FROM staging.stg_raw__measurements")


def test_analyst_is_granted_select_in_analytics_and_nothing_else(dbt_built: DbtBuilt) -> None:
    privileges = execute(dbt_built.logins.admin, """
        SELECT DISTINCT privilege_type FROM information_schema.role_table_grants
        WHERE table_schema = 'analytics' AND grantee = 'warehouse_analyst'""")

    assert privileges == [("SELECT",)]


# --- migrations and init script ---------------------------------------------------------

def test_migrations_run_twice_without_change(logins: Logins) -> None:
    def catalog() -> list[tuple]:
        return execute(logins.admin, """
            SELECT 'migration', version || ':' || checksum FROM raw.schema_migrations
            UNION ALL SELECT 'relation', c.oid::regclass::text || ' ' || pg_get_userbyid(c.relowner) || ' '
                                         || coalesce(c.relacl::text, '')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('raw', 'staging', 'analytics')
            UNION ALL SELECT 'schema', nspname || ' ' || coalesce(nspacl::text, '') FROM pg_namespace
            UNION ALL SELECT 'default', defaclrole::regrole::text || ' ' || defaclacl::text FROM pg_default_acl
            ORDER BY 1, 2""")

    before = catalog()
    with connect(Warehouse.postgres(logins.admin), "loader") as sink:
        applied = migrate_raw(sink)

    assert applied == []
    assert catalog() == before


def test_init_script_runs_twice(pg_server_dsn: str, logins: Logins) -> None:
    users = {kind: conninfo_to_dict(getattr(logins, kind))["user"] for kind in ("loader", "transformer", "analyst")}
    dbname = conninfo_to_dict(logins.admin)["dbname"]

    run_init_script(pg_server_dsn, users=users, databases=[dbname])

    assert execute(logins.loader, "SELECT current_user, session_user") == [("warehouse_loader", users["loader"])]
    assert execute(logins.analyst, "SELECT current_user") == [(users["analyst"],)]
