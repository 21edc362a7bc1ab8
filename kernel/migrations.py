"""Versioned, forward-only migrations of a schema, recorded in the database.

Plain SQL files named `NNNN_description.sql`, one folder per warehouse dialect, applied
in order, each in its own transaction together with its row in the schema's own
`<schema>.schema_migrations`. The loaders' files own `raw` (and, on PostgreSQL, roles:
loaders/migrations/), the kernel's own `ops` (kernel/ops_migrations/); dbt owns
`staging`, `analytics` and `refresh_state`. Reading never migrates: only writers and
`warehouse migrate` call `apply_migrations`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kernel.database import DatabaseError

if TYPE_CHECKING:
    from kernel.database import Database

_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

BOOKKEEPING = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
    version     text        PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT current_timestamp
);
"""


class MigrationError(DatabaseError):
    """The migrations on disk disagree with what the database recorded."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_description.sql")
        migrations.append(Migration(match["version"], match["name"], path.read_text(encoding="utf-8")))
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migrations share a version number")
    return migrations


def apply_migrations(db: Database, directory: Path, schema: str) -> list[str]:
    """Apply what is missing; return the versions applied now (empty when up to date)."""
    with db.transaction():
        # CREATE ... IF NOT EXISTS still demands the right to create: a least-privilege
        # loader (no CREATE on the database) must find the bookkeeping and not ask.
        if not db.table_exists(schema, "schema_migrations"):
            db.execute(BOOKKEEPING.format(schema=schema))
    applied_now = []
    for migration in discover(directory / db.dialect):
        with db.transaction():
            recorded = db.execute(f"SELECT checksum FROM {schema}.schema_migrations WHERE version = ?",
                                  (migration.version,))
            if recorded:
                if recorded[0][0] != migration.checksum:
                    raise MigrationError(
                        f"{schema} migration {migration.version}_{migration.name} changed after it was "
                        "applied; migrations are forward-only: add a new one instead")
                continue
            db.execute(migration.sql)
            db.execute(f"INSERT INTO {schema}.schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                       (migration.version, migration.name, migration.checksum))
            applied_now.append(migration.version)
    return applied_now
