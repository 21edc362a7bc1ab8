"""Reader for `signal.json` (singular): the measurement channels, each on one asset."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_serializer

from loaders.sources.batch import LARGEST_ID, ParsedBatch
from loaders.sources.json_records import validate_records

FILE_NAME = "signal.json"

SCHEMA = {
    "signal_gid": pl.String,
    "signal_id": pl.Int64,
    "signal_name": pl.String,
    "asset_id": pl.Int64,
    "unit": pl.String,
}


class SignalRecord(BaseModel):
    """One record as the operator writes it: note `AssetId` with a lower-case d here."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    signal_gid: UUID = Field(alias="SignalGId")
    signal_id: int = Field(alias="SignalId", ge=0, le=LARGEST_ID)
    signal_name: str = Field(alias="SignalName", min_length=1)
    asset_id: int = Field(alias="AssetId", ge=0, le=LARGEST_ID)
    unit: str = Field(alias="Unit")

    @field_serializer("signal_gid")
    def _gid_as_text(self, gid: UUID) -> str:
        return str(gid)


def read_signals(path: Path) -> ParsedBatch:
    return validate_records(path, SignalRecord, SCHEMA)
