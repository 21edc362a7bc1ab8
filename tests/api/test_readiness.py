"""/ready: 200 when the warehouse answers and its marts are fresh, else 503 naming the condition."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kernel.reader_snapshot import publish_reader_snapshot
from kernel.settings import Settings
from loaders.pipeline import load_directory
from sample_data import generate_dumps
from tests.api.conftest import Served, as_naive_utc, naive_utc, writable_copy


def test_a_fresh_warehouse_is_ready_and_says_why(served: Served) -> None:
    latest = served.sql("SELECT max(measured_at) FROM analytics.measurements")[0][0]
    last_refresh = served.sql("SELECT max(finished_at) FROM raw.load_ledger "
                              "WHERE load_id IN (SELECT load_id FROM refresh_state.applied_loads)")[0][0]
    failed = served.sql("SELECT load_id, source_file FROM raw.load_ledger WHERE status = 'failed'")

    with served.client() as client:
        response = client.get("/ready")

    body = response.json()
    assert response.status_code == 200
    assert (body["ready"], body["failed"]) == (True, [])
    assert body["conditions"]["database"]["ok"] and body["conditions"]["refresh"]["ok"]
    assert naive_utc(body["latest_reading_at"]) == latest
    assert naive_utc(body["last_refresh_at"]) == as_naive_utc(last_refresh)
    assert body["loads_waiting"] == 0
    assert [(f["load_id"], f["source_file"]) for f in body["failed_loads"]] == failed
    assert body["max_age_hours"] == 3.0


def test_stale_marts_are_503_naming_the_refresh(served: Served) -> None:
    with served.client(ready_max_age_hours=0.000001) as client:
        response = client.get("/ready")

    body = response.json()
    assert response.status_code == 503
    assert (body["ready"], body["failed"]) == (False, ["refresh"])
    assert body["conditions"]["refresh"]["detail"].startswith("stale: the newest load the marts reflect finished")
    assert "WAREHOUSE_READY_MAX_AGE_HOURS" in body["conditions"]["refresh"]["detail"]
    assert body["conditions"]["database"]["ok"]
    assert body["latest_reading_at"] and body["last_refresh_at"]


def test_the_max_age_defaults_to_the_marts_freshness_limit() -> None:
    assert Settings(_env_file=None, mart_max_age_hours=5).ready_max_age == 5
    assert Settings(_env_file=None, mart_max_age_hours=5, ready_max_age_hours=1.5).ready_max_age == 1.5


def test_a_warehouse_not_built_yet_is_503_naming_the_database(tmp_path: Path) -> None:
    absent = Served("duckdb", {"target": "duckdb", "duckdb_path": tmp_path / "absent.duckdb"}, tmp_path)
    with absent.client() as client:
        response = client.get("/ready")
        health = client.get("/health")

    body = response.json()
    assert response.status_code == 503
    assert body["failed"] == ["database", "refresh"]
    assert "does not exist yet" in body["conditions"]["database"]["detail"]
    assert health.status_code == 200


def test_ready_again_when_the_analysts_copy_is_back(duckdb_served: Served, tmp_path: Path) -> None:
    served = writable_copy(duckdb_served, tmp_path)
    reader_file = served.settings().reader_path

    with served.client() as client:
        before = client.get("/ready").status_code
        reader_file.rename(tmp_path / "away.duckdb")
        gone = client.get("/ready").status_code
        (tmp_path / "away.duckdb").rename(reader_file)
        back = client.get("/ready").status_code

    assert (before, gone, back) == (200, 503, 200)


def test_a_load_waiting_for_a_refresh_is_counted(duckdb_served: Served, tmp_path: Path) -> None:
    served = writable_copy(duckdb_served, tmp_path)
    settings = served.settings()
    generate_dumps(settings.data_dir, rows=500, seed=3, assets=4, signals=8, files=1)
    # Only the measurements dump is new to this ledger (the catalogue is the same).
    load_directory(settings.warehouse, settings.data_dir, kinds=["measurements"])
    publish_reader_snapshot(settings.warehouse)

    with served.client() as client:
        body = client.get("/ready").json()

    assert body["loads_waiting"] == 1
    assert body["ready"]
    assert "1 load(s) wait for a refresh" in body["conditions"]["refresh"]["detail"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.postgres
def test_a_server_that_does_not_answer_is_503(postgres_served: Served) -> None:
    nowhere = make_conninfo(postgres_served.fields["reader_pg_dsn"], host="127.0.0.1", port=free_port())

    with postgres_served.client(reader_pg_dsn=nowhere) as client:
        body = client.get("/ready").json()

    assert body["failed"] == ["database", "refresh"]
    assert "cannot connect to PostgreSQL" in body["conditions"]["database"]["detail"]


@pytest.mark.postgres
def test_ready_again_when_the_database_accepts_connections(postgres_served: Served, pg_server_dsn: str) -> None:
    database = conninfo_to_dict(postgres_served.fields["reader_pg_dsn"])["dbname"]

    def allow(allowed: bool) -> None:
        with psycopg.connect(pg_server_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(database), sql.Literal(allowed)))
            if not allowed:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                              (database,))

    with postgres_served.client() as client:
        before = client.get("/ready").status_code
        allow(False)
        try:
            down = client.get("/ready")
        finally:
            allow(True)
        back = client.get("/ready").status_code

    assert (before, down.status_code, back) == (200, 503, 200)
    assert down.json()["failed"][0] == "database"
