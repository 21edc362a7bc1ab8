"""The Spark target's loader: data/ into the lake as Parquet partitions per load, equal to a
DuckDB load of the same files, committed atomically (a SIGKILLed `warehouse load` leaves no
visible partial partition). tests/loaders/test_load_pipeline.py runs the loaders'
specifications on the lake as well."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from kernel.database import connect
from kernel.settings import Settings
from lake_reader import lake_query, visible_files
from loaders.errors import LoaderError
from loaders.ledger import SourceFile
from loaders.pipeline import load_directory
from loaders.sinks import sink_for
from loaders.sinks.base import migrate_raw
from loaders.sinks.spark import LakeCommitError, current_ledger

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA = PROJECT_ROOT / "data"
WAREHOUSE = str(Path(sys.executable).with_name("warehouse"))
RAW_TABLES = ("assets", "signals", "measurements", "rejected_rows")
LEDGER = ("load_id, source_file, file_kind, size_bytes, sha256, rows_read, rows_loaded, rows_rejected, status, "
          "error")


def spark_settings(tmp_path: Path, data_dir: Path = SAMPLE_DATA) -> Settings:
    return Settings(target="spark", data_dir=data_dir, spark_lake_dir=tmp_path / "lake")


def test_the_sample_data_in_the_lake_equals_a_duckdb_load_of_it(tmp_path: Path) -> None:
    lake = spark_settings(tmp_path)
    embedded = Settings(target="duckdb", data_dir=SAMPLE_DATA, duckdb_path=tmp_path / "w.duckdb")
    lake_results = load_directory(lake.warehouse, lake.data_path)
    duckdb_results = load_directory(embedded.warehouse, embedded.data_path)
    assert [(r.source_file, r.status, r.rows_read, r.rows_loaded, r.rows_rejected, r.load_id) for r in lake_results] \
        == [(r.source_file, r.status, r.rows_read, r.rows_loaded, r.rows_rejected, r.load_id) for r in duckdb_results]

    with duckdb.connect(str(embedded.duckdb_path), read_only=True) as con:
        for table in RAW_TABLES:
            # Every column but the load time, row for row.
            columns = [name for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ? "
                "AND column_name <> 'loaded_at' ORDER BY ordinal_position", [table]).fetchall()]
            statement = f"SELECT {', '.join(columns)} FROM raw.{table} ORDER BY ALL"
            expected = con.execute(statement).fetchall()
            assert lake_query(lake.spark.raw_dir, statement) == expected, table
            assert len(expected) > 0
        ledger = f"SELECT {LEDGER} FROM raw.load_ledger ORDER BY load_id"
        assert lake_query(lake.spark.raw_dir, ledger) == con.execute(ledger).fetchall()
    counts = lake_query(lake.spark.raw_dir, "SELECT count(*) FROM raw.measurements")
    assert counts == [(152_021 + 147_828,)]


def test_each_load_is_one_partition_folder_with_microsecond_timestamps(tmp_path: Path) -> None:
    settings = spark_settings(tmp_path)
    results = {r.source_file: r.load_id for r in load_directory(settings.warehouse, settings.data_path)}
    raw = settings.spark.raw_dir
    assert sorted(path.name for path in (raw / "measurements").iterdir()) == [
        f"load_id={results['measurements_001.csv']}", f"load_id={results['measurements_002.csv']}"]
    assert sorted(path.name for path in (raw / "load_ledger").iterdir()) == [
        f"commit-{load_id:012d}.parquet" for load_id in sorted(results.values())]
    schema = pq.read_schema(visible_files(raw / "measurements")[0])
    # Spark refuses Parquet nanoseconds: the wall-clock `ts` is micros without a zone
    # (TIMESTAMP_NTZ), `loaded_at` micros in UTC (TIMESTAMP).
    assert str(schema.field("ts").type) == "timestamp[us]"
    assert str(schema.field("loaded_at").type) == "timestamp[us, tz=UTC]"
    assert "load_id" not in schema.names


def test_the_lake_layout_is_created_once(tmp_path: Path) -> None:
    settings = spark_settings(tmp_path)
    with connect(settings.warehouse, "loader") as lake:
        assert migrate_raw(lake) == ["assets", "signals", "measurements", "rejected_rows", "load_ledger"]
        assert migrate_raw(lake) == []


def test_a_changed_file_replaces_exactly_its_own_partition(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA, data_dir)
    settings = spark_settings(tmp_path, data_dir)
    first = {r.source_file: r.load_id for r in load_directory(settings.warehouse, settings.data_path)}
    measurements = settings.spark.raw_dir / "measurements"
    kept = {path: path.stat().st_mtime_ns for path in visible_files(measurements / f"load_id={first['measurements_001.csv']}")}
    changed = data_dir / "measurements_002.csv"
    lines = changed.read_bytes().splitlines(keepends=True)
    changed.write_bytes(b"".join(lines[:1001]))  # header and the first 1,000 readings

    second = {r.source_file: r for r in load_directory(settings.warehouse, settings.data_path)}
    new_id = second["measurements_002.csv"].load_id
    assert (second["measurements_002.csv"].status, second["measurements_002.csv"].rows_read) == ("loaded", 1000)
    assert second["measurements_002.csv"].replaced_load_id == first["measurements_002.csv"]
    assert sorted(path.name for path in measurements.iterdir()) == [
        f"load_id={first['measurements_001.csv']}", f"load_id={new_id}"]
    assert {path: path.stat().st_mtime_ns for path in kept} == kept  # the other file's partition untouched
    assert not (settings.spark.raw_dir / "rejected_rows" / f"load_id={first['measurements_002.csv']}").exists()
    assert lake_query(settings.spark.raw_dir, "SELECT load_id, status FROM raw.load_ledger "
                                              "WHERE source_file = 'measurements_002.csv' ORDER BY load_id") == [
        (first["measurements_002.csv"], "replaced"), (new_id, "loaded")]
    in_raw = lake_query(settings.spark.raw_dir, "SELECT count(*) FROM raw.measurements "
                                                "WHERE source_file = 'measurements_002.csv'")[0][0]
    rejected = lake_query(settings.spark.raw_dir, "SELECT count(*) FROM raw.rejected_rows "
                                                  "WHERE source_file = 'measurements_002.csv'")[0][0]
    assert (in_raw, rejected) == (second["measurements_002.csv"].rows_loaded,
                                  second["measurements_002.csv"].rows_rejected)
    assert in_raw + rejected == 1000


def test_a_load_whose_rows_disagree_with_its_ledger_event_commits_nothing(tmp_path: Path) -> None:
    settings = spark_settings(tmp_path)
    source = SourceFile.fingerprint(SAMPLE_DATA / "signal.json", "signals")
    from loaders.dump_kinds import dump_kind

    with connect(settings.warehouse, "loader") as lake:
        sink = sink_for(lake)
        entry = sink.start_entry(source)
        batch = next(dump_kind("signals").read(source.path, 1000))
        with pytest.raises(LakeCommitError, match=rf"load {entry.load_id} of signal.json: wrote 40 rows and "
                                                  r"2 rejects, the ledger says 41 and 1"):
            with sink.transaction():
                load = sink.new_file_load(entry)
                load.write_rows(batch.rows)
                load.write_rejects(batch.rejects)
                load.finish(41, 1)
    assert isinstance(LakeCommitError("x"), LoaderError)
    assert list((settings.spark.raw_dir / "signals").iterdir()) == []
    assert list((settings.spark.raw_dir / "rejected_rows").iterdir()) == []
    assert current_ledger(settings.spark.raw_dir).height == 0


def test_a_commit_interrupted_before_its_renames_is_rolled_forward_by_the_next_writer(tmp_path: Path) -> None:
    settings = spark_settings(tmp_path)
    results = {r.source_file: r for r in load_directory(settings.warehouse, settings.data_path)}
    load_id = results["measurements_001.csv"].load_id
    visible = settings.spark.raw_dir / "measurements" / f"load_id={load_id}"
    # The state a writer killed right after its ledger file was renamed leaves behind.
    visible.rename(visible.with_name(f".load_id={load_id}"))
    assert lake_query(settings.spark.raw_dir, f"SELECT count(*) FROM raw.measurements WHERE load_id = {load_id}") \
        == [(0,)]

    again = load_directory(settings.warehouse, settings.data_path)
    assert {r.status for r in again} == {"skipped"}
    assert lake_query(settings.spark.raw_dir, f"SELECT count(*) FROM raw.measurements WHERE load_id = {load_id}") \
        == [(results["measurements_001.csv"].rows_loaded,)]


def test_a_killed_load_leaves_no_visible_partial_partition(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    subprocess.run([WAREHOUSE, "generate", "--out", str(data_dir), "--rows", "2000000", "--files", "1", "--seed", "5"],
                   check=True, capture_output=True, timeout=300)
    settings = spark_settings(tmp_path, data_dir)
    measurements = settings.spark.raw_dir / "measurements"
    env = {**os.environ, "WAREHOUSE_TARGET": "spark", "WAREHOUSE_DATA_DIR": str(data_dir),
           "WAREHOUSE_SPARK_LAKE_DIR": str(settings.spark.lake_dir), "WAREHOUSE_BATCH_ROWS": "20000"}
    loader = subprocess.Popen([WAREHOUSE, "load"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        # Kill it once it has written some parts of the measurements file, not all.
        deadline = time.monotonic() + 240
        while True:
            staged = list(measurements.glob(".load_id=*/part-*.parquet")) if measurements.is_dir() else []
            if len(staged) >= 3:
                break
            assert loader.poll() is None, "the load ended before it could be killed"
            assert time.monotonic() < deadline, "no measurements part written within 240 s"
            time.sleep(0.05)
    finally:
        os.killpg(loader.pid, signal.SIGKILL)
        loader.wait()

    hidden = [path.name for path in measurements.iterdir()]
    assert len(hidden) == 1 and hidden[0].startswith(".load_id="), hidden  # killed mid-file
    killed_load = int(hidden[0].removeprefix(".load_id="))
    assert visible_files(measurements) == []
    assert lake_query(settings.spark.raw_dir, "SELECT count(*) FROM raw.measurements") == [(0,)]
    assert lake_query(settings.spark.raw_dir, "SELECT count(*) FROM raw.rejected_rows "
                                              "WHERE file_kind = 'measurements'") == [(0,)]
    assert lake_query(settings.spark.raw_dir, f"SELECT count(*) FROM raw.load_ledger WHERE load_id = {killed_load}"
                      ) == [(0,)]
    assert lake_query(settings.spark.raw_dir, "SELECT source_file, status FROM raw.load_ledger ORDER BY 1") == [
        ("assets.json", "loaded"), ("signal.json", "loaded")]

    # The next writer removes what the killed one left and loads the file whole, under a new id.
    results = {r.source_file: r for r in load_directory(settings.warehouse, settings.data_path)}
    reloaded = results["measurements_001.csv"]
    assert reloaded.status == "loaded" and reloaded.load_id > killed_load
    assert [path.name for path in measurements.iterdir()] == [f"load_id={reloaded.load_id}"]
    assert reloaded.rows_read == reloaded.rows_loaded + reloaded.rows_rejected
    assert reloaded.rows_read == 2_000_000
    assert lake_query(settings.spark.raw_dir, "SELECT count(*) FROM raw.measurements") == [(reloaded.rows_loaded,)]
