"""The warehouse's settings: one typed object, read once from the environment and `.env`.

Every part of the project (loaders, dbt profiles, Dagster) reads its configuration from
here, so there is exactly one place to point the warehouse at a database.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel.database import SparkTarget, Warehouse
from kernel.paths import STATE_DIR

# The warehouse's schemas and DuckDB's own catalogs: no name for the analysts' file.
RESERVED_DATABASE_NAMES = {"raw", "staging", "analytics", "ops", "refresh_state", "main", "memory",
                           "system", "temp"}

# What DuckDB's memory_limit accepts: a size with its unit, or a share of the machine's RAM.
MEMORY_LIMIT = re.compile(r"(\d+(\.\d+)?) ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)|([1-9]\d?|100)%", re.IGNORECASE)
# What the JVM and Spark accept as a memory size (spark.executor.memory): 512m, 2g.
JVM_MEMORY = re.compile(r"[1-9]\d*[kmgt]", re.IGNORECASE)
# The master URLs Spark knows: a standalone cluster (one master or several, for HA), local
# threads, YARN, Kubernetes.
SPARK_MASTER = re.compile(r"spark://[^\s/:,]+:\d{1,5}(,[^\s/:,]+:\d{1,5})*|local(\[(\*|[1-9]\d*)(, ?[1-9]\d*)?\])?"
                          r"|yarn|k8s://https?://\S+")


class SettingsError(Exception):
    """A setting has a value the warehouse cannot use; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WAREHOUSE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # dev or prod: one variable picks the profile, and each profile has a database of its
    # own (`gridwarehouse_<env>` on PostgreSQL, a separate file on DuckDB).
    env: Literal["dev", "prod"] = "dev"
    target: Literal["duckdb", "postgres", "spark"] = "duckdb"
    data_dir: Path = Path("data")
    duckdb_path: Path = STATE_DIR / "warehouse.duckdb"
    # The analysts' read-only copy of the DuckDB file (kernel.reader_snapshot); unset, beside
    # it: see `reader_path`.
    duckdb_reader_path: Path | None = None
    # DuckDB's memory and cores, for every connection the project opens and for dbt: a
    # laptop-safe cap (DuckDB's own default is 80 % of RAM), spilling to disk beyond it.
    duckdb_memory_limit: str = "2GB"
    duckdb_threads: int = Field(default_factory=lambda: min(os.cpu_count() or 1, 4), ge=1)
    pg_dsn: str | None = None
    source_timezone: str = "UTC"
    # Rows per batch when streaming a measurements file: bounds the loader's memory.
    batch_rows: int = Field(default=250_000, ge=1_000)
    # A load whose rejected share exceeds this fails its Dagster check.
    max_rejected_share: float = Field(default=0.05, ge=0.0, le=1.0)
    # Orchestration (Dagster): when `refresh` runs by itself, how stale a mart may get,
    # and where a failed run is posted.
    refresh_cron: str = "0 * * * *"
    # The `verify` job: every test over whole tables, daily by default.
    verify_cron: str = "30 3 * * *"
    dump_sensor_interval_seconds: int = Field(default=30, ge=5)
    # Whether the schedule and the dump sensor are on when the code location first loads.
    automation_enabled: bool = True
    mart_max_age_hours: float = Field(default=3.0, gt=0)
    failure_webhook_url: str | None = None
    # Dagster's instance folder (runs, event log, schedules), used as is when set; unset,
    # each warehouse has its own: see `dagster_instance_dir`.
    dagster_home: Path | None = None
    # Deployment: dbt's own login (the loader's is pg_dsn; unset means the same one), and
    # log lines for people (text) or for a log collector (json).
    transformer_pg_dsn: str | None = None
    # The analysts' login (read-only): `warehouse sql`, the read API. Unset: dbt's login.
    reader_pg_dsn: str | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # The read API (`warehouse serve`): /ready fails when the newest load the marts reflect
    # is older than this (unset: mart_max_age_hours, the freshness checks' limit); bearer
    # tokens, comma-separated (required when the API listens beyond the loopback); browser
    # origins allowed by CORS, comma-separated (none: CORS off); PostgreSQL connections.
    ready_max_age_hours: float | None = Field(default=None, gt=0)
    api_tokens: SecretStr = SecretStr("")
    api_cors_origins: str = ""
    api_pool_size: int = Field(default=8, ge=1, le=100)
    # The Spark target (docs/spark.md): the cluster's master, the lake folder holding the
    # raw tables as Parquet (a local path here; a path every worker reads, such as NFS,
    # in a real cluster), each executor's cores and memory, and the metastore that holds
    # the table definitions: Derby in a folder (one JVM at a time) or PostgreSQL (shared).
    spark_master: str = "spark://127.0.0.1:7077"
    spark_lake_dir: Path = STATE_DIR / "lake"
    spark_executor_cores: int = Field(default=1, ge=1, le=256)
    spark_executor_memory: str = "1g"
    spark_metastore: Literal["derby", "postgres"] = "derby"
    spark_metastore_dir: Path = STATE_DIR / "spark" / "metastore"
    spark_metastore_pg_dsn: str | None = None
    # The PostgreSQL JDBC driver's jar, which the pyspark wheel does not carry (nothing
    # is downloaded at run time): required with a PostgreSQL metastore.
    spark_jdbc_driver_jar: Path | None = None

    @field_validator("source_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/Zurich')") from error
        return value

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        value = value.strip()
        if not MEMORY_LIMIT.fullmatch(value):
            raise ValueError("not a memory size: use a number with a unit (512MB, 2GB, 1.5GiB) "
                             "or a share of the RAM (50%)")
        return value

    @field_validator("spark_master")
    @classmethod
    def _spark_master_url(cls, value: str) -> str:
        value = value.strip()
        if not SPARK_MASTER.fullmatch(value):
            raise ValueError("not a Spark master URL: use spark://HOST:PORT (a standalone cluster, "
                             "e.g. spark://127.0.0.1:7077), local[N], yarn or k8s://https://HOST:PORT")
        return value

    @field_validator("spark_executor_memory")
    @classmethod
    def _jvm_memory(cls, value: str) -> str:
        value = value.strip()
        if not JVM_MEMORY.fullmatch(value):
            raise ValueError("not a JVM memory size: use a whole number with a unit k, m, g or t "
                             "(512m, 2g)")
        return value.lower()

    @field_validator("spark_metastore_pg_dsn")
    @classmethod
    def _metastore_dsn(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(value)
        except ProgrammingError:
            raise ValueError("not a libpq connection string (postgresql://user:password@host:port/metastore)"
                             ) from None
        if not params.get("dbname"):
            raise ValueError("names no database: the metastore needs one of its own "
                             "(postgresql://user:password@host:port/metastore)")
        return value

    @model_validator(mode="after")
    def _spark_metastore_complete(self) -> Settings:
        if self.spark_metastore != "postgres":
            return self
        if not self.spark_metastore_pg_dsn:
            raise ValueError("WAREHOUSE_SPARK_METASTORE=postgres needs WAREHOUSE_SPARK_METASTORE_PG_DSN "
                             "(the metastore's database)")
        jar = self.spark_jdbc_driver_jar
        if jar is None or not jar.is_file():
            where = f"{jar} does not exist" if jar is not None else "it is not set"
            raise ValueError("WAREHOUSE_SPARK_METASTORE=postgres needs WAREHOUSE_SPARK_JDBC_DRIVER_JAR, "
                             f"the PostgreSQL JDBC driver's jar, and {where}")
        return self

    @field_validator("pg_dsn")
    @classmethod
    def _dsn_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        return value

    @model_validator(mode="before")
    @classmethod
    def _prod_duckdb_file(cls, data: object) -> object:
        # dev keeps the historical file name; prod gets a file of its own.
        if isinstance(data, dict) and data.get("env") == "prod" and data.get("duckdb_path") is None:
            return {**data, "duckdb_path": STATE_DIR / "warehouse-prod.duckdb"}
        return data

    @field_validator("duckdb_reader_path")
    @classmethod
    def _reader_file_of_its_own(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        live = info.data.get("duckdb_path")
        if live is not None and value.absolute() == live.absolute():
            raise ValueError("must differ from WAREHOUSE_DUCKDB_PATH: the analysts read a copy, so "
                             "that they never hold the live file")
        # DuckDB names the database after the file: a name shared with a schema makes
        # `analytics.measurements` ambiguous in every query.
        if value.stem.lower() in RESERVED_DATABASE_NAMES:
            raise ValueError(f"DuckDB names the database {value.stem!r} after the file, which clashes "
                             "with a schema or DuckDB's own catalog; choose another file name (such as "
                             "analysts.duckdb)")
        return value

    @field_validator("pg_dsn", "transformer_pg_dsn", "reader_pg_dsn")
    @classmethod
    def _env_database(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        return profile_dsn(value, info.data.get("env", "dev"))

    @property
    def transformer_dsn(self) -> str:
        """Where dbt connects: its own login when one is set, else the loader's."""
        return self.transformer_pg_dsn or self.require_pg_dsn()

    @property
    def warehouse(self) -> Warehouse:
        """Where the warehouse is and how each role logs in (kernel.database.connect).

        Not cached: `model_copy(update=...)` copies a cached value along, and the copy
        would keep connecting to the original's database."""
        return Warehouse(target=self.target, duckdb_path=self.duckdb_path,
                         duckdb_config=self.duckdb_config, reader_path=self.reader_path,
                         loader_dsn=self.pg_dsn,
                         transformer_dsn=self.transformer_pg_dsn, reader_dsn=self.reader_pg_dsn,
                         spark=self.spark if self.target == "spark" else None)

    @property
    def spark(self) -> SparkTarget:
        """The Spark target's cluster, lake and metastore (kernel.database.SparkTarget)."""
        metastore: dict[str, str] = {}
        if self.spark_metastore == "postgres" and self.spark_metastore_pg_dsn:
            from psycopg.conninfo import conninfo_to_dict

            params = conninfo_to_dict(self.spark_metastore_pg_dsn)
            metastore = {
                "url": f"jdbc:postgresql://{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
                       f"/{params['dbname']}",
                "user": str(params.get("user") or ""),
                "password": str(params.get("password") or ""),
            }
        return SparkTarget(master=self.spark_master, lake_dir=_absolute(self.spark_lake_dir),
                           executor_cores=self.spark_executor_cores,
                           executor_memory=self.spark_executor_memory,
                           metastore_dir=_absolute(self.spark_metastore_dir),
                           metastore_jdbc=metastore,
                           jdbc_driver_jar=(_absolute(self.spark_jdbc_driver_jar)
                                            if self.spark_jdbc_driver_jar else None),
                           timezone="UTC")

    @property
    def reader_path(self) -> Path:
        """The analysts' copy of the DuckDB file: WAREHOUSE_DUCKDB_READER_PATH when set, else
        beside the DuckDB file and named after it (warehouse.duckdb -> analysts.duckdb, the
        prod profile's warehouse-prod.duckdb -> analysts-prod.duckdb)."""
        return self.duckdb_reader_path or default_reader_path(self.duckdb_path)

    @property
    def ready_max_age(self) -> float:
        """Hours after which the read API's /ready reports the marts stale."""
        return self.ready_max_age_hours if self.ready_max_age_hours is not None else self.mart_max_age_hours

    @property
    def api_token_set(self) -> frozenset[str]:
        """The bearer tokens the read API accepts (empty: none configured)."""
        return frozenset(token.strip() for token in self.api_tokens.get_secret_value().split(",") if token.strip())

    @property
    def api_cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.api_cors_origins.split(",") if origin.strip()]

    @property
    def duckdb_config(self) -> dict[str, str | int]:
        """The configuration every DuckDB connection of the project opens with."""
        return {"memory_limit": self.duckdb_memory_limit, "threads": self.duckdb_threads}

    @property
    def data_path(self) -> Path:
        return self.data_dir if self.data_dir.is_absolute() else Path.cwd() / self.data_dir

    @property
    def dagster_instance_dir(self) -> Path:
        """Where Dagster records this warehouse's runs: WAREHOUSE_DAGSTER_HOME when set, else
        `.state/dagster/<warehouse_key>`.

        One instance per database: the UI's history, its row-count plots and the run queue
        of one warehouse never mix with another's.
        """
        return self.dagster_home or STATE_DIR / "dagster" / self.warehouse_key

    @property
    def warehouse_key(self) -> str:
        """A folder name that tells this warehouse's database apart from any other.

        DuckDB: `duckdb-<file stem>-<digest of the file's absolute path>`. PostgreSQL:
        `postgres-<host>-<port>-<database>`, with libpq's defaults (PGHOST, PGPORT, 5432)
        where the DSN names none.
        """
        if self.target in ("duckdb", "spark"):
            path = (self.duckdb_path if self.target == "duckdb" else self.spark_lake_dir).expanduser().resolve()
            digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
            return f"{self.target}-{_folder_safe(path.stem)}-{digest}"
        from psycopg import pq
        from psycopg.conninfo import conninfo_to_dict

        given = conninfo_to_dict(self.require_pg_dsn())
        defaults = {option.keyword.decode(): option.val.decode()
                    for option in pq.Conninfo.get_defaults() if option.val is not None}
        host = given.get("host") or given.get("hostaddr") or defaults.get("host") or "localhost"
        port = given.get("port") or defaults.get("port") or "5432"
        return "-".join(["postgres", *(_folder_safe(str(part)) for part in (host, port, given["dbname"]))])

    def require_pg_dsn(self) -> str:
        if not self.pg_dsn:
            raise SettingsError("WAREHOUSE_PG_DSN is not set; the postgres target needs a connection string")
        return self.pg_dsn


def _absolute(path: Path) -> Path:
    return path.expanduser() if path.expanduser().is_absolute() else Path.cwd() / path.expanduser()


def _folder_safe(part: str) -> str:
    """`part` as a piece of a folder name: letters, digits, `.`, `_`, `-` (a socket folder
    such as /var/run/postgresql becomes var_run_postgresql)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", part).strip("._")[:60] or "_"


def default_reader_path(duckdb_path: Path) -> Path:
    """Where the analysts' copy of `duckdb_path` goes unless told: beside it, named after it."""
    name = duckdb_path.name
    if "warehouse" in name:
        return duckdb_path.with_name(name.replace("warehouse", "analysts", 1))
    return duckdb_path.with_name(f"{duckdb_path.stem}-analysts{duckdb_path.suffix or '.duckdb'}")


def profile_database(env: str) -> str:
    """The PostgreSQL database of a settings profile: `gridwarehouse_dev`, `gridwarehouse_prod`."""
    return f"gridwarehouse_{env}"


def profile_dsn(dsn: str, env: str) -> str:
    """`dsn` on the profile's database: filled in when the DSN names none, refused when it
    names the other profile's (a dev session must never write prod, nor prod read dev)."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        dbname = conninfo_to_dict(dsn).get("dbname")
    except ProgrammingError:
        raise ValueError("not a libpq connection string (postgresql://... or key=value pairs)") from None
    if not dbname:
        return make_conninfo(dsn, dbname=profile_database(env))
    other = "prod" if env == "dev" else "dev"
    if dbname == profile_database(other):
        raise ValueError(f"WAREHOUSE_ENV={env} must not use database {dbname!r}, the {other} database; "
                         f"use {profile_database(env)!r} or leave the database out of the DSN")
    return dsn


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one line per bad variable."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    try:
        settings = Settings(**clean)
    except ValidationError as error:
        problems = []
        for failure in error.errors():
            field = str(failure["loc"][0]) if failure["loc"] else "?"
            # A connection string may hold a password: name the variable, never echo it.
            given = "(hidden)" if field.endswith(("dsn", "tokens")) else failure.get("input")
            if field == "?" or failure["type"] == "value_error" and not failure["loc"]:
                # A check of several variables together: its message names them.
                problems.append(failure["msg"].removeprefix("Value error, "))
            else:
                problems.append(f"WAREHOUSE_{field.upper()}={given!r}: {failure['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
    if settings.target == "postgres":
        settings.require_pg_dsn()
    return settings
