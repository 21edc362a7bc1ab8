"""The API's connections: read-only, bounded, and never in the way of a refresh."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import duckdb
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from api import readers as readers_module
from api.errors import WarehouseUnavailable
from api.readers import DuckDBReaders, PostgresReaders, open_readers
from kernel.settings import Settings
from loaders.pipeline import load_directory
from sample_data import generate_dumps
from tests.api.conftest import Served


@pytest.fixture
def duckdb_copy(duckdb_served: Served, tmp_path: Path) -> Served:
    """A copy of the built DuckDB warehouse that a test may write to."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(duckdb_served.fields["duckdb_path"], copy)
    return Served("duckdb", {**duckdb_served.fields, "duckdb_path": copy, "data_dir": tmp_path / "data"}, tmp_path)


def test_a_load_runs_while_the_api_serves_and_the_api_then_sees_it(duckdb_copy: Served) -> None:
    generate_dumps(duckdb_copy.workdir / "data", rows=300, seed=5, assets=4, signals=8, files=1)
    settings = duckdb_copy.settings()

    with duckdb_copy.client() as client:
        assert client.get("/assets").status_code == 200
        # Between requests the API lets go of the file: the loader (a writer) gets it.
        time.sleep(readers_module.LIVE_FILE_LINGER_SECONDS + 0.5)
        results = load_directory(settings.warehouse, settings.data_path, kinds=["measurements"])
        after = client.get("/ready").json()

    assert [result.status for result in results] == ["loaded"]
    assert after["loads_waiting"] == 1


def test_the_duckdb_connection_is_read_only(duckdb_served: Served) -> None:
    readers = open_readers(duckdb_served.settings().warehouse)
    try:
        with pytest.raises(Exception, match="read-only"), readers.reading() as db:
            db.execute("CREATE TABLE analytics.scratch (x integer)")
    finally:
        readers.close()


def test_a_replaced_file_is_read_from_the_next_request_on(duckdb_copy: Served, tmp_path: Path) -> None:
    # How a published snapshot arrives: a new file renamed over the old one.
    newer = tmp_path / "newer.duckdb"
    shutil.copyfile(duckdb_copy.fields["duckdb_path"], newer)
    with duckdb.connect(str(newer)) as writer:
        writer.execute("INSERT INTO analytics.assets VALUES (99, 'UW Neu', 47.0, 8.0)")

    with duckdb_copy.client() as client:
        before = [asset["asset_id"] for asset in client.get("/assets").json()]
        newer.replace(duckdb_copy.fields["duckdb_path"])
        after = [asset["asset_id"] for asset in client.get("/assets").json()]

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
