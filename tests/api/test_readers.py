"""The API's connections: read-only, bounded, and never in the way of a refresh."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from api import readers as readers_module
from api.errors import WarehouseUnavailable
from api.readers import DuckDBReaders, PostgresReaders, open_readers
from kernel.database import connect
from kernel.reader_snapshot import publish_reader_snapshot
from kernel.settings import Settings
from loaders.pipeline import load_directory
from sample_data import generate_dumps
from tests.api.conftest import Served, writable_copy


@pytest.fixture
def duckdb_copy(duckdb_served: Served, tmp_path: Path) -> Served:
    """A copy of the built DuckDB warehouse that a test may write to."""
    return writable_copy(duckdb_served, tmp_path)


def test_a_load_runs_while_the_api_serves_and_is_served_once_published(duckdb_copy: Served) -> None:
    generate_dumps(duckdb_copy.workdir / "data", rows=300, seed=5, assets=4, signals=8, files=1)
    settings = duckdb_copy.settings()

    with duckdb_copy.client() as client:
        assert client.get("/assets").status_code == 200
        # The API holds the analysts' copy open; the loader writes the live file meanwhile.
        results = load_directory(settings.warehouse, settings.data_path, kinds=["measurements"])
        before = client.get("/ready").json()
        publish_reader_snapshot(settings.warehouse)
        after = client.get("/ready").json()

    assert [result.status for result in results] == ["loaded"]
    assert (before["loads_waiting"], after["loads_waiting"]) == (0, 1)


def test_reading_the_live_file_the_readers_let_go_of_it_between_requests(duckdb_copy: Served) -> None:
    # A warehouse without an analysts' copy: the reader opens the file the writers open.
    live = dataclasses.replace(duckdb_copy.settings().warehouse, reader_path=None)
    readers = DuckDBReaders(live)
    try:
        with readers.reading() as db:
            assert db.execute("SELECT count(*) FROM analytics.signals") == [(8,)]
        time.sleep(readers_module.LIVE_FILE_LINGER_SECONDS + 0.5)
        with connect(live, "loader") as writer:
            writer.execute("CREATE TABLE analytics.written_meanwhile AS SELECT 1 AS x")
        with readers.reading() as db:
            assert db.execute("SELECT x FROM analytics.written_meanwhile") == [(1,)]
    finally:
        readers.close()


def test_the_duckdb_connection_is_read_only(duckdb_served: Served) -> None:
    readers = open_readers(duckdb_served.settings().warehouse)
    try:
        with pytest.raises(Exception, match="read-only"), readers.reading() as db:
            db.execute("CREATE TABLE analytics.scratch (x integer)")
    finally:
        readers.close()


def test_a_newly_published_copy_is_read_from_the_next_request_on(duckdb_copy: Served) -> None:
    settings = duckdb_copy.settings()

    with duckdb_copy.client() as client:
        before = [asset["asset_id"] for asset in client.get("/assets").json()]
        with connect(settings.warehouse, "loader") as writer:
            writer.execute("INSERT INTO analytics.assets VALUES (99, 'UW Neu', 47.0, 8.0)")
        unpublished = [asset["asset_id"] for asset in client.get("/assets").json()]
        publish_reader_snapshot(settings.warehouse)
        after = [asset["asset_id"] for asset in client.get("/assets").json()]

    assert unpublished == before
    assert after == [*before, 99]


def test_concurrent_requests_share_one_duckdb_file(duckdb_served: Served) -> None:
    readers = DuckDBReaders(duckdb_served.settings().warehouse)
    answers: list[int] = []

    def ask() -> None:
        with readers.reading() as db:
            answers.append(db.execute("SELECT count(*) FROM analytics.signals")[0][0])

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    readers.close()

    assert answers == [8] * 16


@pytest.mark.postgres
def test_postgres_sessions_are_read_only(postgres_served: Served) -> None:
    readers = open_readers(postgres_served.settings().warehouse)
    try:
        with pytest.raises(Exception, match="read-only transaction"), readers.reading() as db:
            db.execute("SELECT 1 INTO TEMPORARY scratch")
    finally:
        readers.close()


def analyst_sessions(served: Served, pg_server_dsn: str) -> int:
    user = conninfo_to_dict(served.fields["reader_pg_dsn"])["user"]
    with psycopg.connect(pg_server_dsn, autocommit=True) as admin:
        return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                             "AND application_name = 'gridwarehouse-reader'", (user,)).fetchone()[0]


@pytest.mark.postgres
def test_the_pool_never_opens_more_than_its_size(postgres_served: Served, pg_server_dsn: str) -> None:
    readers = PostgresReaders(postgres_served.settings().warehouse, size=3)
    busiest: list[int] = []
    start = threading.Barrier(12)

    def read() -> None:
        start.wait()
        with readers.reading() as db:
            db.execute("SELECT pg_sleep(0.05)")
            busiest.append(analyst_sessions(postgres_served, pg_server_dsn))

    threads = [threading.Thread(target=read) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(busiest) == 12
        assert max(busiest) <= 3
        assert analyst_sessions(postgres_served, pg_server_dsn) == 3
    finally:
        readers.close()
    assert analyst_sessions(postgres_served, pg_server_dsn) == 0


@pytest.mark.postgres
def test_connections_the_server_dropped_are_replaced(postgres_served: Served, pg_server_dsn: str) -> None:
    user = conninfo_to_dict(postgres_served.fields["reader_pg_dsn"])["user"]

    with postgres_served.client() as client:
        assert client.get("/signals").status_code == 200
        with psycopg.connect(pg_server_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (user,))
        # A connection idle for a while is tried before it is used again.
        time.sleep(readers_module.IDLE_CHECK_SECONDS + 0.2)
        response = client.get("/signals")

    assert response.status_code == 200


@pytest.mark.postgres
def test_a_request_that_finds_its_connection_broken_is_503_and_the_next_is_served(
        postgres_served: Served, pg_server_dsn: str) -> None:
    user = conninfo_to_dict(postgres_served.fields["reader_pg_dsn"])["user"]

    with postgres_served.client() as client:
        assert client.get("/signals").status_code == 200
        with psycopg.connect(pg_server_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (user,))
        broken = client.get("/signals")
        served = client.get("/signals")

    assert broken.status_code == 503
    assert broken.json()["error"] == "warehouse_unavailable"
    assert served.status_code == 200


@pytest.mark.postgres
def test_the_pool_waits_then_refuses_when_every_connection_is_busy(postgres_served: Served, monkeypatch) -> None:
    monkeypatch.setattr(readers_module, "POOL_WAIT_SECONDS", 0.2)
    readers = PostgresReaders(postgres_served.settings().warehouse, size=1)
    try:
        with readers.reading(), pytest.raises(WarehouseUnavailable, match="all 1 reader connections"):
            with readers.reading():
                pass
    finally:
        readers.close()


def test_settings_give_the_pool_its_size() -> None:
    settings = Settings(_env_file=None, target="postgres", pg_dsn="host=db dbname=gridwarehouse_dev",
                        api_pool_size=3)
    readers = open_readers(settings.warehouse, pool_size=settings.api_pool_size)

    assert isinstance(readers, PostgresReaders) and readers.size == 3
