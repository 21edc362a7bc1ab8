"""dbt_env: the warehouse settings become the variables dbt_project/profiles.yml reads."""

from __future__ import annotations

from pathlib import Path

from kernel.dbt_profiles import DBT_PROJECT_DIR, dbt_env
from kernel.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, env="dev", **values)


def test_duckdb_target_gets_an_absolute_path_the_source_zone_and_duckdbs_limits(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = dbt_env(
        settings(target="duckdb", duckdb_path=Path("w.duckdb"), source_timezone="Europe/Zurich",
                 duckdb_memory_limit="3GB", duckdb_threads=2)
    )
    assert env == {
        "WAREHOUSE_TARGET": "duckdb",
        "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
        "WAREHOUSE_DUCKDB_MEMORY_LIMIT": "3GB",
        "WAREHOUSE_DUCKDB_THREADS": "2",
        "WAREHOUSE_SOURCE_TIMEZONE": "Europe/Zurich",
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }


def test_a_uri_dsn_is_split_into_profile_fields() -> None:
    env = dbt_env(
        settings(
            target="postgres",
            pg_dsn="postgresql://loader:s%40cret@db.example:6543/wh?sslmode=require",
        )
    )
    assert {key: value for key, value in env.items() if key.startswith("WAREHOUSE_PG_")} == {
        "WAREHOUSE_PG_HOST": "db.example",
        "WAREHOUSE_PG_PORT": "6543",
        "WAREHOUSE_PG_USER": "loader",
        "WAREHOUSE_PG_PASSWORD": "s@cret",
        "WAREHOUSE_PG_DBNAME": "wh",
        "WAREHOUSE_PG_SSLMODE": "require",
    }


def test_a_socket_directory_is_a_host_and_defaults_fill_the_gaps() -> None:
    env = dbt_env(settings(target="postgres", pg_dsn="host=/tmp/gwpg-x user=postgres dbname=wh"))
    assert env["WAREHOUSE_PG_HOST"] == "/tmp/gwpg-x"
    assert env["WAREHOUSE_PG_PORT"] == "5432"
    assert env["WAREHOUSE_PG_PASSWORD"] == ""
    assert (
        env["WAREHOUSE_PG_SSLMODE"] == ""
    )  # libpq's default, not whatever the caller's environment holds


def test_other_libpq_keywords_travel_as_libpq_variables() -> None:
    env = dbt_env(
        settings(
            target="postgres",
            pg_dsn="host=db user=u dbname=wh sslrootcert=/etc/ca.pem connect_timeout=5",
        )
    )
    assert env["PGSSLROOTCERT"] == "/etc/ca.pem"
    assert env["PGCONNECT_TIMEOUT"] == "5"


def test_dbt_uses_the_transformer_login_when_there_is_one() -> None:
    env = dbt_env(
        settings(
            target="postgres",
            pg_dsn="host=db user=loader dbname=wh",
            transformer_pg_dsn="host=db user=transformer dbname=wh",
        )
    )
    assert env["WAREHOUSE_PG_USER"] == "transformer"
