"""Writes the dumps in the operator's dialect, with the loaders' own names for its parts.

File names, the CSV header, its separator and decimal separator come from
`loaders.sources.measurements`; the JSON keys from the loaders' record models (`AssetID`
with a capital D in assets.json, `AssetId` in signal.json). What the loaders accept more
loosely than the operator writes (any number of fraction digits, a BOM or none) is fixed
here to what the operator's export does.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl
from pydantic import BaseModel

from loaders.sources import assets, measurements, signals

# The export always writes milliseconds, `2021-11-07 23:59:03.762`; the loaders read any
# number of fraction digits.
_TIMESTAMP_WRITTEN = "%Y-%m-%d %H:%M:%S%.3f"
_BATCH_ROWS = 500_000
# Numbered, so that the loaders' order (by name) is the order in time; each name matches
# the loaders' FILE_GLOB.
_STEM, _SUFFIX = measurements.FILE_GLOB.split("*")
_NUMBERED_GLOB = f"{_STEM}_[0-9][0-9][0-9]{_SUFFIX}"


def measurements_path(out_dir: Path, number: int) -> Path:
    """Where the `number`th measurement dump goes: `measurements_001.csv` for 1."""
    return out_dir / f"{_STEM}_{number:03d}{_SUFFIX}"


def existing_dumps(out_dir: Path) -> list[Path]:
    """The files in `out_dir` that generating dumps there would replace or remove."""
    if not out_dir.is_dir():
        return []
    named = [out_dir / assets.FILE_NAME, out_dir / signals.FILE_NAME]
    numbered = sorted(out_dir.glob(_NUMBERED_GLOB))
    return [path for path in (*named, *numbered) if path.is_file()]


def remove_measurement_dumps(out_dir: Path) -> None:
    """Delete the numbered measurement dumps a previous run may have left in `out_dir`."""
    for stale in out_dir.glob(_NUMBERED_GLOB):
        stale.unlink()


def write_assets_json(out_dir: Path, records: Sequence[dict[str, str]]) -> Path:
    """Write assets.json from records keyed by the loaders' field names; return its path."""
    path = out_dir / assets.FILE_NAME
    _write_json_records(path, assets.AssetRecord, records)
    return path


def write_signals_json(out_dir: Path, records: Sequence[dict[str, str]]) -> Path:
    """Write signal.json from records keyed by the loaders' field names; return its path."""
    path = out_dir / signals.FILE_NAME
    _write_json_records(path, signals.SignalRecord, records)
    return path


def _write_json_records(
    path: Path, model: type[BaseModel], records: Sequence[dict[str, str]]
) -> None:
    """Write records keyed by `model`'s field names under the operator's keys (the aliases)."""
    keys = {name: field.alias or name for name, field in model.model_fields.items()}
    # One object per line, so a line number in an error message points at one record.
    body = ",\n".join(
        "  " + json.dumps({keys[name]: value for name, value in record.items()}, ensure_ascii=False)
        for record in records
    )
    path.write_text(f"[\n{body}\n]\n", encoding="utf-8", newline="\n")


class BlockLines(NamedTuple):
    """One block's lines as numbers, plus the few cells whose text a defect replaces."""

    times: np.ndarray  # epoch ms, newest first
    signal_ids: np.ndarray
    units: np.ndarray  # value in units of 1/scale
    scale: int
    ts_text: dict[int, str]  # line -> replacement text
    value_text: dict[int, str]


def _text_columns(
    times: np.ndarray, signal_ids: np.ndarray, units: np.ndarray, scales: np.ndarray
) -> pl.DataFrame:
    """The three columns as the export writes them: `2021-11-07 23:59:03.762|427038|116,129`.

    Values are fixed-point integers (units of 1/scale), so the decimal comma text is exact:
    `116,129`, `115,36`, `116`, `-0,5`, never `116,12900000000001`.
    """
    magnitude = pl.col("units").abs()
    fraction = (
        ((magnitude % pl.col("scale")) + pl.col("scale"))
        .cast(pl.String)
        .str.slice(1)
        .str.strip_chars_end("0")
    )
    value = (
        pl.when(pl.col("units") < 0).then(pl.lit("-")).otherwise(pl.lit(""))
        + (magnitude // pl.col("scale")).cast(pl.String)
        + pl.when(fraction == "")
        .then(pl.lit(""))
        .otherwise(measurements.DECIMAL_SEPARATOR + fraction)
    )
    ts_column, id_column, value_column = measurements.COLUMNS
    return pl.DataFrame({"ms": times, "id": signal_ids, "units": units, "scale": scales}).select(
        pl.from_epoch("ms", time_unit="ms").dt.strftime(_TIMESTAMP_WRITTEN).alias(ts_column),
        pl.col("id").cast(pl.String).alias(id_column),
        value.alias(value_column),
    )


class DumpWriter:
    """Writes blocks to one measurement dump, formatting many blocks in one Polars pass.

    Formatting a block on its own costs a fixed few milliseconds; batching up to
    `_BATCH_ROWS` rows keeps that out of the total while memory stays bounded.
    """

    def __init__(self, path: Path, bom: bool, crlf: bool) -> None:
        self.path = path
        self.line_end = "\r\n" if crlf else "\n"
        self.lines = 0
        self._pending: list[BlockLines] = []
        self._pending_rows = 0
        self._out = path.open("wb")
        header = (measurements.HEADER + self.line_end).encode("utf-8")
        self._out.write((codecs.BOM_UTF8 if bom else b"") + header)

    def add(self, lines: BlockLines) -> None:
        self._pending.append(lines)
        self._pending_rows += len(lines.times)
        if self._pending_rows >= _BATCH_ROWS:
            self.flush()

    def flush(self, truncate_at: int | None = None) -> None:
        """Write what is pending; `truncate_at` cuts the very last line to that many characters."""
        if not self._pending:
            return
        frame = _text_columns(
            np.concatenate([b.times for b in self._pending]),
            np.concatenate([b.signal_ids for b in self._pending]),
            np.concatenate([b.units for b in self._pending]),
            np.concatenate([np.full(len(b.times), b.scale, dtype=np.int64) for b in self._pending]),
        )
        ts_text, value_text, offset = {}, {}, 0
        for block in self._pending:
            ts_text.update({offset + line: text for line, text in block.ts_text.items()})
            value_text.update({offset + line: text for line, text in block.value_text.items()})
            offset += len(block.times)
        ts_column, _, value_column = measurements.COLUMNS
        if ts_text:
            column = frame[ts_column].scatter(list(ts_text), list(ts_text.values()))
            frame = frame.with_columns(column)
        if value_text:
            column = frame[value_column].scatter(list(value_text), list(value_text.values()))
            frame = frame.with_columns(column)
        tail = None
        if truncate_at is not None:
            tail = measurements.SEPARATOR.join(frame.row(-1))[:truncate_at]
            frame = frame.head(-1)
        frame.write_csv(
            self._out,
            include_header=False,
            separator=measurements.SEPARATOR,
            line_terminator=self.line_end,
            quote_style="never",
        )
        if tail is not None:
            self._out.write(tail.encode("utf-8"))  # no line end: the export died mid-line
        self.lines += frame.height + (tail is not None)
        self._pending, self._pending_rows = [], 0

    def close(self) -> None:
        self.flush()
        self._out.close()
