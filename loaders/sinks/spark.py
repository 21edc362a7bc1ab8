"""Spark writer: the raw tables as Parquet files in the lake, one folder per load, no JVM.

The lake's raw layer (`<lake>/raw/`), which Spark reads as external Parquet tables
(`loaders/migrations/spark/0001_raw_tables.sql`):

    assets/load_id=N/part-00000.parquet         one folder per load (Hive-style partition)
    signals/load_id=N/...
    measurements/load_id=N/part-00000.parquet   one part per batch of the file
    rejected_rows/load_id=N/...
    load_ledger/commit-000000000N.parquet       the ledger: events, one file per commit
    _load_id_sequence                           the last load id handed out

Plain Parquet has no transactions and no UPDATE, so a file's load commits by a protocol
of renames, each atomic on a POSIX file system:

1. The rows are written under hidden names (`.load_id=N/`), which Spark, Polars and
   DuckDB skip when they list a table's folder (names starting with `.` or `_`).
2. **The commit**: one ledger file holding the load's events (`loaded`, and `replaced`
   for the file's previous load), written as `_tmp-commit-N.parquet` and renamed to
   `commit-N.parquet`. The ledger is append-only: a load's status is its latest event.
3. The hidden folders are renamed into view (`load_id=N/`) and the replaced load's
   folders are renamed away (`.dropped-load_id=M/`) and deleted.

A load killed before step 2 left only hidden folders: the next writer deletes them
(recover). Killed between 2 and 3 (a few renames), it left a committed load whose rows
are still hidden: the next writer renames them into view. Readers therefore never see a
partial load: a load's partition appears whole or not at all. Every writer holds the
warehouse's writer lock (a file lock beside the lake).
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from loaders.errors import LoaderError
from loaders.ledger import LEDGER_COLUMNS, FileKind, LedgerEntry, LedgerState
from loaders.sinks.base import MIGRATIONS_DIR, RAW_TABLES, FileLoad, WarehouseSink

if TYPE_CHECKING:
    from kernel.database import Database, LakeDatabase

UTC_MICROS = pa.timestamp("us", tz="UTC")
# Spark reads Parquet timestamps in micro- or milliseconds; Polars' nanoseconds are
# illegal there. `ts` is the source's wall-clock time (no zone: TIMESTAMP_NTZ in Spark),
# `loaded_at` an instant (UTC).
RAW_SCHEMAS: dict[str, pa.Schema] = {
    "raw.assets": pa.schema([("asset_id", pa.int64()), ("latitude", pa.float64()), ("longitude", pa.float64()),
                             ("descri", pa.string()), ("source_file", pa.string()),
                             ("line_number", pa.int64()), ("loaded_at", UTC_MICROS)]),
    "raw.signals": pa.schema([("signal_gid", pa.string()), ("signal_id", pa.int64()), ("signal_name", pa.string()),
                              ("asset_id", pa.int64()), ("unit", pa.string()), ("source_file", pa.string()),
                              ("line_number", pa.int64()), ("loaded_at", UTC_MICROS)]),
    "raw.measurements": pa.schema([("ts", pa.timestamp("us")), ("signal_id", pa.int64()),
                                   ("measurement_value", pa.float64()), ("source_file", pa.string()),
                                   ("line_number", pa.int64()), ("loaded_at", UTC_MICROS)]),
    "raw.rejected_rows": pa.schema([("source_file", pa.string()), ("file_kind", pa.string()),
                                    ("line_number", pa.int64()), ("raw_line", pa.string()), ("reason", pa.string()),
                                    ("loaded_at", UTC_MICROS)]),
}
"""Each partitioned raw table's file columns; `load_id` is the folder (`load_id=N`)."""

LEDGER_SCHEMA = pa.schema([
    ("load_id", pa.int64()), ("source_file", pa.string()), ("file_kind", pa.string()), ("size_bytes", pa.int64()),
    ("sha256", pa.string()), ("rows_read", pa.int64()), ("rows_loaded", pa.int64()), ("rows_rejected", pa.int64()),
    ("started_at", UTC_MICROS), ("finished_at", UTC_MICROS), ("status", pa.string()), ("error", pa.string()),
    # The load whose commit wrote the event: events of one load are ordered by it.
    ("committed_by", pa.int64()),
])
LEDGER_TABLE = "load_ledger"
SEQUENCE_FILE = "_load_id_sequence"
_PARTITION = re.compile(r"^(?P<state>\.|\.dropped-)?load_id=(?P<load_id>\d+)$")
_COMMIT = re.compile(r"^commit-(?P<load_id>\d+)\.parquet$")


class LakeCommitError(LoaderError):
    """A load's ledger events disagree with the rows it wrote: nothing was committed."""


def table_dir(raw_dir: Path, table: str) -> Path:
    return raw_dir / table.removeprefix("raw.")


class SparkSink(WarehouseSink):
    dialect = "spark"

    def __init__(self, db: LakeDatabase):
        super().__init__(db)
        self.raw_dir = db.lake.raw_dir
        self._open: _LakeTransaction | None = None
        prepare_lake(self.raw_dir)
        recover(self.raw_dir)

    # --- the lake's transaction ---------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._open is not None:
            yield
            return
        self._open = _LakeTransaction(self.raw_dir)
        try:
            yield
            self._open.commit()
        except BaseException:
            self._open.abort()
            raise
        finally:
            self._open = None

    def _current(self) -> _LakeTransaction:
        if self._open is None:
            raise LoaderError("a lake write outside a transaction (SparkSink.transaction)")
        return self._open

    # --- the sink's interface -----------------------------------------------------------
    def append_frame(self, table: str, frame: pl.DataFrame) -> None:
        load_ids = frame["load_id"].unique()
        if load_ids.len() != 1:
            raise LoaderError(f"{table}: a write to the lake holds the rows of exactly one load")
        self._current().write(table, int(load_ids[0]), frame.drop("load_id"))

    def drop_load_rows(self, kind: FileKind, load_id: int) -> None:
        self._current().drop(RAW_TABLES[kind], load_id)

    def new_file_load(self, entry: LedgerEntry) -> FileLoad:
        return _SparkFileLoad(self, entry)

    def truncate_raw(self) -> None:
        # One rename takes every table and the ledger out of view at once.
        gone = self.raw_dir.with_name(f".raw-truncated-{os.getpid()}")
        sequence = read_sequence(self.raw_dir)
        os.replace(self.raw_dir, gone)
        prepare_lake(self.raw_dir)
        write_sequence(self.raw_dir, sequence)  # load ids are never handed out twice
        shutil.rmtree(gone)

    def ledger_state(self, source_file: str) -> LedgerState:
        ledger = current_ledger(self.raw_dir).filter(pl.col("source_file") == source_file).sort("load_id")
        loaded = ledger.filter(pl.col("status") == "loaded")
        return LedgerState(
            current=LedgerEntry.from_row(loaded.select(LEDGER_COLUMNS).row(-1)) if loaded.height else None,
            latest=LedgerEntry.from_row(ledger.select(LEDGER_COLUMNS).row(-1)) if ledger.height else None,
        )

    def next_load_id(self) -> int:
        highest = max([read_sequence(self.raw_dir), *_load_ids_on_disk(self.raw_dir)])
        write_sequence(self.raw_dir, highest + 1)
        return highest + 1

    def insert_ledger(self, entry: LedgerEntry) -> None:
        self._current().record(entry)


class _SparkFileLoad(FileLoad):
    def supersede(self, previous: LedgerEntry) -> None:
        """The previous load's folders go at commit, and its `replaced` event is committed
        with this load's."""
        transaction = self.sink._current()
        transaction.drop(RAW_TABLES[previous.file_kind], previous.load_id)
        transaction.drop("raw.rejected_rows", previous.load_id)
        previous.status = "replaced"
        transaction.record(previous)

    def write_rows(self, rows: pl.DataFrame) -> None:
        if rows.height:
            self.sink.append_frame(RAW_TABLES[self.entry.file_kind], self.sink.lineage(rows, self.entry))


class _LakeTransaction:
    """One file load's writes: hidden folders, the drops and the ledger events to commit."""

    def __init__(self, raw_dir: Path):
        self.raw_dir = raw_dir
        self.staged: dict[tuple[str, int], Path] = {}
        self.rows_written: Counter[tuple[str, int]] = Counter()
        self.parts: Counter[tuple[str, int]] = Counter()
        self.drops: list[tuple[str, int]] = []
        self.events: list[LedgerEntry] = []

    def write(self, table: str, load_id: int, frame: pl.DataFrame) -> None:
        schema = RAW_SCHEMAS[table]
        key = (table, load_id)
        folder = self.staged.get(key)
        if folder is None:
            folder = table_dir(self.raw_dir, table) / f".load_id={load_id}"
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            self.staged[key] = folder
        arrow = frame.select(schema.names).to_arrow().cast(schema)
        path = folder / f"part-{self.parts[key]:05d}.parquet"
        pq.write_table(arrow, path, compression="zstd")
        self.parts[key] += 1
        self.rows_written[key] += arrow.num_rows

    def drop(self, table: str, load_id: int) -> None:
        self.drops.append((table, load_id))

    def record(self, entry: LedgerEntry) -> None:
        self.events.append(LedgerEntry(**vars(entry)))

    def commit(self) -> None:
        if not self.events:
            self.abort()
            return
        self._check_counts()
        for folder in self.staged.values():
            _fsync_tree(folder)
        committed_by = max(event.load_id for event in self.events)
        ledger_dir = self.raw_dir / LEDGER_TABLE
        rows = [{**dict(zip(LEDGER_COLUMNS, event.as_row(), strict=True)), "committed_by": committed_by}
                for event in self.events]
        temporary = ledger_dir / f"_tmp-commit-{committed_by}.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA), temporary)
        _fsync(temporary)
        os.replace(temporary, ledger_dir / f"commit-{committed_by:012d}.parquet")  # the commit
        _fsync(ledger_dir)
        for (_table, load_id), folder in self.staged.items():
            os.replace(folder, folder.with_name(f"load_id={load_id}"))
            _fsync(folder.parent)
        for table, load_id in self.drops:
            _drop_partition(table_dir(self.raw_dir, table) / f"load_id={load_id}")

    def abort(self) -> None:
        for folder in self.staged.values():
            shutil.rmtree(folder, ignore_errors=True)

    def _check_counts(self) -> None:
        # What raw.load_ledger's CHECK and the row counts are on the SQL warehouses.
        for event in self.events:
            if event.status == "failed":
                continue
            if event.rows_read != event.rows_loaded + event.rows_rejected:
                raise LakeCommitError(f"load {event.load_id} of {event.source_file}: rows_read {event.rows_read} "
                                      f"!= rows_loaded {event.rows_loaded} + rows_rejected {event.rows_rejected}")
            if event.status != "loaded":
                continue
            written = (self.rows_written[(RAW_TABLES[event.file_kind], event.load_id)],
                       self.rows_written[("raw.rejected_rows", event.load_id)])
            if written != (event.rows_loaded, event.rows_rejected):
                raise LakeCommitError(f"load {event.load_id} of {event.source_file}: wrote {written[0]} rows and "
                                      f"{written[1]} rejects, the ledger says {event.rows_loaded} and "
                                      f"{event.rows_rejected}")


def prepare_lake(raw_dir: Path) -> list[str]:
    """Create the raw layer's folders (the lake's counterpart of the raw migrations)."""
    created = []
    for table in [*RAW_SCHEMAS, LEDGER_TABLE]:
        folder = table_dir(raw_dir, table)
        if not folder.is_dir():
            folder.mkdir(parents=True)
            created.append(folder.name)
    return created


def recover(raw_dir: Path) -> None:
    """Finish or undo what a killed writer left: see the module docstring. Call it under
    the writer lock."""
    for leftover in raw_dir.parent.glob(".raw-truncated-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for temporary in (raw_dir / LEDGER_TABLE).glob("_tmp-*"):
        temporary.unlink()
    status = dict(current_ledger(raw_dir).select("load_id", "status").iter_rows())
    for table in RAW_SCHEMAS:
        folder = table_dir(raw_dir, table)
        for partition in sorted(folder.iterdir()) if folder.is_dir() else []:
            match = _PARTITION.match(partition.name)
            if match is None:
                continue
            load_id = int(match["load_id"])
            if match["state"] == ".dropped-":
                shutil.rmtree(partition, ignore_errors=True)
            elif match["state"] == ".":
                if status.get(load_id) == "loaded":
                    os.replace(partition, partition.with_name(f"load_id={load_id}"))
                else:
                    shutil.rmtree(partition, ignore_errors=True)
            elif status.get(load_id) != "loaded":
                _drop_partition(partition)


def ledger_events(raw_dir: Path) -> pl.DataFrame:
    """Every committed ledger event (raw.load_ledger_events in Spark)."""
    files = sorted(path for path in (raw_dir / LEDGER_TABLE).glob("commit-*.parquet") if _COMMIT.match(path.name))
    if not files:
        return pl.from_arrow(LEDGER_SCHEMA.empty_table())
    return pl.read_parquet(files)


def current_ledger(raw_dir: Path) -> pl.DataFrame:
    """One row per load, its latest event: what raw.load_ledger is on the SQL warehouses."""
    events = ledger_events(raw_dir)
    return (events.sort("load_id", "committed_by")
            .group_by("load_id", maintain_order=True).last()
            .select(LEDGER_COLUMNS).sort("load_id"))


def read_sequence(raw_dir: Path) -> int:
    try:
        return int((raw_dir / SEQUENCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0


def write_sequence(raw_dir: Path, value: int) -> None:
    temporary = raw_dir / f".{SEQUENCE_FILE}.tmp"
    temporary.write_text(str(value), encoding="utf-8")
    os.replace(temporary, raw_dir / SEQUENCE_FILE)


def register_raw_tables(db: Database) -> list[str]:
    """Define the lake's raw tables in Spark's metastore as external Parquet tables (and
    `raw.load_ledger` as the latest event per load); idempotent. `db` is a Spark session
    (kernel.database.connect as transformer)."""
    raw_dir = db.warehouse.require_spark().raw_dir
    prepare_lake(raw_dir)
    script = (MIGRATIONS_DIR / "spark" / "0001_raw_tables.sql").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    done = []
    for statement in code.replace("{raw_dir}", raw_dir.as_uri()).split(";"):
        if statement.strip():
            db.execute(statement.strip())
            # Named by its first line, without the column list or the query: "CREATE TABLE ... raw.assets".
            done.append(re.sub(r"\s*(\(|\bAS)$", "", statement.strip().splitlines()[0]).strip())
    return done


def _load_ids_on_disk(raw_dir: Path) -> Iterator[int]:
    for table in RAW_SCHEMAS:
        folder = table_dir(raw_dir, table)
        for partition in folder.iterdir() if folder.is_dir() else []:
            if match := _PARTITION.match(partition.name):
                yield int(match["load_id"])
    for path in (raw_dir / LEDGER_TABLE).glob("commit-*.parquet"):
        if match := _COMMIT.match(path.name):
            yield int(match["load_id"])
    yield from current_ledger(raw_dir)["load_id"].to_list()


def _drop_partition(partition: Path) -> None:
    if not partition.exists():
        return
    gone = partition.with_name(f".dropped-{partition.name}")
    os.replace(partition, gone)  # out of view at once; deleting the files may take a while
    shutil.rmtree(gone)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        _fsync(path)
    _fsync(folder)

