"""The warehouse's settings: one typed object, read once from the environment and `.env`.

Every part of the project (loaders, dbt profiles, Dagster) reads its configuration from
here, so there is exactly one place to point the warehouse at a database.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = PROJECT_ROOT / ".state"


class SettingsError(Exception):
    """A setting has a value the warehouse cannot use; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WAREHOUSE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    target: Literal["duckdb", "postgres"] = "duckdb"
    data_dir: Path = Path("data")
    duckdb_path: Path = STATE_DIR / "warehouse.duckdb"
    pg_dsn: str | None = None
    source_timezone: str = "UTC"
    # Rows per batch when streaming a measurements file: bounds the loader's memory.
    batch_rows: int = Field(default=500_000, ge=1_000)
    # A load whose rejected share exceeds this fails its Dagster check.
    max_rejected_share: float = Field(default=0.05, ge=0.0, le=1.0)

    @field_validator("source_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/Zurich')") from error
        return value

    @field_validator("pg_dsn")
    @classmethod
    def _dsn_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        return value

    @cached_property
    def data_path(self) -> Path:
        return self.data_dir if self.data_dir.is_absolute() else Path.cwd() / self.data_dir

    def require_pg_dsn(self) -> str:
        if not self.pg_dsn:
            raise SettingsError("WAREHOUSE_PG_DSN is not set; the postgres target needs a connection string")
        return self.pg_dsn


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one line per bad variable."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    try:
        settings = Settings(**clean)
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            field = str(issue["loc"][0]) if issue["loc"] else "?"
            given = issue.get("input")
            problems.append(f"WAREHOUSE_{field.upper()}={given!r}: {issue['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
    if settings.target == "postgres":
        settings.require_pg_dsn()
    return settings
