"""Questions the Dagster checks, the metadata and the dump sensor ask of the load ledger,
in SQL both warehouses run."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernel.database import Database, Warehouse

# The checksums a load of each file would skip: its current load's, and its latest
# attempt's when that failed (the loader does not retry a file until it changes).
KNOWN_CHECKSUMS = """
    SELECT source_file, sha256 FROM raw.load_ledger AS l
    WHERE status = 'loaded'
       OR (status = 'failed'
           AND load_id = (SELECT max(load_id) FROM raw.load_ledger AS m WHERE m.source_file = l.source_file))
"""


@dataclass(frozen=True)
class Mismatch:
    """One load whose rows in a table differ from what its ledger row says."""

    load_id: int
    expected: int | None  # None: rows of a load the ledger does not list as current
    found: int


@dataclass(frozen=True)
class RejectedShare:
    rows_read: int
    rows_rejected: int

    @property
    def share(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0


def current_rows_by_kind(db: Database) -> dict[str, int]:
    """Rows each raw data table holds according to the ledger's current loads."""
    rows = db.execute("SELECT file_kind, sum(rows_loaded) FROM raw.load_ledger "
                        "WHERE status = 'loaded' GROUP BY file_kind")
    return {kind: int(total or 0) for kind, total in rows}


def rejected_rows_total(db: Database) -> int:
    rows = db.execute("SELECT sum(rows_rejected) FROM raw.load_ledger WHERE status = 'loaded'")
    return int(rows[0][0] or 0)


def mismatches(db: Database, table: str, kind: str | None,
               load_ids: Sequence[int] | None = None) -> list[Mismatch]:
    """Loads whose row count in `raw.<table>` disagrees with the ledger.

    For a data table the ledger's `rows_loaded` of the kind's current loads; for
    `rejected_rows` (kind None) the `rows_rejected` of every current load. Rows of a
    load that is not current (replaced, failed, unknown) are mismatches too.
    `load_ids` narrows both sides to those loads (on PostgreSQL a list of literal ids
    reads just their partitions); None checks the whole table.
    """
    expected_column, kind_filter, params = (
        ("rows_rejected", "", ()) if kind is None else ("rows_loaded", "AND file_kind = ?", (kind,)))
    if load_ids is not None and not load_ids:
        return []
    # Literal integers, not parameters: the planner prunes partitions only by constants.
    in_scope = "" if load_ids is None else f"load_id IN ({', '.join(str(int(i)) for i in load_ids)})"
    rows = db.execute(
        f"""
        WITH expected AS (
            SELECT load_id, {expected_column} AS n FROM raw.load_ledger
            WHERE status = 'loaded' {kind_filter} {'AND ' + in_scope if in_scope else ''}
        ), found AS (
            SELECT load_id, count(*) AS n FROM raw.{table} {'WHERE ' + in_scope if in_scope else ''}
            GROUP BY load_id
        )
        SELECT coalesce(e.load_id, f.load_id), e.n, coalesce(f.n, 0)
        FROM expected e FULL OUTER JOIN found f ON f.load_id = e.load_id
        WHERE e.n IS NULL OR e.n <> coalesce(f.n, 0)
        ORDER BY 1
        """, params)
    return [Mismatch(int(load_id), None if expected is None else int(expected), int(found))
            for load_id, expected, found in rows]


def changed_load_ids(db: Database) -> list[int] | None:
    """The loads added or removed since the marts were last built (refresh_state), or
    None when that is not known (no build yet): then everything is to be checked."""
    if not db.table_exists("refresh_state", "applied_loads"):
        return None
    rows = db.execute(
        """(SELECT load_id FROM raw.load_ledger WHERE status = 'loaded'
            EXCEPT SELECT load_id FROM refresh_state.applied_loads)
           UNION
           (SELECT load_id FROM refresh_state.applied_loads
            EXCEPT SELECT load_id FROM raw.load_ledger WHERE status = 'loaded')""")
    return sorted(int(load_id) for (load_id,) in rows)


def current_load_count(db: Database, kind: str | None) -> int:
    if kind is None:
        return int(db.execute("SELECT count(*) FROM raw.load_ledger WHERE status = 'loaded'")[0][0])
    return int(db.execute("SELECT count(*) FROM raw.load_ledger WHERE status = 'loaded' AND file_kind = ?",
                            (kind,))[0][0])


def rejected_share(db: Database, kind: str) -> RejectedShare:
    rows = db.execute("SELECT sum(rows_read), sum(rows_rejected) FROM raw.load_ledger "
                        "WHERE status = 'loaded' AND file_kind = ?", (kind,))
    read, rejected = rows[0]
    return RejectedShare(int(read or 0), int(rejected or 0))


def top_reject_reasons(db: Database, kind: str, limit: int = 5) -> list[tuple[str, int]]:
    rows = db.execute(
        "SELECT r.reason, count(*) FROM raw.rejected_rows r "
        "JOIN raw.load_ledger l ON l.load_id = r.load_id AND l.status = 'loaded' "
        "WHERE r.file_kind = ? GROUP BY r.reason ORDER BY count(*) DESC, r.reason LIMIT ?", (kind, limit))
    return [(str(reason), int(count)) for reason, count in rows]


def known_checksums(warehouse: Warehouse) -> dict[str, set[str]]:
    """For each file name, the checksums the ledger already accounts for; {} before any load.

    Reads without writing: on DuckDB read-only (never creating the file), since a reading
    process keeps a writer out for as long as it holds the file. Raises
    WarehouseBusyError when a writer holds DuckDB.
    """
    from kernel.database import ConnectionFailed, WarehouseBusyError, connect

    if warehouse.target == "duckdb" and not warehouse.duckdb_path.exists():
        return {}
    try:
        db = connect(warehouse, "loader", read_only=True)
    except ConnectionFailed as error:
        if warehouse.target == "duckdb" and "lock" in str(error).lower():
            raise WarehouseBusyError(f"{warehouse.duckdb_path} is held by a writing process") from error
        raise
    with db:
        if not db.table_exists("raw", "load_ledger"):
            return {}
        return _by_file(db.execute(KNOWN_CHECKSUMS))


def _by_file(rows: list[tuple]) -> dict[str, set[str]]:
    known: dict[str, set[str]] = defaultdict(set)
    for source_file, sha256 in rows:
        known[source_file].add(sha256)
    return dict(known)
