"""Reader for `assets.json`: the substations, one record each, every value a string."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from loaders.sources.batch import LARGEST_ID, ParsedBatch
from loaders.sources.json_records import validate_records

FILE_NAME = "assets.json"

SCHEMA = {"asset_id": pl.Int64, "latitude": pl.Float64, "longitude": pl.Float64, "descri": pl.String}


class AssetRecord(BaseModel):
    """One record as the operator writes it: `AssetID` with a capital D, name under `descri`."""

    model_config = ConfigDict(str_strip_whitespace=True, allow_inf_nan=False, frozen=True)

    asset_id: int = Field(alias="AssetID", ge=0, le=LARGEST_ID)
    latitude: float = Field(alias="Latitude", ge=-90, le=90)
    longitude: float = Field(alias="Longitude", ge=-180, le=180)
    descri: str


def read_assets(path: Path) -> ParsedBatch:
    return validate_records(path, AssetRecord, SCHEMA)
