"""Reader for `measurements*.csv`: streams a dump in batches of typed rows and rejects.

The dialect (BOM, `|`, decimal comma, `YYYY-MM-DD HH:MM:SS.fff`) is described in
docs/source-format.md. Each line is read whole as text and split and cast here, vectorised,
so that a bad value rejects only its own line (a strict CSV schema would fail the whole
read) and the reject keeps the line exactly as the file held it, with its line number.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from loaders.errors import SHOWN_CHARACTERS, UnreadableFileError, shown, shown_bytes
from loaders.sources.batch import LARGEST_ID, ParsedBatch

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
_HEADER_BYTES = 4096


def read_header(path: Path) -> None:
    """Fail unless the file is empty or starts with the expected header line."""
    with path.open("rb") as handle:
        # Enough of the first line to show it; a file without line ends is not read whole.
        line = handle.readline(_HEADER_BYTES)
    if not line:
        return
    first = line.removeprefix(codecs.BOM_UTF8)
    try:
        header = first.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        cut_at_the_limit = (len(line) == _HEADER_BYTES and not line.endswith(b"\n")
                            and error.reason == "unexpected end of data")
        if not cut_at_the_limit:
            raise UnreadableFileError(path, expected="UTF-8 text",
                                      found=shown_bytes(first[error.start : error.start + 4]),
                                      line=1, column=_column_of_byte(first, error.start)) from None
        header = first[: error.start].decode("utf-8")
    if header.strip() != HEADER:
        raise UnreadableFileError(path, expected=f"header {HEADER!r}", found=shown(header), line=1)


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
                raise UnreadableFileError(path, expected="lines of text Polars can read",
                                          found=str(error), line=next_line) from None
            offset, column, value = _first_invalid_utf8(chunk)
            raise UnreadableFileError(path, expected="UTF-8 text", found=shown_bytes(value),
                                      line=next_line + offset, column=column) from None
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
        .then(pl.format("Ts {} is not a timestamp YYYY-MM-DD HH:MM:SS.fff", _shown("_ts_text")))
        .when(pl.col("signal_id").is_null() & pl.col("_id_text").str.contains(_INTEGER))
        .then(pl.format("SignalId {} is larger than the largest id the warehouse holds ({})",
                        _shown("_id_text"), pl.lit(LARGEST_ID)))
        .when(pl.col("signal_id").is_null())
        .then(pl.format("SignalId {} is not a whole number", _shown("_id_text")))
        .when(pl.col("_value_text") == "")
        .then(pl.lit("MeasurementValue is empty"))
        .when(pl.col("measurement_value").is_null())
        .then(pl.format("MeasurementValue {} is not a decimal-comma number", _shown("_value_text")))
        # Digits beyond a double's range (about 1.8e308) cast to infinity: no reading is that.
        .when(pl.col("measurement_value").is_infinite())
        .then(pl.format("MeasurementValue {} is not a finite number", _shown("_value_text")))
    )
    typed = (
        (pl.col("_field_count") == 3) & pl.col("ts").is_not_null() & pl.col("signal_id").is_not_null()
        & pl.col("measurement_value").is_finite()
    ).fill_null(False)
    checked = parsed.with_columns(_typed=typed)
    # Reasons are worded for the rejected lines only: the good ones cost no formatting.
    return ParsedBatch(
        rows=checked.filter(pl.col("_typed")).select(*SCHEMA, "line_number"),
        rejects=checked.filter(~pl.col("_typed")).select("line_number", "raw_line", reason=reason),
    )


def _shown(column: str) -> pl.Expr:
    """The text of `column` quoted for a reason, cut like `loaders.errors.shown` cuts it."""
    text = pl.col(column)
    return (
        pl.when(text.str.len_chars() <= SHOWN_CHARACTERS)
        .then(pl.format("'{}'", text))
        .otherwise(pl.format("'{}'... ({} characters)",
                             text.str.slice(0, SHOWN_CHARACTERS), text.str.len_chars()))
    )


def _first_invalid_utf8(chunk: bytes) -> tuple[int, int, bytes]:
    """Line offset within `chunk`, column and bytes of its first sequence that is not UTF-8."""
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as error:
        return (chunk[: error.start].count(b"\n"), _column_of_byte(chunk, error.start),
                chunk[error.start : error.start + 4])
    return 0, 1, b""


def _column_of_byte(data: bytes, position: int) -> int:
    """1-based column, in characters, of the byte at `position` within its line."""
    line_start = data.rfind(b"\n", 0, position) + 1
    return len(data[line_start:position].decode("utf-8", errors="replace")) + 1
