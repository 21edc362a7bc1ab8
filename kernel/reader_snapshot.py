"""The analysts' copy of a DuckDB warehouse: published after each write, read by everyone else.

DuckDB admits one writing process or any number of reading ones per file, never both, so
an analyst's open connection on the warehouse file would stop the pipeline (and a
running refresh would keep analysts out). Analysts therefore read a copy of the whole
file (`Warehouse.reader_path`; `kernel.database.connect(warehouse, "reader")` opens it):
raw, staging views and marts as of the last successful write, views intact.

Publishing copies the file while holding the writer lock and a writing connection, which
keeps every other process out of it, after a CHECKPOINT has moved everything committed
from the write-ahead log into the file. The copy is written beside the target, synced
and renamed over it (`os.replace`): a connection that has the old copy open keeps
reading it (its inode lives on until closed), a new one opens the new copy, and nobody
ever sees half a file. Nothing waits for the analysts.

The copy carries the live file's size and modification time, which is how a later call
tells whether the warehouse changed since (DuckDB does not touch a file it only reads or
opens, nor on a CHECKPOINT with nothing to write).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kernel.database import connect
from kernel.writer_lock import DEFAULT_WAIT_SECONDS, writer_lock

if TYPE_CHECKING:
    from kernel.database import Warehouse

# Analysts may read the copy, never change it: DuckDB refuses to open it for writing
# (for anyone but root), so a forgotten read-only flag fails rather than edits a copy
# that the next publish throws away.
SNAPSHOT_MODE = 0o444


@dataclass(frozen=True)
class PublishedSnapshot:
    """A copy just published: where, how big, and how long the copy took."""

    path: Path
    size_bytes: int
    seconds: float

    def __str__(self) -> str:
        return (f"analysts' copy published: {self.path} "
                f"({self.size_bytes / 1e6:,.1f} MB in {self.seconds:.1f} s)")


def snapshot_is_current(warehouse: Warehouse) -> bool:
    """Whether the analysts' copy equals the live file, judged without opening either.

    True on PostgreSQL and for a warehouse without a copy: there is nothing to publish.
    """
    if warehouse.target != "duckdb" or warehouse.reader_path is None:
        return True
    live, copy = warehouse.duckdb_path, warehouse.reader_path
    if not live.exists():
        return True  # nothing built yet: nothing to publish
    if _wal(live).exists() and _wal(live).stat().st_size > 0:
        return False  # committed work not yet in the file itself
    try:
        copied = copy.stat()
    except FileNotFoundError:
        return False
    current = live.stat()
    return (copied.st_size, copied.st_mtime_ns) == (current.st_size, current.st_mtime_ns)


def publish_reader_snapshot(warehouse: Warehouse, *, wait_seconds: float = DEFAULT_WAIT_SECONDS,
                            run_id: str | None = None) -> PublishedSnapshot | None:
    """Replace the analysts' copy with the warehouse as it is now, if it changed since.

    Takes the writer lock (a holder of it in this thread shares it), waiting up to
    `wait_seconds` for another writer. Returns what it published, or None when the copy
    was already current, the warehouse is not DuckDB or has no copy, or nothing is built.
    """
    if snapshot_is_current(warehouse):  # also: not DuckDB, no copy wanted, nothing built
        return None
    live, target = warehouse.duckdb_path, warehouse.reader_path
    with writer_lock(warehouse, wait_seconds=wait_seconds, run_id=run_id):
        _remove_abandoned_copies(target)
        started = time.perf_counter()
        # Open for writing: while this connection lives, DuckDB keeps every other
        # process out of the file, so the bytes copied below are the database at one
        # moment.
        with connect(warehouse, "loader") as db:
            db.execute("CHECKPOINT")
            if snapshot_is_current(warehouse):  # another writer published meanwhile
                return None
            size = _replace_atomically(live, target)
    return PublishedSnapshot(target, size, time.perf_counter() - started)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}."


def _remove_abandoned_copies(target: Path) -> None:
    """Half-written copies of a publisher that died: only a writer-lock holder publishes,
    so while the lock is held any such file is abandoned."""
    if not target.parent.is_dir():
        return
    for leftover in target.parent.glob(f"{_temporary_prefix(target)}*.tmp"):
        leftover.unlink(missing_ok=True)


def _replace_atomically(source: Path, target: Path) -> int:
    """Copy `source` over `target` so that a reader sees the old file or the new, whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=_temporary_prefix(target), suffix=".tmp")
    try:
        try:
            with source.open("rb") as reading:
                size = _copy_bytes(reading.fileno(), fd, os.fstat(reading.fileno()).st_size)
            os.fsync(fd)
        finally:
            os.close(fd)
        # The copy's size and time are the live file's: how snapshot_is_current compares.
        shutil.copystat(source, temporary)
        os.chmod(temporary, SNAPSHOT_MODE)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_directory(target.parent)
    return size


def _copy_bytes(source_fd: int, target_fd: int, size: int) -> int:
    """Copy inside the kernel: copy_file_range (a reflink on file systems that share
    blocks, such as XFS and btrfs), else sendfile."""
    copied = 0
    copy = os.copy_file_range if hasattr(os, "copy_file_range") else None
    while copied < size:
        try:
            if copy is None:
                raise OSError(errno.ENOSYS, "copy_file_range unavailable")
            sent = copy(source_fd, target_fd, size - copied, copied, copied)
        except OSError as error:
            unsupported = error.errno in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL)
            if not unsupported or copy is _sendfile_at:
                raise
            copy = _sendfile_at
            continue
        if sent == 0:
            break  # the end of the file: it cannot shrink while our connection holds it
        copied += sent
    return copied


def _sendfile_at(source_fd: int, target_fd: int, count: int, source_offset: int, target_offset: int) -> int:
    os.lseek(target_fd, target_offset, os.SEEK_SET)
    return os.sendfile(target_fd, source_fd, source_offset, count)


def _sync_directory(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
