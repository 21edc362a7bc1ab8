"""kernel.reader_snapshot: the analysts' copy of a DuckDB warehouse, and the reader that opens it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from kernel.database import ConnectionFailed, QueryError, Warehouse, connect
from kernel.reader_snapshot import SNAPSHOT_MODE, publish_reader_snapshot, snapshot_is_current
from kernel.settings import SettingsError, load_settings
from kernel.writer_lock import writer_lock


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    """A DuckDB warehouse with one table, and where its analysts' copy goes."""
    built = Warehouse(target="duckdb", duckdb_path=tmp_path / "warehouse.duckdb",
                      reader_path=tmp_path / "analysts.duckdb")
    with connect(built, "loader") as db:
        db.execute("CREATE SCHEMA analytics")
        db.execute("CREATE TABLE analytics.readings AS SELECT range AS n FROM range(3)")
    return built


def add_readings(warehouse: Warehouse, count: int) -> None:
    with connect(warehouse, "loader") as db:
        db.execute("INSERT INTO analytics.readings SELECT 100 + range FROM range(?)", (count,))


def count(db_path: Path) -> int:
    with duckdb.connect(str(db_path), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM analytics.readings").fetchone()[0]


def test_the_copy_holds_the_committed_data_and_nobody_may_write_it(warehouse: Warehouse) -> None:
    published = publish_reader_snapshot(warehouse)
    assert published is not None and published.path == warehouse.reader_path
    assert published.size_bytes == warehouse.duckdb_path.stat().st_size
    assert count(warehouse.reader_path) == 3
    assert warehouse.reader_path.stat().st_mode & 0o777 == SNAPSHOT_MODE
    assert snapshot_is_current(warehouse)


def test_a_write_after_the_copy_makes_it_stale_and_the_next_publish_brings_it(warehouse: Warehouse) -> None:
    publish_reader_snapshot(warehouse)
    add_readings(warehouse, 2)
    assert not snapshot_is_current(warehouse)
    assert publish_reader_snapshot(warehouse) is not None
    assert count(warehouse.reader_path) == 5


def test_an_unchanged_warehouse_is_not_copied_again(warehouse: Warehouse) -> None:
    publish_reader_snapshot(warehouse)
    inode = warehouse.reader_path.stat().st_ino
    # A connection that only reads, and even one opened for writing that writes nothing,
    # leaves the file as it was.
    with connect(warehouse, "loader") as db:
        db.execute("SELECT count(*) FROM analytics.readings")
    assert publish_reader_snapshot(warehouse) is None
    assert warehouse.reader_path.stat().st_ino == inode


def test_an_open_connection_keeps_its_copy_and_the_next_one_sees_the_new_data(warehouse: Warehouse) -> None:
    publish_reader_snapshot(warehouse)
    with connect(warehouse, "reader") as before:
        add_readings(warehouse, 4)
        publish_reader_snapshot(warehouse)
        assert before.execute("SELECT count(*) FROM analytics.readings") == [(3,)]
    # (Within one process DuckDB shares one open database per path: a connection opened
    # while `before` was still open would have been handed the old copy too.)
    with connect(warehouse, "reader") as after:
        assert after.execute("SELECT count(*) FROM analytics.readings") == [(7,)]


def test_publishing_does_not_wait_for_a_process_that_reads_the_copy(warehouse: Warehouse) -> None:
    publish_reader_snapshot(warehouse)
    analyst = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
                               "print(c.execute('SELECT count(*) FROM analytics.readings').fetchone()[0], "
                               "flush=True); sys.stdin.readline(); "
                               "print(c.execute('SELECT count(*) FROM analytics.readings').fetchone()[0])",
         str(warehouse.reader_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout.readline().strip() == "3"
        add_readings(warehouse, 1)
        assert publish_reader_snapshot(warehouse, wait_seconds=0) is not None
        assert count(warehouse.reader_path) == 4
        output, _ = analyst.communicate("go\n", timeout=30)
    finally:
        analyst.kill()
    assert output.strip() == "3"


def test_uncheckpointed_work_of_a_crashed_writer_reaches_the_copy(warehouse: Warehouse, tmp_path: Path) -> None:
    # A writer killed before its checkpoint leaves committed rows in the write-ahead log.
    subprocess.run([sys.executable, "-c",
                    "import duckdb, os, sys; c = duckdb.connect(sys.argv[1]); "
                    "c.execute('SET checkpoint_threshold = \"1GB\"'); "
                    "c.execute('INSERT INTO analytics.readings VALUES (42)'); os._exit(0)",
                    str(warehouse.duckdb_path)], check=True)
    assert Path(f"{warehouse.duckdb_path}.wal").stat().st_size > 0
    publish_reader_snapshot(warehouse)
    assert count(warehouse.reader_path) == 4


def test_a_copy_left_half_written_by_a_killed_publisher_is_removed(warehouse: Warehouse) -> None:
    leftover = warehouse.reader_path.with_name(".analysts.duckdb.x1y2z3.tmp")
    leftover.write_bytes(b"half a database")
    publish_reader_snapshot(warehouse)
    assert not leftover.exists()
    assert sorted(path.name for path in warehouse.reader_path.parent.iterdir()) == [
        "analysts.duckdb", "warehouse.duckdb", "warehouse.duckdb.writer-lock"]


def test_publishing_waits_for_the_writer_lock(warehouse: Warehouse) -> None:
    from kernel.database import WarehouseBusyError

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from kernel.database import Warehouse; "
                               "from kernel.writer_lock import writer_lock\n"
                               "with writer_lock(Warehouse(target='duckdb', duckdb_path=Path(sys.argv[1]))):\n"
                               "    print('held', flush=True); sys.stdin.readline()",
         str(warehouse.duckdb_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusyError):
            publish_reader_snapshot(warehouse, wait_seconds=0.5)
    finally:
        holder.communicate("done\n", timeout=30)
    assert not warehouse.reader_path.exists()


def test_a_holder_of_the_writer_lock_in_this_thread_publishes_without_waiting(warehouse: Warehouse) -> None:
    with writer_lock(warehouse, wait_seconds=0):
        assert publish_reader_snapshot(warehouse, wait_seconds=0) is not None


def test_postgres_and_an_unbuilt_warehouse_publish_nothing(tmp_path: Path) -> None:
    assert publish_reader_snapshot(Warehouse.postgres("host=nowhere dbname=w")) is None
    empty = Warehouse(target="duckdb", duckdb_path=tmp_path / "warehouse.duckdb",
                      reader_path=tmp_path / "analysts.duckdb")
    assert publish_reader_snapshot(empty) is None
    assert list(tmp_path.iterdir()) == []


def test_the_reader_opens_the_copy_read_only(warehouse: Warehouse) -> None:
    with pytest.raises(ConnectionFailed, match="analysts' copy .* does not exist yet"):
        connect(warehouse, "reader")
    publish_reader_snapshot(warehouse)
    with connect(warehouse, "reader") as reader:
        assert reader.execute("SELECT current_database()") == [("analysts",)]
        with pytest.raises(duckdb.InvalidInputException, match="read-only"):
            reader.execute("INSERT INTO analytics.readings VALUES (9)")


def test_the_reader_cannot_reach_the_live_file_through_attach(warehouse: Warehouse) -> None:
    publish_reader_snapshot(warehouse)
    with connect(warehouse, "reader") as reader:
        with pytest.raises(QueryError, match="disabled by configuration"):
            list(reader.run_script(f"ATTACH '{warehouse.duckdb_path}' AS live (READ_WRITE)"))
    # And the pipeline may still write it.
    add_readings(warehouse, 1)


def test_a_script_answers_statement_by_statement(warehouse: Warehouse) -> None:
    publish_reader_snapshot(warehouse)
    with connect(warehouse, "reader") as reader:
        answers = [(result.columns, [row for batch in result.batches for row in batch])
                   for result in reader.run_script("SET threads = 1; SELECT max(n) AS top FROM analytics.readings;"
                                                   "SELECT n FROM analytics.readings ORDER BY n", batch_rows=2)]
    assert answers == [([], []), (["top"], [(2,)]), (["n"], [(0,), (1,), (2,)])]


def test_settings_put_the_copy_beside_the_warehouse_file_per_profile(tmp_path: Path) -> None:
    from kernel.paths import STATE_DIR

    assert load_settings().reader_path == STATE_DIR / "analysts.duckdb"
    assert load_settings(env="prod").reader_path == STATE_DIR / "analysts-prod.duckdb"
    assert load_settings(duckdb_path=tmp_path / "w.duckdb").reader_path == tmp_path / "w-analysts.duckdb"
    settings = load_settings(duckdb_reader_path=tmp_path / "mine.duckdb")
    assert settings.warehouse.reader_path == tmp_path / "mine.duckdb"


def test_a_copy_of_the_settings_pointed_at_another_file_has_its_own_analysts_copy(tmp_path: Path) -> None:
    settings = load_settings(duckdb_path=tmp_path / "first" / "warehouse.duckdb")
    copy = settings.model_copy(update={"duckdb_path": tmp_path / "second" / "warehouse.duckdb"})
    assert copy.warehouse.reader_path == tmp_path / "second" / "analysts.duckdb"


def test_settings_read_the_copy_s_path_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    assert load_settings().reader_path == tmp_path / "analysts.duckdb"
    monkeypatch.setenv("WAREHOUSE_DUCKDB_READER_PATH", str(tmp_path / "for-analysts.duckdb"))
    assert load_settings().reader_path == tmp_path / "for-analysts.duckdb"


@pytest.mark.parametrize(("name", "reason"), [
    ("warehouse.duckdb", "must differ from WAREHOUSE_DUCKDB_PATH"),
    ("analytics.duckdb", "clashes with a schema"),
])
def test_a_copy_that_would_not_work_is_refused_at_start(tmp_path: Path, name: str, reason: str) -> None:
    with pytest.raises(SettingsError, match=f"WAREHOUSE_DUCKDB_READER_PATH=.*{reason}"):
        load_settings(duckdb_path=tmp_path / "warehouse.duckdb", duckdb_reader_path=tmp_path / name)


def test_the_copy_keeps_analytics_unambiguous(warehouse: Warehouse) -> None:
    # DuckDB names a database after its file: a copy named analytics.duckdb would make
    # `analytics.readings` ambiguous, which is why the settings refuse that name.
    publish_reader_snapshot(warehouse)
    clash = warehouse.reader_path.with_name("analytics.duckdb")
    clash.write_bytes(warehouse.reader_path.read_bytes())
    with duckdb.connect(str(clash), read_only=True) as conn, pytest.raises(duckdb.BinderException, match="Ambiguous"):
        conn.execute("SELECT count(*) FROM analytics.readings")
    assert os.access(warehouse.reader_path, os.R_OK)
