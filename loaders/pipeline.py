"""Loads a data folder into the raw tables: every file once, every row accounted for.

For each dump file: fingerprint it, skip it if the ledger already holds that exact
content, otherwise read, validate and write it inside one transaction that also
replaces the file's previous load and writes its ledger row. A file that cannot be
read leaves nothing behind but a `failed` ledger row.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from kernel.database import connect
from kernel.logging_config import log_context
from kernel.writer_lock import writer_lock
from loaders.dump_kinds import KIND_NAMES, discover_files, dump_kind
from loaders.errors import LoaderError
from loaders.ledger import FileKind, SourceFile
from loaders.sinks import sink_for
from loaders.sinks.base import migrate_raw
from loaders.sources.batch import ParsedBatch

if TYPE_CHECKING:
    from kernel.database import Warehouse
    from loaders.sinks.base import WarehouseSink

log = logging.getLogger(__name__)

ResultStatus = Literal["loaded", "skipped", "failed"]


class ProgressCallback(Protocol):
    """Told the rows read so far after each batch of a file, and once more with `done`
    when the file is loaded: that last count is the file's own, however a display thins
    the updates out."""

    def __call__(self, source_file: str, rows_read: int, seconds: float, *, done: bool = False) -> None: ...


T = TypeVar("T")


@dataclass(frozen=True)
class FileLoadResult:
    source_file: str
    file_kind: FileKind
    status: ResultStatus
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    seconds: float
    sha256: str
    size_bytes: int
    load_id: int | None = None
    replaced_load_id: int | None = None
    error: str | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


DEFAULT_BATCH_ROWS = 250_000


def load_directory(
    warehouse: Warehouse,
    data_dir: Path,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    kinds: Iterable[str] = KIND_NAMES,
    progress: ProgressCallback | None = None,
) -> list[FileLoadResult]:
    """Load every new or changed dump in `data_dir` into the raw tables of `warehouse`."""
    if not data_dir.is_dir():
        raise LoaderError(f"data folder {data_dir} does not exist (point --data-dir or "
                          "WAREHOUSE_DATA_DIR at the folder holding the dumps)")
    # The lock before the connection: DuckDB refuses a second process at connect time.
    with writer_lock(warehouse), connect(warehouse, "loader") as db:
        migrate_raw(db)
        sink = sink_for(db)
        # Fingerprint under the lock: a file replaced meanwhile is seen as it is now.
        return [load_file(sink, source, batch_rows=batch_rows, progress=progress)
                for source in discover_files(data_dir, kinds)]


def reset_raw(warehouse: Warehouse) -> None:
    """Empty the raw tables and the ledger, so the next load reads every file again."""
    with writer_lock(warehouse), connect(warehouse, "loader") as db:
        migrate_raw(db)
        with db.transaction():
            sink_for(db).truncate_raw()


def load_file(
    sink: WarehouseSink, source: SourceFile, *, batch_rows: int, progress: ProgressCallback | None = None
) -> FileLoadResult:
    """Load one file in one transaction; see the module docstring for the rules."""
    state = sink.ledger_state(source.name)
    started = time.perf_counter()

    def result(status: ResultStatus, **counts: object) -> FileLoadResult:
        return FileLoadResult(source_file=source.name, file_kind=source.kind, status=status,
                              seconds=time.perf_counter() - started, sha256=source.sha256,
                              size_bytes=source.size_bytes, **{"rows_read": 0, "rows_loaded": 0,
                                                               "rows_rejected": 0, **counts})

    if state.current is not None and state.current.sha256 == source.sha256:
        return result("skipped", load_id=state.current.load_id)
    if state.latest is not None and state.latest.status == "failed" and state.latest.sha256 == source.sha256:
        # Reading it again would fail again: report the old failure, write nothing new.
        return result("failed", load_id=state.latest.load_id,
                      error=f"unchanged since failed load {state.latest.load_id}: {state.latest.error}")

    entry = sink.start_entry(source)
    # Every log line written while this file loads carries its load id.
    with log_context(load_id=entry.load_id):
        rows_loaded = rows_rejected = 0
        try:
            with sink.transaction():
                load = sink.new_file_load(entry)
                if state.current is not None:
                    load.supersede(state.current)
                for batch in read_ahead(read_batches(source, batch_rows)):
                    load.write_rows(batch.rows)
                    load.write_rejects(batch.rejects)
                    rows_loaded += batch.rows.height
                    rows_rejected += batch.rejects.height
                    if progress is not None:
                        progress(source.name, rows_loaded + rows_rejected, time.perf_counter() - started)
                load.finish(rows_loaded, rows_rejected)
        except LoaderError as error:
            log.error("load %s failed: %s", entry.load_id,
                      error if str(error).startswith(source.name) else f"{source.name}: {error}")
            sink.record_failure(entry, str(error))
            return result("failed", load_id=entry.load_id, error=str(error))
        if progress is not None:
            progress(source.name, rows_loaded + rows_rejected, time.perf_counter() - started, done=True)
        log.info("load %s of %s: %d rows loaded, %d rejected", entry.load_id, source.name, rows_loaded, rows_rejected)
        return result("loaded", load_id=entry.load_id, rows_read=rows_loaded + rows_rejected,
                      rows_loaded=rows_loaded, rows_rejected=rows_rejected,
                      replaced_load_id=state.current.load_id if state.current else None)


def read_batches(source: SourceFile, batch_rows: int) -> Iterator[ParsedBatch]:
    return dump_kind(source.kind).read(source.path, batch_rows)


_DONE = object()


def read_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Produce `items` on a background thread, at most `depth` ahead of the consumer.

    Parsing the next batch (Polars, which releases the GIL) overlaps with the database
    ingesting the last one; the bound keeps memory flat however large the file.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            buffer.put(error)

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
