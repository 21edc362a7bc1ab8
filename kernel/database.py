"""The one way to reach the warehouse: connect by role to DuckDB or PostgreSQL.

Three roles, as on a production PostgreSQL deployment: the **loader** writes `raw` (and
`ops`), the **transformer** is dbt's login and owns `staging`, `analytics` and
`refresh_state`, the **reader** is the analysts' view. On PostgreSQL each role has a DSN
of its own (a role whose DSN is unset falls back to the one that owns what it reads), and
the reader's sessions are read-only as well. DuckDB has no logins and admits one writing
process or many reading ones per file, never both: there the reader opens the analysts'
copy of the file read-only (`Warehouse.reader_path`, published by
kernel.reader_snapshot after each write), so an analyst never stops the pipeline.

A `Database` speaks the same small language on both: `execute` with `?` placeholders,
`transaction`, and Arrow or Polars reads (`read_arrow`, `read_polars`, `iter_batches`
for results too large to hold). The loaders' bulk writers reach under it through
`connection`; nothing else should need to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

Role = Literal["loader", "transformer", "reader"]
Target = Literal["duckdb", "postgres", "spark"]
ROLES: tuple[Role, ...] = ("loader", "transformer", "reader")

# A server that refuses or does not answer fails the command within this, not after
# minutes of retries (libpq's connect_timeout, in seconds).
CONNECT_TIMEOUT_SECONDS = 10


class DatabaseError(Exception):
    """The warehouse cannot be reached or used as asked; the message names where and why."""


class ConnectionFailed(DatabaseError):
    """Connecting failed: server down, wrong host or port, login refused, file locked."""


class WarehouseBusyError(DatabaseError):
    """Another process holds the warehouse's writer lock (kernel.writer_lock)."""


class QueryError(DatabaseError):
    """The warehouse refused a statement (a syntax error, an unknown table, a write on a
    read-only session); the message is the database's own first line."""


@dataclass(frozen=True)
class SparkTarget:
    """A Spark warehouse: the cluster that computes, the lake that holds the tables as
    Parquet, and the metastore that holds their definitions (docs/spark.md)."""

    master: str
    lake_dir: Path
    executor_cores: int = 1
    executor_memory: str = "1g"
    # Derby's folder (one JVM at a time), used unless `metastore_jdbc` names a shared one:
    # {"url": "jdbc:postgresql://...", "user": ..., "password": ...}.
    metastore_dir: Path = Path(".state/spark/metastore")
    metastore_jdbc: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    jdbc_driver_jar: Path | None = None
    timezone: str = "UTC"

    @property
    def raw_dir(self) -> Path:
        """The raw tables' folder in the lake: one subfolder per table."""
        return self.lake_dir / "raw"

    @property
    def tables_dir(self) -> Path:
        """Where Spark keeps the tables dbt builds (spark.sql.warehouse.dir)."""
        return self.lake_dir / "warehouse"

    def session_conf(self) -> dict[str, str]:
        """The Spark settings of every session on this warehouse (a driver's, or dbt's
        `server_side_parameters`)."""
        conf = {
            "spark.master": self.master,
            "spark.executor.cores": str(self.executor_cores),
            "spark.executor.memory": self.executor_memory,
            "spark.sql.session.timeZone": self.timezone,
            "spark.sql.warehouse.dir": self.tables_dir.as_uri(),
            # The loaders add a load's folder without a JVM: Spark lists a table's folders
            # when it reads, instead of trusting partitions recorded in the metastore.
            "spark.sql.hive.manageFilesourcePartitions": "false",
            "spark.sql.sources.partitionOverwriteMode": "dynamic",
            # A driver on this machine's own cluster (warehouse cluster) talks to it over
            # the loopback, whatever address the host name resolves to.
            **({"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
               if self.master.startswith(("spark://127.0.0.1:", "spark://localhost:", "local")) else {}),
            # Derby writes derby.log into the working directory unless told otherwise.
            "spark.driver.extraJavaOptions": (f"-Dderby.system.home={self.metastore_dir.parent} "
                                              f"-Dderby.stream.error.file={self.metastore_dir.parent / 'derby.log'}"),
        }
        if self.metastore_jdbc:
            conf.update({
                "spark.hadoop.javax.jdo.option.ConnectionURL": self.metastore_jdbc["url"],
                "spark.hadoop.javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
                "spark.hadoop.javax.jdo.option.ConnectionUserName": self.metastore_jdbc.get("user", ""),
                "spark.hadoop.javax.jdo.option.ConnectionPassword": self.metastore_jdbc.get("password", ""),
                "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
                "spark.hadoop.hive.metastore.schema.verification": "false",
            })
            if self.jdbc_driver_jar is not None:
                conf["spark.driver.extraClassPath"] = str(self.jdbc_driver_jar)
        else:
            conf["spark.hadoop.javax.jdo.option.ConnectionURL"] = (
                f"jdbc:derby:;databaseName={self.metastore_dir};create=true")
        return conf


@dataclass(frozen=True)
class Warehouse:
    """Where one warehouse is and how each role logs in: all that connecting needs."""

    target: Target
    duckdb_path: Path
    duckdb_config: Mapping[str, str | int] = field(default_factory=dict, hash=False, compare=False)
    # DuckDB: the analysts' copy the reader opens; None reads the live file (a scratch
    # warehouse that publishes no copy).
    reader_path: Path | None = None
    loader_dsn: str | None = None
    transformer_dsn: str | None = None
    reader_dsn: str | None = None
    spark: SparkTarget | None = None

    @classmethod
    def postgres(cls, dsn: str) -> Warehouse:
        """A PostgreSQL warehouse reached with one login for every role."""
        return cls(target="postgres", duckdb_path=Path(), loader_dsn=dsn)

    def require_spark(self) -> SparkTarget:
        if self.spark is None:
            raise DatabaseError("the spark target needs its cluster and lake (Settings.spark)")
        return self.spark

    def dsn(self, role: Role) -> str:
        """The PostgreSQL connection string of `role` (falling back as the module says)."""
        return self._dsn_and_variable(role)[0]

    def dsn_variable(self, role: Role) -> str:
        """The setting `role`'s connection string comes from, for messages: WAREHOUSE_PG_DSN, ..."""
        return self._dsn_and_variable(role)[1]

    def _dsn_and_variable(self, role: Role) -> tuple[str, str]:
        chains: dict[Role, tuple[str, ...]] = {
            "loader": ("loader",),
            "transformer": ("transformer", "loader"),
            "reader": ("reader", "transformer", "loader"),
        }
        for source in chains[role]:
            dsn = getattr(self, f"{source}_dsn")
            if dsn:
                return dsn, DSN_VARIABLES[source]
        raise DatabaseError("WAREHOUSE_PG_DSN is not set; the postgres target needs a connection string")

    @property
    def label(self) -> str:
        """The warehouse as a person reads it, without a password: for messages and keys."""
        if self.target == "duckdb":
            return f"duckdb:{self.duckdb_path}"
        if self.target == "spark":
            return f"spark:{self.require_spark().lake_dir} (on {self.require_spark().master})"
        return f"postgres:{describe_dsn(self.dsn('loader'))}"


# Where each role's connection string comes from (kernel.settings), named in messages.
DSN_VARIABLES: dict[str, str] = {
    "loader": "WAREHOUSE_PG_DSN",
    "transformer": "WAREHOUSE_TRANSFORMER_PG_DSN",
    "reader": "WAREHOUSE_READER_PG_DSN",
}


def describe_dsn(dsn: str) -> str:
    """`user@host:port/dbname` of a libpq connection string (never its password)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return "(unparsable connection string)"
    host = parts.get("host") or "localhost"
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"{user}{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


class Database:
    """One open connection to a warehouse, in one role."""

    dialect: Target

    def __init__(self, warehouse: Warehouse, role: Role, connection: Any):
        self.warehouse = warehouse
        self.role = role
        self.connection = connection

    # --- the common language ------------------------------------------------------------
    def execute(self, statement: str, params: tuple | list = ()) -> list[tuple]:
        """Run one statement with `?` placeholders; return its rows (empty if it has none)."""
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all."""
        raise NotImplementedError
        yield

    def read_arrow(self, statement: str, params: tuple | list = ()) -> pa.Table:
        raise NotImplementedError

    def iter_batches(self, statement: str, params: tuple | list = (), batch_rows: int = 50_000
                     ) -> Iterator[pa.RecordBatch]:
        """The result in Arrow batches of at most `batch_rows`, never all of it in memory."""
        raise NotImplementedError

    def read_polars(self, statement: str, params: tuple | list = ()) -> pl.DataFrame:
        import polars as pl

        return pl.from_arrow(self.read_arrow(statement, params))

    def table_exists(self, schema: str, table: str) -> bool:
        return bool(self.execute("SELECT 1 FROM information_schema.tables "
                                 "WHERE table_schema = ? AND table_name = ?", (schema, table)))

    def run_script(self, script: str, batch_rows: int = 10_000) -> Iterator[ResultSet]:
        """Each statement of `script` in turn, as an analyst's query tool shows them.

        Read each result's rows before asking for the next one: the next statement runs
        only then. A statement the database refuses raises QueryError.
        """
        raise NotImplementedError
        yield

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass
class ResultSet:
    """One statement's answer: its column names (none for a statement without rows) and
    its rows in batches, read from the database as they are consumed."""

    columns: list[str]
    batches: Iterator[list[tuple]]


class DuckDBDatabase(Database):
    dialect = "duckdb"

    def execute(self, statement: str, params: tuple | list = ()) -> list[tuple]:
        result = self.connection.execute(statement, list(params) if params else None)
        return result.fetchall() if result.description else []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.connection.begin()
        try:
            yield
        except BaseException:
            self.connection.rollback()
            raise
        self.connection.commit()

    def read_arrow(self, statement: str, params: tuple | list = ()) -> pa.Table:
        return self.connection.sql(statement, params=list(params) if params else None).to_arrow_table()

    def iter_batches(self, statement: str, params: tuple | list = (), batch_rows: int = 50_000
                     ) -> Iterator[pa.RecordBatch]:
        relation = self.connection.sql(statement, params=list(params) if params else None)
        yield from relation.to_arrow_reader(batch_rows)

    def run_script(self, script: str, batch_rows: int = 10_000) -> Iterator[ResultSet]:
        import duckdb

        try:
            statements = self.connection.extract_statements(script)
        except duckdb.Error as error:
            raise QueryError(first_line(error)) from error
        for statement in statements:
            try:
                result = self.connection.execute(statement)
            except duckdb.Error as error:
                raise QueryError(first_line(error)) from error
            # SET and the like answer with an empty "Success" column: nothing to show.
            answers = {kind.name for kind in statement.expected_result_type} != {"NOTHING"}
            columns = [column[0] for column in result.description or []] if answers else []
            yield ResultSet(columns, self._fetch(result, batch_rows) if columns else iter(()))

    @staticmethod
    def _fetch(result: Any, batch_rows: int) -> Iterator[list[tuple]]:
        import duckdb

        try:
            while batch := result.fetchmany(batch_rows):
                yield batch
        except duckdb.Error as error:  # DuckDB computes as it fetches: errors come late
            raise QueryError(first_line(error)) from error


class PostgresDatabase(Database):
    dialect = "postgres"

    def execute(self, statement: str, params: tuple | list = ()) -> list[tuple]:
        query = statement.replace("?", "%s") if params else statement
        with self.connection.cursor() as cursor:
            cursor.execute(query, params or None)
            return cursor.fetchall() if cursor.description else []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.connection.transaction():
            yield

    def read_arrow(self, statement: str, params: tuple | list = ()) -> pa.Table:
        import pyarrow as pa

        batches = list(self.iter_batches(statement, params))
        if batches:
            return pa.Table.from_batches(batches)
        with self.connection.cursor() as cursor:
            cursor.execute(statement.replace("?", "%s") if params else statement, params or None)
            names = [column.name for column in cursor.description or []]
        return pa.table({name: pa.array([], pa.null()) for name in names})

    def iter_batches(self, statement: str, params: tuple | list = (), batch_rows: int = 50_000
                     ) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        query = statement.replace("?", "%s") if params else statement
        # A server-side cursor streams the rows; it needs a transaction to live in.
        with self.connection.transaction(), self.connection.cursor(name="gridwarehouse_read") as cursor:
            cursor.itersize = batch_rows
            cursor.execute(query, params or None)
            names = [column.name for column in cursor.description]
            while rows := cursor.fetchmany(batch_rows):
                yield pa.RecordBatch.from_pylist([dict(zip(names, row, strict=True)) for row in rows])

    def run_script(self, script: str, batch_rows: int = 10_000) -> Iterator[ResultSet]:
        import psycopg

        # The whole script in one round trip; each statement's result then in turn (the
        # client holds them, as psql does by default).
        cursor = self.connection.cursor()
        try:
            try:
                cursor.execute(script)
            except psycopg.Error as error:
                raise QueryError(first_line(error)) from error
            while True:
                columns = [column.name for column in cursor.description or []]
                batches = iter(lambda: cursor.fetchmany(batch_rows), []) if columns else iter(())
                yield ResultSet(columns, batches)
                if not cursor.nextset():
                    break
        finally:
            cursor.close()


class LakeDatabase(Database):
    """The loader's handle on a Spark warehouse's lake: files, no JVM.

    The loaders write the raw tables as Parquet straight into the lake
    (loaders/sinks/spark.py); Spark reads them as external tables. There is no SQL engine
    behind this handle: statements run on Spark (`connect` as transformer or reader).
    """

    dialect = "spark"

    @property
    def lake(self) -> SparkTarget:
        return self.warehouse.require_spark()

    def execute(self, statement: str, params: tuple | list = ()) -> list[tuple]:
        raise QueryError("the spark target's loader writes Parquet files into the lake and runs no SQL; "
                         f"statement refused: {statement.strip().splitlines()[0][:80]!r}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # A file load commits through the lake's own protocol (loaders/sinks/spark.py).
        yield

    def table_exists(self, schema: str, table: str) -> bool:
        return (self.lake.lake_dir / schema / table).is_dir()

    def close(self) -> None:
        pass


class SparkDatabase(Database):
    """A Spark session (driver) on the cluster, as transformer or reader: SQL over the lake's
    tables through the metastore. Spark has no transactions: each statement stands alone."""

    dialect = "spark"

    def execute(self, statement: str, params: tuple | list = ()) -> list[tuple]:
        rows = self._sql(statement, params).collect()
        return [tuple(row) for row in rows]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def read_arrow(self, statement: str, params: tuple | list = ()) -> pa.Table:
        return self._sql(statement, params).toArrow()

    def iter_batches(self, statement: str, params: tuple | list = (), batch_rows: int = 50_000
                     ) -> Iterator[pa.RecordBatch]:
        yield from self.read_arrow(statement, params).to_batches(batch_rows)

    def table_exists(self, schema: str, table: str) -> bool:
        return bool(self.connection.catalog.tableExists(f"{schema}.{table}"))

    def run_script(self, script: str, batch_rows: int = 10_000) -> Iterator[ResultSet]:
        for statement in (part.strip() for part in script.split(";")):
            if statement:
                frame = self._sql(statement, ())
                rows = [tuple(row) for row in frame.collect()]
                yield ResultSet(list(frame.columns), iter([rows[i:i + batch_rows]
                                                           for i in range(0, len(rows), batch_rows)]))

    def _sql(self, statement: str, params: tuple | list) -> Any:
        from pyspark.errors import PySparkException

        try:
            if params:
                # Spark binds positional parameters to `?` markers itself.
                return self.connection.sql(statement, args=list(params))
            return self.connection.sql(statement)
        except PySparkException as error:
            raise QueryError(first_line(error)) from error

    def close(self) -> None:
        self.connection.stop()


def connect(warehouse: Warehouse, role: Role = "reader", *, read_only: bool = False) -> Database:
    """An open connection to `warehouse` as `role`; ConnectionFailed says where and why not.

    On DuckDB the reader, and any role with `read_only`, opens the file read-only: such a
    connection never creates the file, and other read-only processes may open it too
    (a writer may not, for as long as it stays open). The reader opens the analysts'
    copy (`reader_path`), never the live file, and may touch no other file: no ATTACH
    of the live file for writing, no COPY TO. On PostgreSQL the reader's sessions are
    read-only (default_transaction_read_only), whatever its login may do.
    """
    if warehouse.target == "duckdb":
        return _connect_duckdb(warehouse, role, read_only=read_only or role == "reader")
    if warehouse.target == "spark":
        if role == "loader":
            return LakeDatabase(warehouse, role, warehouse.require_spark().lake_dir)
        return _connect_spark(warehouse, role)
    return _connect_postgres(warehouse, role)


def _connect_spark(warehouse: Warehouse, role: Role) -> SparkDatabase:
    """A Spark driver on the warehouse's cluster: 15-20 s of JVM start-up, ~1 GB."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise ConnectionFailed("the spark target needs pyspark, the optional extra `spark` "
                               "(`make install-spark`, or `uv sync --extra spark`)") from error
    spark = warehouse.require_spark()
    _check_master_answers(spark.master)
    builder = SparkSession.builder.appName(f"gridwarehouse-{role}")
    for key, value in spark.session_conf().items():
        builder = builder.config(key, value)
    spark.metastore_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        session = builder.enableHiveSupport().getOrCreate()
    except Exception as error:
        raise ConnectionFailed(f"cannot start a Spark session on {spark.master} as {role}: {first_line(error)} "
                               "(is the cluster running? `warehouse cluster status`; is Java 17 on PATH?)"
                               ) from error
    return SparkDatabase(warehouse, role, session)


def _check_master_answers(master: str) -> None:
    """A standalone master that does not answer fails here within seconds: Spark itself
    would retry in the background for a minute and then stop the session."""
    import socket

    if not master.startswith("spark://"):
        return
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_SECONDS):
                return
        except OSError as error:
            reason = error.strerror or type(error).__name__
    raise ConnectionFailed(f"no Spark master answers at {master}: {reason} (start one with `warehouse cluster "
                           "start`, or point WAREHOUSE_SPARK_MASTER at the cluster's master)")


def _connect_duckdb(warehouse: Warehouse, role: Role, *, read_only: bool) -> DuckDBDatabase:
    import duckdb

    config = dict(warehouse.duckdb_config)
    path = warehouse.duckdb_path
    if role == "reader" and warehouse.reader_path is not None:
        path = warehouse.reader_path
        if not path.exists():
            raise ConnectionFailed(f"the analysts' copy {path} does not exist yet: it is published "
                                   "after each successful `warehouse run` or `warehouse load`")
    if role == "reader":
        # A read-only database may still ATTACH another file read-write: the live one.
        config["enable_external_access"] = False
    if read_only and not path.exists():
        raise ConnectionFailed(f"DuckDB file {path} does not exist yet: build the warehouse first "
                               "(`warehouse run`)")
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConnectionFailed(f"cannot create the folder of DuckDB file {path}: {error.strerror} "
                                   "(check WAREHOUSE_DUCKDB_PATH)") from error
    try:
        # DuckDB admits one writing process per file: a second writer fails here at once.
        connection = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as error:
        raise ConnectionFailed(f"cannot open DuckDB file {path} as {role}: {first_line(error)}") from error
    return DuckDBDatabase(warehouse, role, connection)


def _connect_postgres(warehouse: Warehouse, role: Role) -> PostgresDatabase:
    import psycopg

    dsn = warehouse.dsn(role)
    options = {}
    if role == "reader":
        # Read-only even where the reader falls back to a login that may write.
        from psycopg.conninfo import conninfo_to_dict

        given = conninfo_to_dict(dsn).get("options") or ""
        options["options"] = f"{given} -c default_transaction_read_only=on".strip()
    try:
        connection = psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                     application_name=f"gridwarehouse-{role}", **options)
    except psycopg.OperationalError as error:
        raise postgres_connect_failed(f"cannot connect to PostgreSQL at {describe_dsn(dsn)} as {role}",
                                      error, warehouse.dsn_variable(role)) from error
    return PostgresDatabase(warehouse, role, connection)


def postgres_connect_failed(what: str, error: BaseException, variable: str = "WAREHOUSE_PG_DSN"
                            ) -> ConnectionFailed:
    """The one-line ConnectionFailed for a refused libpq connect: `what`, the server's reason,
    and what to check (`variable` names the setting holding the connection string)."""
    reason = first_line(error)
    lowered = reason.lower()
    if "password" in lowered or "authentication" in lowered or ("role" in lowered and "does not exist" in lowered):
        advice = f"check the user and password in {variable}"
    elif "database" in lowered and "does not exist" in lowered:
        advice = f"create that database, or correct its name in {variable}"
    elif "starting up" in lowered or "shutting down" in lowered:
        advice = "the server is restarting: try again in a moment"
    else:
        advice = f"is PostgreSQL running there? Check the host and port in {variable}"
    return ConnectionFailed(f"{what}: {reason} ({advice})")


def first_line(error: BaseException) -> str:
    """The first non-empty line of an error's message: drivers add pages of detail."""
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()
    return type(error).__name__
