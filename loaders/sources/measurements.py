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
SEPARATOR = "|"
COLUMNS = ("Ts", "SignalId", "MeasurementValue")
HEADER = SEPARATOR.join(COLUMNS)
DECIMAL_SEPARATOR = ","
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S%.f"

SCHEMA = {"ts": pl.Datetime("us"), "signal_id": pl.Int64, "measurement_value": pl.Float64}

# A unit separator never occurs in the dumps: reading with it yields one column, the line.
_WHOLE_LINE = "\x1f"
_INTEGER = r"^[0-9]+$"
_DECIMAL_COMMA_NUMBER = r"^[+-]?(?:[0-9]+(?:,[0-9]*)?|,[0-9]+)$"
# Typical dump lines are 35-45 bytes; batches are cut by bytes, so their row count is approximate.
_BYTES_PER_LINE_ESTIMATE = 40


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
    """Yield the file's data lines as parsed batches of about `batch_rows` lines each.

    The file is read in byte chunks cut at line ends rather than memory-mapped, so the
    loader's resident memory stays flat however large the dump. Raises
    UnreadableFileError for a wrong header or bytes that are not UTF-8; the caller must
    then discard whatever batches it already received.
    """
    read_header(path)
    next_line = 2  # line 1 is the header
    for chunk in _line_chunks(path, max(batch_rows, 1) * _BYTES_PER_LINE_ESTIMATE):
        try:
            lines = pl.read_csv(
                chunk,
                has_header=False,
                separator=_WHOLE_LINE,
                quote_char=None,
                schema={"raw_line": pl.String},
                encoding="utf8",
            )
        except pl.exceptions.ComputeError as error:
            if "utf-8" not in str(error).lower() and "utf8" not in str(error).lower():
                raise UnreadableFileError(path, f"cannot be read as pipe-separated text ({error})",
                                          line=next_line) from None
            offset, value = _first_invalid_utf8(chunk)
            raise UnreadableFileError(path, "is not valid UTF-8", line=next_line + offset, value=value) from None
        numbered = lines.with_columns(
            line_number=pl.int_range(next_line, next_line + lines.height, dtype=pl.Int64)
        )
        next_line += lines.height
        yield parse_lines(numbered)


def _line_chunks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    """The data lines of `path` (header skipped) in chunks of whole lines."""
    with path.open("rb") as handle:
        handle.readline()
        carry = b""
        while block := handle.read(chunk_bytes):
            block = carry + block
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                carry = block
                continue
            carry = block[cut:]
            yield block[:cut]
        if carry:
            yield carry


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
        .then(pl.col("_value_text").str.replace(DECIMAL_SEPARATOR, ".", literal=True)
              .cast(pl.Float64, strict=False)),
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


def _first_invalid_utf8(chunk: bytes) -> tuple[int, str]:
    """Line offset within `chunk` and bytes of its first sequence that is not UTF-8."""
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as error:
        return chunk[: error.start].count(b"\n"), chunk[error.start : error.start + 8].hex(" ")
    return 0, ""
