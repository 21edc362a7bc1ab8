"""Reader for `measurements*.csv`: streams a dump in batches of typed rows and rejects.

The dialect (BOM, `|`, decimal comma, `YYYY-MM-DD HH:MM:SS.fff`) is described in
SOURCE_FORMAT.md. Each line is read whole as text and split and cast here, vectorised,
so that a bad value rejects only its own line (a strict CSV schema would fail the whole
read) and the reject keeps the line exactly as the file held it, with its line number.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from loaders.errors import UnreadableFileError
from loaders.sources.batch import ParsedBatch

FILE_GLOB = "measurements*.csv"
HEADER = "Ts|SignalId|MeasurementValue"
SEPARATOR = "|"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S%.f"

SCHEMA = {"ts": pl.Datetime("us"), "signal_id": pl.Int64, "measurement_value": pl.Float64}

# A unit separator never occurs in the dumps: reading with it yields one column, the line.
_WHOLE_LINE = "\x1f"
_INTEGER = r"^[0-9]+$"
_DECIMAL_COMMA_NUMBER = r"^[+-]?(?:[0-9]+(?:,[0-9]*)?|,[0-9]+)$"


def read_header(path: Path) -> None:
    """Fail unless the file is empty or starts with the expected header line."""
    with path.open("rb") as handle:
        first = handle.readline()
    if not first:
        return
    try:
        header = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise UnreadableFileError(path, "is not valid UTF-8", line=1, value=first[:40].hex(" ")) from None
    if header.strip() != HEADER:
        raise UnreadableFileError(path, f"has the wrong header; expected {HEADER!r}", line=1, value=header[:80])


def iter_measurement_batches(path: Path, batch_rows: int) -> Iterator[ParsedBatch]:
    """Yield the file's data lines as parsed batches of at most about `batch_rows` lines.

    Raises UnreadableFileError for a wrong header or bytes that are not UTF-8; the
    caller must then discard whatever batches it already received.
    """
    read_header(path)
    if path.stat().st_size == 0:
        return
    lines = (
        pl.scan_csv(
            path,
            has_header=False,
            separator=_WHOLE_LINE,
            quote_char=None,
            schema={"raw_line": pl.String},
            encoding="utf8",
        )
        .with_row_index("line_number", offset=1)
        .filter(pl.col("line_number") > 1)
        .with_columns(pl.col("line_number").cast(pl.Int64))
    )
    try:
        for chunk in lines.collect_batches(chunk_size=batch_rows):
            yield parse_lines(chunk)
    except pl.exceptions.ComputeError as error:
        if "utf-8" in str(error).lower() or "utf8" in str(error).lower():
            line, value = _first_invalid_utf8(path)
            raise UnreadableFileError(path, "is not valid UTF-8", line=line, value=value) from None
        raise UnreadableFileError(path, f"cannot be read as pipe-separated text ({error})") from None


def parse_lines(lines: pl.DataFrame) -> ParsedBatch:
    """Split and type `raw_line` (with its `line_number`) into rows and rejects."""
    fields = pl.col("raw_line").str.split(SEPARATOR)
    ts_text = pl.col("_fields").list.get(0, null_on_oob=True).str.strip_chars()
    id_text = pl.col("_fields").list.get(1, null_on_oob=True).str.strip_chars()
    value_text = pl.col("_fields").list.get(2, null_on_oob=True).str.strip_chars()
    parsed = lines.with_columns(_fields=fields).with_columns(
        _field_count=pl.col("_fields").list.len(),
        _ts_text=ts_text,
        _id_text=id_text,
        _value_text=value_text,
    ).with_columns(
        ts=pl.col("_ts_text").str.to_datetime(TIMESTAMP_FORMAT, strict=False, time_unit="us"),
        signal_id=pl.when(pl.col("_id_text").str.contains(_INTEGER))
        .then(pl.col("_id_text").cast(pl.Int64, strict=False)),
        measurement_value=pl.when(pl.col("_value_text").str.contains(_DECIMAL_COMMA_NUMBER))
        .then(pl.col("_value_text").str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)),
    )
    reason = (
        pl.when(pl.col("raw_line").is_null() | (pl.col("raw_line").str.strip_chars() == ""))
        .then(pl.lit("blank line"))
        .when(pl.col("_field_count") != 3)
        .then(pl.format("expected 3 fields separated by '|', found {}", pl.col("_field_count")))
        .when(pl.col("ts").is_null())
        .then(pl.format("Ts '{}' is not a timestamp YYYY-MM-DD HH:MM:SS.fff", pl.col("_ts_text")))
        .when(pl.col("signal_id").is_null())
        .then(pl.format("SignalId '{}' is not a whole number", pl.col("_id_text")))
        .when(pl.col("_value_text") == "")
        .then(pl.lit("MeasurementValue is empty"))
        .when(pl.col("measurement_value").is_null())
        .then(pl.format("MeasurementValue '{}' is not a decimal-comma number", pl.col("_value_text")))
    )
    checked = parsed.with_columns(reason=reason)
    good = checked.filter(pl.col("reason").is_null())
    return ParsedBatch(
        rows=good.select(*SCHEMA, "line_number"),
        rejects=checked.filter(pl.col("reason").is_not_null()).select("line_number", "raw_line", "reason"),
    )


def _first_invalid_utf8(path: Path) -> tuple[int, str]:
    """Line number and bytes of the first sequence in `path` that is not UTF-8."""
    line = 1
    carry = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            data = carry + chunk
            try:
                data.decode("utf-8")
                carry = b""
            except UnicodeDecodeError as error:
                # A multi-byte character cut by the chunk boundary is not an error yet.
                if error.reason == "unexpected end of data" and len(data) - error.start < 4:
                    line += data[: error.start].count(b"\n")
                    carry = data[error.start :]
                    continue
                return line + data[: error.start].count(b"\n"), data[error.start : error.start + 8].hex(" ")
            line += data.count(b"\n")
    return line, carry.hex(" ")
