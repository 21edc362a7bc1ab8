"""kernel.database: one language over both warehouses, connections by role, the ops schema."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from kernel.database import ConnectionFailed, Database, Warehouse, connect
from kernel.ops import migrate_ops
from kernel.settings import Settings

TARGETS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=TARGETS)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    if request.param == "postgres":
        return Warehouse.postgres(request.getfixturevalue("pg_dsn"))
    return Warehouse(target="duckdb", duckdb_path=tmp_path / "warehouse.duckdb")


@pytest.fixture
def loader(warehouse: Warehouse) -> Iterator[Database]:
    with connect(warehouse, "loader") as db:
        db.execute("CREATE SCHEMA IF NOT EXISTS scratch")
        db.execute("CREATE TABLE scratch.readings (signal_id bigint, value double precision, note text)")
        db.execute("INSERT INTO scratch.readings VALUES (1, 1.5, 'a'), (2, 2.5, 'b'), (3, 3.5, '?')")
        yield db


def test_placeholders_bind_the_same_way_on_both_warehouses(loader: Database) -> None:
    # A `?` inside a bound value stays a value.
    assert loader.execute("SELECT signal_id FROM scratch.readings WHERE note = ? OR value > ? "
                          "ORDER BY signal_id", ("?", 2.0)) == [(2,), (3,)]


def test_a_failed_transaction_leaves_nothing_behind(loader: Database) -> None:
    with pytest.raises(RuntimeError), loader.transaction():
        loader.execute("INSERT INTO scratch.readings VALUES (4, 4.5, 'd')")
        raise RuntimeError("stop halfway")
    assert loader.execute("SELECT count(*) FROM scratch.readings") == [(3,)]


def test_arrow_and_polars_reads_carry_names_and_values(loader: Database) -> None:
    table = loader.read_arrow("SELECT signal_id, value FROM scratch.readings ORDER BY signal_id")
    assert table.column_names == ["signal_id", "value"]
    assert table.column("value").to_pylist() == [1.5, 2.5, 3.5]
    frame = loader.read_polars("SELECT note FROM scratch.readings WHERE signal_id = ?", (2,))
    assert frame["note"].to_list() == ["b"]


def test_batches_stream_a_result_in_bounded_pieces(loader: Database) -> None:
    batches = list(loader.iter_batches("SELECT signal_id FROM scratch.readings ORDER BY signal_id",
                                       batch_rows=2))
    assert [batch.num_rows for batch in batches] == [2, 1]
    assert [value for batch in batches for value in batch.column(0).to_pylist()] == [1, 2, 3]


def test_duckdb_reader_opens_read_only_and_never_creates_the_file(tmp_path: Path) -> None:
    warehouse = Warehouse(target="duckdb", duckdb_path=tmp_path / "absent.duckdb")
    with pytest.raises(ConnectionFailed, match="does not exist yet"):
        connect(warehouse, "reader")
    assert not warehouse.duckdb_path.exists()
    with connect(warehouse, "loader") as db:
        db.execute("CREATE TABLE t AS SELECT 1 AS x")
    with connect(warehouse, "reader") as reader:
        assert reader.execute("SELECT x FROM t") == [(1,)]
        with pytest.raises(duckdb.InvalidInputException, match="read-only"):
            reader.execute("INSERT INTO t VALUES (2)")


def test_roles_fall_back_to_the_login_that_owns_what_they_read() -> None:
    warehouse = Warehouse(target="postgres", duckdb_path=Path(), loader_dsn="host=a dbname=w",
                          transformer_dsn="host=b dbname=w")
    assert warehouse.dsn("loader") == "host=a dbname=w"
    assert warehouse.dsn("transformer") == "host=b dbname=w"
    assert warehouse.dsn("reader") == "host=b dbname=w"


def test_settings_name_each_role_login() -> None:
    settings = Settings(target="postgres", pg_dsn="postgresql://loader@db/gridwarehouse_dev",
                        transformer_pg_dsn="postgresql://dbt@db/gridwarehouse_dev",
                        reader_pg_dsn="postgresql://analyst@db/gridwarehouse_dev")
    assert [settings.warehouse.dsn(role) for role in ("loader", "transformer", "reader")] == [
        "postgresql://loader@db/gridwarehouse_dev", "postgresql://dbt@db/gridwarehouse_dev",
        "postgresql://analyst@db/gridwarehouse_dev"]


def test_a_port_where_nothing_listens_fails_at_once_naming_host_and_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    warehouse = Warehouse.postgres(f"postgresql://someone@127.0.0.1:{port}/gridwarehouse_dev")
    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as failed:
        connect(warehouse, "loader")
    assert time.monotonic() - started < 10
    message = str(failed.value)
    assert f"cannot connect to PostgreSQL at someone@127.0.0.1:{port}/gridwarehouse_dev as loader" in message
    assert "\n" not in message


def test_ops_migrations_apply_once_and_adopt_failures_kept_in_raw(warehouse: Warehouse) -> None:
    with connect(warehouse, "loader") as db:
        # What the first versions wrote: failures in raw.run_failures.
        db.execute("CREATE SCHEMA raw")
        db.execute("CREATE TABLE raw.run_failures (run_id text NOT NULL, job_name text NOT NULL, "
                   "step_key text, error text NOT NULL, failed_at timestamptz NOT NULL, "
                   "recorded_at timestamptz NOT NULL DEFAULT current_timestamp)")
        db.execute("INSERT INTO raw.run_failures (run_id, job_name, step_key, error, failed_at) "
                   "VALUES ('r1', 'refresh', 'raw_tables', 'boom', '2026-11-01 10:00:00+00')")
        assert migrate_ops(db) == ["0001"]
        assert migrate_ops(db) == []
        assert db.execute("SELECT run_id, job_name, step_key, error FROM ops.run_failures") == [
            ("r1", "refresh", "raw_tables", "boom")]
        assert not db.table_exists("raw", "run_failures")


def test_a_copy_of_the_settings_reaches_the_copy_s_warehouse(tmp_path: Path) -> None:
    settings = Settings(duckdb_path=tmp_path / "first.duckdb", data_dir=tmp_path / "first")
    assert settings.warehouse.duckdb_path == tmp_path / "first.duckdb"
    copy = settings.model_copy(update={"duckdb_path": tmp_path / "second.duckdb", "data_dir": tmp_path / "second"})
    assert copy.warehouse.duckdb_path == tmp_path / "second.duckdb"
    assert copy.data_path == tmp_path / "second"
    assert copy.dagster_instance_dir != settings.dagster_instance_dir



@pytest.mark.postgres
def test_postgres_reader_sessions_are_read_only_whatever_the_login_may_do(pg_dsn: str) -> None:
    import psycopg

    warehouse = Warehouse.postgres(pg_dsn)  # the reader falls back to the owner's login
    with connect(warehouse, "loader") as db:
        db.execute("CREATE TABLE readings (n integer)")
    with connect(warehouse, "reader") as reader:
        assert reader.execute("SHOW default_transaction_read_only") == [("on",)]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.execute("INSERT INTO readings VALUES (1)")
