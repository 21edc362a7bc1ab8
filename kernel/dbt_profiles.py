"""Turn the warehouse settings into the environment that `dbt_project/profiles.yml` reads.

profiles.yml holds no connection details of its own: every value comes from an
environment variable filled here from `Settings`, so the loaders, dbt and Dagster all
point at the same database. Run dbt with `env={**os.environ, **dbt_env(settings)}` and
`--target settings.target` (the target also defaults to WAREHOUSE_TARGET).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from kernel.paths import DBT_PROJECT_DIR
from kernel.settings import Settings

# Connection keywords that profiles.yml maps onto dbt-postgres profile fields.
_PROFILE_FIELDS = {
    "host": "WAREHOUSE_PG_HOST",
    "port": "WAREHOUSE_PG_PORT",
    "user": "WAREHOUSE_PG_USER",
    "password": "WAREHOUSE_PG_PASSWORD",
    "dbname": "WAREHOUSE_PG_DBNAME",
    "sslmode": "WAREHOUSE_PG_SSLMODE",
}


# dbt's own Spark session: named on the master's page; and whole-stage code generation
# off, because Spark 4.3 fails a query whose broadcast side is a union of literal rows
# (dbt's unit-test fixtures) with "ClassCastException: ... DefaultSerializationProxy to
# field ...UnionExec.children" when it is on (adaptive execution off avoids it as well).
DBT_SPARK_CONF = {"spark.app.name": "gridwarehouse-dbt", "spark.sql.codegen.wholeStage": "false"}


def dbt_env(settings: Settings) -> dict[str, str]:
    """The environment variables profiles.yml reads, derived from `settings`.

    Returns only the variables dbt needs; merge them over os.environ yourself:
    WAREHOUSE_TARGET, WAREHOUSE_DUCKDB_PATH (absolute), WAREHOUSE_DUCKDB_MEMORY_LIMIT and
    WAREHOUSE_DUCKDB_THREADS (DuckDB's settings), WAREHOUSE_SOURCE_TIMEZONE,
    DBT_PROJECT_DIR, DBT_PROFILES_DIR; on the Spark target WAREHOUSE_SPARK_MASTER and
    WAREHOUSE_SPARK_SESSION_CONF (the session's Spark settings as JSON, dbt-spark's
    `server_side_parameters`); and, when a PostgreSQL DSN is set,
    WAREHOUSE_PG_HOST/PORT/USER/PASSWORD/DBNAME/SSLMODE for dbt's own login
    (`settings.transformer_dsn`: the transformer's DSN, else the loader's).

    dbt-postgres wants those fields, not a DSN, so the DSN (URI or key=value) is split
    here. Any other libpq keyword in it (sslrootcert, options, ...) travels as libpq's
    own PG* variable, which the driver under dbt-postgres reads by itself.
    """
    duckdb_path = settings.duckdb_path
    if not duckdb_path.is_absolute():
        duckdb_path = Path.cwd() / duckdb_path
    env = {
        "WAREHOUSE_TARGET": settings.target,
        "WAREHOUSE_DUCKDB_PATH": str(duckdb_path),
        "WAREHOUSE_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "WAREHOUSE_DUCKDB_THREADS": str(settings.duckdb_threads),
        "WAREHOUSE_SOURCE_TIMEZONE": settings.source_timezone,
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }
    if settings.transformer_pg_dsn or settings.pg_dsn:
        env.update(_postgres_env(settings.transformer_dsn))
    if settings.target == "spark":
        env["WAREHOUSE_SPARK_MASTER"] = settings.spark.master
        env["WAREHOUSE_SPARK_SESSION_CONF"] = json.dumps(
            {**settings.spark.session_conf(), **DBT_SPARK_CONF}, sort_keys=True)
    return env


def _postgres_env(dsn: str) -> dict[str, str]:
    # Imported here: a DuckDB run need not load the PostgreSQL driver.
    import psycopg.pq
    from psycopg.conninfo import conninfo_to_dict

    params = {key: str(value) for key, value in conninfo_to_dict(dsn).items() if value is not None}
    env = {
        variable: params.pop(keyword)
        for keyword, variable in _PROFILE_FIELDS.items()
        if keyword in params
    }
    # dbt needs every field spelled out; these are libpq's own defaults, except that a
    # DSN without host means localhost here rather than libpq's compiled-in socket.
    env.setdefault("WAREHOUSE_PG_HOST", "localhost")
    env.setdefault("WAREHOUSE_PG_PORT", "5432")
    env.setdefault("WAREHOUSE_PG_USER", getpass.getuser())
    env.setdefault("WAREHOUSE_PG_PASSWORD", "")
    env.setdefault("WAREHOUSE_PG_DBNAME", env["WAREHOUSE_PG_USER"])
    env.setdefault("WAREHOUSE_PG_SSLMODE", "")
    libpq_variables = {
        option.keyword.decode(): option.envvar.decode()
        for option in psycopg.pq.Conninfo.get_defaults()
        if option.envvar
    }
    for keyword, value in params.items():
        if keyword in libpq_variables:
            env[libpq_variables[keyword]] = value
    return env
