"""One writer per warehouse at a time, through a lock that dies with its holder.

PostgreSQL: a session-level advisory lock on a connection of its own; the server frees
it when the session ends, however the holder ended. DuckDB: `fcntl.flock` on a lock file
next to the database file; the kernel frees it when the holder's process dies. Neither
can outlive a SIGKILLed, OOM-killed or restarted holder, which a slot recorded in a
database (Dagster's concurrency pools) can.

A writer that finds the lock taken waits up to `wait_seconds`, then raises
`WarehouseBusyError` naming the holder: its pid, host and run (DuckDB: what the holder
wrote into the lock file; PostgreSQL: the holder session's application_name).

The lock is taken once per thread: a Dagster step holds it while it calls the loaders,
which take it again, and that nested claim shares the one held (a second session, or a
second flock of this process, would wait for the first one forever).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kernel.database import WarehouseBusyError

if TYPE_CHECKING:
    from kernel.database import Warehouse

log = logging.getLogger(__name__)

DEFAULT_WAIT_SECONDS = 60.0
POLL_SECONDS = 0.2
# pg_advisory_lock's key: any 64-bit number the warehouse's writers agree on ("gridwh").
ADVISORY_LOCK_KEY = 0x6772_6964_7768
# A client machine that vanishes without closing its socket (power loss, a container's
# network torn down) is noticed by the server within about a minute, not two hours.
SERVER_KEEPALIVE = {"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10",
                    "tcp_keepalives_count": "3"}


class _ThisThread(threading.local):
    """The writer locks this thread holds, by name: a nested claim shares the one held."""

    def __init__(self) -> None:
        self.held: set[str] = set()


_this_thread = _ThisThread()


@dataclass(frozen=True)
class LockHolder:
    """Who holds the writer lock, as the waiting writer's message names it."""

    pid: int
    host: str
    run_id: str | None = None
    since: str = ""  # ISO 8601, UTC
    command: str = ""

    @classmethod
    def this_process(cls, run_id: str | None) -> LockHolder:
        return cls(os.getpid(), socket.gethostname(), run_id,
                   datetime.now(UTC).isoformat(timespec="seconds"),
                   " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200])

    @property
    def application_name(self) -> str:
        """The PostgreSQL session's name: what pg_stat_activity shows of the holder."""
        run = f" run={self.run_id[:8]}" if self.run_id else ""
        return f"gridwarehouse-writer pid={self.pid}@{self.host}{run}"[:63]

    def __str__(self) -> str:
        run = f", run {self.run_id}" if self.run_id else ""
        since = f", since {self.since}" if self.since else ""
        return f"pid {self.pid} on host {self.host} ({self.command or 'unknown command'}{run}){since}"


def lock_file(duckdb_path: Path) -> Path:
    """The lock file of a DuckDB warehouse: next to the database file."""
    return duckdb_path.with_name(duckdb_path.name + ".writer-lock")


@contextmanager
def writer_lock(warehouse: Warehouse, *, wait_seconds: float = DEFAULT_WAIT_SECONDS,
                run_id: str | None = None) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block; see the module docstring."""
    name = _lock_name(warehouse)
    held = _this_thread.held
    if name in held:
        yield
        return
    holder = LockHolder.this_process(run_id)
    if warehouse.target == "postgres":
        lock = _advisory_lock(warehouse.dsn("loader"), wait_seconds, holder)
    else:
        place = ("the Spark warehouse's lake" if warehouse.target == "spark" else "the DuckDB warehouse")
        lock = _file_lock(_locked_path(warehouse), wait_seconds, holder, f"{place} {_locked_path(warehouse)}")
    with lock:
        held.add(name)
        try:
            yield
        finally:
            held.discard(name)


def _lock_name(warehouse: Warehouse) -> str:
    if warehouse.target == "postgres":
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(warehouse.dsn("loader"))
        return f"postgres://{params.get('host', '')}:{params.get('port', '')}/{params.get('dbname', '')}"
    return str(lock_file(_locked_path(warehouse)))


def _locked_path(warehouse: Warehouse) -> Path:
    """The file whose lock file guards the warehouse: the DuckDB file, or the Spark
    target's lake folder (`<lake>.writer-lock` beside it, outside what Spark reads)."""
    if warehouse.target == "spark":
        return warehouse.require_spark().lake_dir.absolute()
    return warehouse.duckdb_path.absolute()


def _wait(try_lock: Callable[[], bool], describe_holder: Callable[[], tuple[str, str]],
          wait_seconds: float, place: str) -> None:
    """Call `try_lock` until it succeeds or `wait_seconds` pass (then raise, naming the holder).

    `describe_holder` gives who holds the lock and how to stop it should it hang.
    """
    started = time.monotonic()
    announced = False
    while not try_lock():
        if time.monotonic() - started >= wait_seconds:
            holder, stop = describe_holder()
            raise WarehouseBusyError(
                f"{place} is being written by {holder}; still busy after {wait_seconds:g} s. "
                f"Wait for that writer to finish and run again, or stop it if it hangs ({stop})")
        if not announced:
            log.info("%s is being written by %s; waiting up to %.0f s", place, describe_holder()[0],
                     wait_seconds)
            announced = True
        time.sleep(POLL_SECONDS)
    if announced:
        log.info("%s: writer lock taken after %.1f s", place, time.monotonic() - started)


@contextmanager
def _file_lock(duckdb_path: Path, wait_seconds: float, holder: LockHolder, place: str) -> Iterator[None]:
    path = lock_file(duckdb_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Opened close-on-exec (Python's default): dbt's process must not inherit the lock,
    # or an orphaned dbt would keep it after this process died.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        def try_lock() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        def describe_holder() -> tuple[str, str]:
            try:
                named = LockHolder(**json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                return f"a process that has not named itself in {path} yet", f"fuser {path}"
            return str(named), f"kill {named.pid} on {named.host}"

        _wait(try_lock, describe_holder, wait_seconds, place)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
        try:
            yield
        finally:
            # A free lock names nobody (the kernel frees it, but only we can empty the file).
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


@contextmanager
def _advisory_lock(dsn: str, wait_seconds: float, holder: LockHolder) -> Iterator[None]:
    import psycopg

    from kernel.database import CONNECT_TIMEOUT_SECONDS, describe_dsn, postgres_connect_failed

    try:
        conn = psycopg.connect(dsn, autocommit=True, application_name=holder.application_name,
                               connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.OperationalError as error:
        raise postgres_connect_failed(f"cannot connect to PostgreSQL at {describe_dsn(dsn)} for the "
                                      "writer lock", error) from error
    try:
        conn.execute("SELECT " + ", ".join(f"set_config('{name}', '{value}', false)"
                                           for name, value in SERVER_KEEPALIVE.items()))
        place = f"the PostgreSQL warehouse {conn.info.dbname} on {conn.info.host}"

        def try_lock() -> bool:
            return conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone()[0]

        def describe_holder() -> tuple[str, str]:
            row = conn.execute(
                "SELECT a.pid, a.application_name, a.client_addr, a.backend_start "
                "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.classid::bigint = %s AND l.objid::bigint = %s "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (ADVISORY_LOCK_KEY >> 32, ADVISORY_LOCK_KEY & 0xFFFF_FFFF)).fetchone()
            if row is None:
                return "a session that has just let go", "nothing to stop"
            pid, name, address, started = row
            since = f", connected since {started:%Y-%m-%d %H:%M:%S %Z}" if started else ""
            return (f"session {pid} ({name or 'unnamed'}, from {address or 'a local socket'}{since})",
                    f"SELECT pg_terminate_backend({pid})")

        _wait(try_lock, describe_holder, wait_seconds, place)
        yield
    finally:
        # Closing the session releases its advisory lock.
        conn.close()
