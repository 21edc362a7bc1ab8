"""Spark on the two-worker cluster reads what the loaders wrote without a JVM: the lake's
Parquet partitions as external tables, the ledger as the latest event per load."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from kernel.database import SparkDatabase, connect
from kernel.settings import Settings
from kernel.spark_cluster import ClusterLayout
from lake_reader import lake_query
from loaders.pipeline import load_directory
from loaders.sinks.spark import register_raw_tables

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lake(spark_cluster: ClusterLayout, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, SparkDatabase]]:
    """data/ loaded into a lake, and one Spark driver on the cluster with the raw tables defined."""
    root = tmp_path_factory.mktemp("lake")
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    settings = Settings(target="spark", data_dir=root / "data", spark_master=spark_cluster.master_url,
                        spark_lake_dir=root / "lake", spark_metastore_dir=root / "spark" / "metastore",
                        spark_executor_memory="1g")
    load_directory(settings.warehouse, settings.data_path)
    db = connect(settings.warehouse, "transformer")
    try:
        register_raw_tables(db)
        yield settings, db
    finally:
        db.close()


def test_the_raw_tables_are_external_parquet_tables_over_the_lake(lake: tuple[Settings, SparkDatabase]) -> None:
    settings, db = lake
    for table in ("assets", "signals", "measurements", "rejected_rows"):
        described = {row[0]: row[1] for row in db.execute(f"DESCRIBE TABLE EXTENDED raw.{table}")}
        assert described["Type"] == "EXTERNAL"
        assert described["Provider"] == "parquet"
        assert described["Location"] == f"file:{settings.spark.raw_dir / table}"
    columns = dict((row[0], row[1]) for row in db.execute("DESCRIBE raw.measurements"))
    assert (columns["ts"], columns["loaded_at"], columns["load_id"]) == ("timestamp_ntz", "timestamp", "bigint")


def test_spark_counts_what_the_ledger_says_was_loaded(lake: tuple[Settings, SparkDatabase]) -> None:
    settings, db = lake
    ledger = db.execute("SELECT source_file, status, rows_read, rows_loaded, rows_rejected FROM raw.load_ledger "
                        "ORDER BY load_id")
    assert ledger == [("assets.json", "loaded", 12, 10, 2), ("signal.json", "loaded", 42, 40, 2),
                      ("measurements_001.csv", "loaded", 152_109, 152_021, 88),
                      ("measurements_002.csv", "loaded", 147_891, 147_828, 63)]
    per_file = dict(db.execute("SELECT source_file, count(*) FROM raw.measurements GROUP BY source_file"))
    assert per_file == {"measurements_001.csv": 152_021, "measurements_002.csv": 147_828}
    assert db.execute("SELECT count(*) FROM raw.rejected_rows") == [(2 + 2 + 88 + 63,)]
    # The same values as the JVM-free reading of the same files, timestamps included.
    summary = "SELECT count(*), sum(measurement_value), min(ts), max(ts), count(DISTINCT load_id) FROM raw.measurements"
    (spark_count, spark_sum, *spark_rest), = db.execute(summary)
    (count, total, *rest), = lake_query(settings.spark.raw_dir, summary)
    # A sum of 300,000 doubles depends on the order of addition: equal within 1e-12.
    assert (spark_count, spark_rest) == (count, rest)
    assert spark_sum == pytest.approx(total, rel=1e-12)
    first = db.execute("SELECT ts, signal_id, measurement_value, line_number FROM raw.measurements "
                       "WHERE source_file = 'measurements_001.csv' ORDER BY line_number LIMIT 1")
    assert first == lake_query(settings.spark.raw_dir, "SELECT ts, signal_id, measurement_value, line_number "
                               "FROM raw.measurements WHERE source_file = 'measurements_001.csv' "
                               "ORDER BY line_number LIMIT 1")
    assert isinstance(first[0][0], datetime) and first[0][0].tzinfo is None


def test_the_query_ran_on_executors_of_both_workers(lake: tuple[Settings, SparkDatabase],
                                                    spark_cluster: ClusterLayout) -> None:
    _, db = lake
    assert db.execute("SELECT count(*) FROM raw.measurements WHERE measurement_value > 0")[0][0] > 0
    with urllib.request.urlopen(f"{spark_cluster.ui_url}/json/", timeout=5) as response:
        answer = json.load(response)
    apps = [app for app in answer["activeapps"] if app["name"] == "gridwarehouse-transformer"]
    assert len(apps) == 1 and apps[0]["cores"] == 2
    assert [worker["coresused"] for worker in answer["workers"] if worker["state"] == "ALIVE"] == [1, 1]


def test_spark_skips_the_hidden_folders_and_files_of_an_uncommitted_load(lake: tuple[Settings, SparkDatabase]) -> None:
    settings, db = lake
    raw = settings.spark.raw_dir
    before = db.execute("SELECT count(*) FROM raw.measurements")
    committed = sorted((raw / "measurements").glob("load_id=*"))[0]
    # What a load killed mid-file, or before its commit, leaves: rows under a hidden name,
    # and a ledger file not yet renamed into place.
    staged = raw / "measurements" / ".load_id=999"
    shutil.copytree(committed, staged)
    shutil.copy(sorted((raw / "load_ledger").glob("commit-*.parquet"))[-1], raw / "load_ledger" / "_tmp-commit-999.parquet")
    try:
        db.execute("REFRESH TABLE raw.measurements")
        db.execute("REFRESH TABLE raw.load_ledger_events")
        assert db.execute("SELECT count(*) FROM raw.measurements") == before
        assert db.execute("SELECT count(*) FROM raw.measurements WHERE load_id = 999") == [(0,)]
        assert db.execute("SELECT count(*) FROM raw.load_ledger_events") == [(4,)]
    finally:
        shutil.rmtree(staged)
        (raw / "load_ledger" / "_tmp-commit-999.parquet").unlink()


def test_a_changed_file_shows_in_spark_as_its_new_partition_only(lake: tuple[Settings, SparkDatabase]) -> None:
    settings, db = lake
    changed = settings.data_dir / "measurements_002.csv"
    changed.write_bytes(b"".join(changed.read_bytes().splitlines(keepends=True)[:501]))
    results = {r.source_file: r for r in load_directory(settings.warehouse, settings.data_path)}
    new = results["measurements_002.csv"]
    # A session caches a table's file listing: a long-lived driver refreshes it (each
    # dbt invocation starts a session of its own).
    db.execute("REFRESH TABLE raw.measurements")
    db.execute("REFRESH TABLE raw.load_ledger_events")
    assert dict(db.execute("SELECT load_id, count(*) FROM raw.measurements WHERE source_file = 'measurements_002.csv' "
                           "GROUP BY load_id")) == {new.load_id: new.rows_loaded}
    assert db.execute("SELECT load_id, status FROM raw.load_ledger WHERE source_file = 'measurements_002.csv' "
                      "ORDER BY load_id") == [(new.replaced_load_id, "replaced"), (new.load_id, "loaded")]


def test_a_driver_without_a_master_fails_within_seconds_naming_what_to_do(tmp_path: Path) -> None:
    import socket
    import time

    from kernel.database import ConnectionFailed

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(target="spark", spark_master=f"spark://127.0.0.1:{port}", spark_lake_dir=tmp_path / "lake")
    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as raised:
        connect(settings.warehouse, "transformer")
    assert time.monotonic() - started < 10
    assert str(raised.value).startswith(f"no Spark master answers at spark://127.0.0.1:{port}: Connection refused "
                                        "(start one with `warehouse cluster start`")


def test_the_lake_loader_runs_no_sql(tmp_path: Path) -> None:
    from kernel.database import QueryError

    settings = Settings(target="spark", spark_lake_dir=tmp_path / "lake")
    with connect(settings.warehouse, "loader") as lake:
        with pytest.raises(QueryError, match="the spark target's loader writes Parquet files into the lake and runs "
                                             "no SQL; statement refused: 'SELECT 1'"):
            lake.execute("SELECT 1")


def test_warehouse_migrate_creates_the_lake_and_defines_the_raw_tables_in_spark(
        spark_cluster: ClusterLayout, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "WAREHOUSE_TARGET": "spark", "WAREHOUSE_SPARK_MASTER": spark_cluster.master_url,
           "WAREHOUSE_SPARK_LAKE_DIR": str(tmp_path / "lake"),
           # A metastore of its own: Derby admits one JVM, and this module's driver holds another.
           "WAREHOUSE_SPARK_METASTORE_DIR": str(tmp_path / "spark" / "metastore")}
    (tmp_path / "cwd").mkdir()
    answer = subprocess.run([str(Path(sys.executable).with_name("warehouse")), "migrate"], env=env,
                            cwd=tmp_path / "cwd",
                            capture_output=True, text=True, timeout=300)
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert answer.stdout == (
        f"lake {tmp_path / 'lake' / 'raw'}: created assets, signals, measurements, rejected_rows, load_ledger; "
        "Spark metastore: 7 statements applied (CREATE DATABASE IF NOT EXISTS raw, CREATE TABLE IF NOT EXISTS "
        "raw.assets, CREATE TABLE IF NOT EXISTS raw.signals, CREATE TABLE IF NOT EXISTS raw.measurements, "
        "CREATE TABLE IF NOT EXISTS raw.rejected_rows, CREATE TABLE IF NOT EXISTS raw.load_ledger_events, "
        "CREATE OR REPLACE VIEW raw.load_ledger)\n")
    assert (tmp_path / "spark" / "metastore" / "service.properties").is_file()  # Derby's database, where told
    assert (tmp_path / "spark" / "derby.log").is_file()
    assert list((tmp_path / "cwd").iterdir()) == []  # no derby.log, no metastore_db in the working directory
