"""Connections for reading, shared by the requests: the analysts' view, never a writer.

Every connection is `kernel.database.connect(warehouse, "reader")`.

PostgreSQL: a bounded pool of reader connections (read-only sessions, as the kernel opens
the reader's). A request holds one for as long as it reads (a streamed download, for the
whole stream) and gives it back. A connection that failed is dropped together with every
idle one (a server restart breaks them all), and the next request opens a fresh one.

DuckDB: one read-only connection to the reader's file (the analysts' copy,
kernel.reader_snapshot), a cursor per request (a DuckDB connection is not thread-safe; a
cursor is a connection of its own to the same database). The file is watched: when it
is replaced (a newly published copy) the next request opens the new file, and the old
connection closes when its last request ends. When the reader's file is the live
warehouse file (a warehouse without a copy), which the loaders and dbt open for writing,
the connection is also closed once no request has read for `LIVE_FILE_LINGER_SECONDS`,
so that a refresh gets the file between bursts of requests instead of waiting for the
server to stop (a published snapshot, which no writer opens, is held open).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from api.errors import NotPermitted, WarehouseUnavailable
from kernel.database import (
    Database,
    DatabaseError,
    DuckDBDatabase,
    Warehouse,
    connect,
    describe_dsn,
    first_line,
)

log = logging.getLogger(__name__)

# A request waits this long for a free PostgreSQL connection before it gets a 503.
POOL_WAIT_SECONDS = 10.0
# A runaway query of one request must not hold the server (PostgreSQL statement_timeout).
STATEMENT_TIMEOUT = "60s"
# A PostgreSQL connection idle for longer than this is tried before use: the server may
# have restarted or dropped it meanwhile, which would otherwise cost a request a 503.
IDLE_CHECK_SECONDS = 2.0
# How long an idle read-only connection to the live DuckDB file stays open: long enough
# that a burst of requests shares one (opening costs tens of milliseconds), short enough
# that a refresh's writer, which retries, gets the file.
LIVE_FILE_LINGER_SECONDS = 1.0


class Readers(Protocol):
    """Where the requests get their reading connection."""

    label: str

    def reading(self) -> Iterator[Database]:
        """A reader's connection for the block (a context manager)."""
        ...

    def close(self) -> None: ...


def open_readers(warehouse: Warehouse, *, pool_size: int = 8) -> Readers:
    """The readers of `warehouse`: a pool on PostgreSQL, a shared read-only file on DuckDB.

    Opens nothing yet: the first request connects, so the server starts (and answers
    /health) while the warehouse is down.
    """
    if warehouse.target == "postgres":
        return PostgresReaders(warehouse, pool_size)
    return DuckDBReaders(warehouse)


def _translate(error: Exception, label: str) -> Exception | None:
    """The API's error for a driver's, or None when it is not about reaching or reading."""
    import duckdb
    import psycopg

    if isinstance(error, psycopg.errors.InsufficientPrivilege):
        return NotPermitted(f"the reader login of {label} may not read this: {first_line(error)}")
    if isinstance(error, (psycopg.errors.UndefinedTable, duckdb.CatalogException)):
        return NotPermitted(f"the reader's view of {label} lacks a table this needs: {first_line(error)}")
    if isinstance(error, (psycopg.OperationalError, psycopg.errors.QueryCanceled, duckdb.IOException,
                          duckdb.ConnectionException)):
        return WarehouseUnavailable(f"{label}: {first_line(error)}")
    if isinstance(error, DatabaseError):
        return WarehouseUnavailable(str(error))
    return None


# --- PostgreSQL -----------------------------------------------------------------------------

class PostgresReaders:
    """A bounded pool of read-only reader connections."""

    def __init__(self, warehouse: Warehouse, size: int):
        self.warehouse = warehouse
        self.size = size
        self.label = f"postgres:{describe_dsn(warehouse.dsn('reader'))}"
        self._idle: list[tuple[Database, float]] = []  # with the time each was given back
        self._open = 0
        self._available = threading.Condition()

    @contextmanager
    def reading(self) -> Iterator[Database]:
        db = self._acquire()
        broken = False
        try:
            yield db
        except Exception as error:
            import psycopg

            broken = isinstance(error, psycopg.OperationalError) or db.connection.broken
            translated = _translate(error, self.label)
            if translated is None:
                raise
            raise translated from error
        finally:
            self._release(db, broken)

    def _acquire(self) -> Database:
        while True:
            with self._available:
                while not self._idle and self._open >= self.size:
                    if not self._available.wait(POOL_WAIT_SECONDS):
                        raise WarehouseUnavailable(f"all {self.size} reader connections to {self.label} "
                                                   f"have been busy for {POOL_WAIT_SECONDS:.0f} s")
                if not self._idle:
                    self._open += 1
                    break
                db, since = self._idle.pop()
            if time.monotonic() - since < IDLE_CHECK_SECONDS or self._alive(db):
                return db
            # Dead, and the others idle as long are too: drop them all, then open afresh.
            with self._available:
                dead = [db] + [other for other, _ in self._idle]
                self._idle = []
                self._open -= len(dead)
                self._available.notify_all()
            for stale in dead:
                self._close_quietly(stale)
        try:
            return self._connect()
        except BaseException:
            with self._available:
                self._open -= 1
                self._available.notify()
            raise

    def _connect(self) -> Database:
        try:
            db = connect(self.warehouse, "reader")
        except DatabaseError as error:
            raise WarehouseUnavailable(str(error)) from error
        try:
            # kernel.database makes the reader's session read-only; the API also bounds
            # each statement and reads timestamptz values in UTC.
            db.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
            db.execute("SET TIME ZONE 'UTC'")
        except Exception as error:
            db.close()
            raise _translate(error, self.label) or error from error
        return db

    @staticmethod
    def _alive(db: Database) -> bool:
        try:
            db.execute("SELECT 1")
        except Exception:  # noqa: BLE001 (any failure means: do not use it)
            return False
        return True

    @staticmethod
    def _close_quietly(db: Database) -> None:
        try:
            db.close()
        except Exception:  # noqa: BLE001 (a broken connection may fail to close; it is gone)
            pass

    def _release(self, db: Database, broken: bool) -> None:
        from psycopg import pq

        connection = db.connection
        reusable = (not broken and not connection.closed and not connection.broken
                    and connection.info.transaction_status == pq.TransactionStatus.IDLE)
        dropped = [] if reusable else [db]
        with self._available:
            if reusable:
                self._idle.append((db, time.monotonic()))
            else:
                # One broken connection means the server went away or restarted: the
                # idle ones are broken too, and would each fail a request to find out.
                dropped += [other for other, _ in self._idle]
                self._idle = []
                self._open -= len(dropped)
            self._available.notify_all()
        for stale in dropped:
            self._close_quietly(stale)

    def close(self) -> None:
        with self._available:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for db, _ in idle:
            self._close_quietly(db)


# --- DuckDB ---------------------------------------------------------------------------------

@dataclass
class _OpenFile:
    """One read-only connection to one version of the reader's file."""

    db: Database
    path: Path
    identity: tuple[int, int, int] | None
    readers: int = 0
    retired: bool = field(default=False)


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file is replaced or rewritten: inode, size, modification time."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_ino, status.st_size, status.st_mtime_ns)


class DuckDBReaders:
    """One shared read-only connection to the reader's file; a cursor per request."""

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse
        self.label = warehouse.label
        self._current: _OpenFile | None = None
        self._lock = threading.Condition()
        self._idle_since: float | None = None
        self._closer: threading.Thread | None = None
        self._closing = False

    @contextmanager
    def reading(self) -> Iterator[Database]:
        opened = self._checkout()
        cursor = None
        try:
            cursor = DuckDBDatabase(self.warehouse, "reader", opened.db.connection.cursor())
            yield cursor
        except Exception as error:
            translated = _translate(error, self.label)
            if translated is None:
                raise
            raise translated from error
        finally:
            if cursor is not None:
                cursor.close()
            self._checkin(opened)

    def _checkout(self) -> _OpenFile:
        with self._lock:
            current = self._current
            if current is not None and _identity(current.path) != current.identity:
                log.info("reader file %s changed: the next requests read the new one", current.path)
                self._retire(current)
                current = None
            if current is None:
                current = self._current = self._open()
            current.readers += 1
            self._idle_since = None
            return current

    def _open(self) -> _OpenFile:
        try:
            db = connect(self.warehouse, "reader")
        except DatabaseError as error:
            raise WarehouseUnavailable(str(error)) from error
        (path,) = db.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")[0]
        path = Path(path).resolve()
        self.label = f"duckdb:{path}"
        return _OpenFile(db, path, _identity(path))

    def _checkin(self, opened: _OpenFile) -> None:
        with self._lock:
            opened.readers -= 1
            if opened.readers == 0 and opened.retired:
                opened.db.close()
            elif opened.readers == 0 and self._is_live_file(opened.path):
                self._idle_since = time.monotonic()
                if self._closer is None:
                    self._closer = threading.Thread(target=self._close_when_idle, daemon=True,
                                                    name="duckdb-reader-closer")
                    self._closer.start()
                self._lock.notify_all()

    def _close_when_idle(self) -> None:
        """Close the live file's connection once it has been idle for the linger time."""
        with self._lock:
            while not self._closing:
                if self._idle_since is None or self._current is None:
                    self._lock.wait()
                    continue
                idle = time.monotonic() - self._idle_since
                if idle >= LIVE_FILE_LINGER_SECONDS and self._current.readers == 0:
                    self._retire(self._current)
                    self._idle_since = None
                else:
                    self._lock.wait(LIVE_FILE_LINGER_SECONDS - idle if idle < LIVE_FILE_LINGER_SECONDS
                                    else LIVE_FILE_LINGER_SECONDS)

    def _retire(self, opened: _OpenFile) -> None:
        opened.retired = True
        if self._current is opened:
            self._current = None
        if opened.readers == 0:
            opened.db.close()

    def _is_live_file(self, path: Path) -> bool:
        """Whether `path` is the file the warehouse's writers open (not a published snapshot)."""
        return path == self.warehouse.duckdb_path.resolve()

    def close(self) -> None:
        with self._lock:
            self._closing = True
            if self._current is not None:
                self._retire(self._current)
            self._lock.notify_all()
