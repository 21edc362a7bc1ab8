"""Splits a JSON array file into its records, keeping each record's line number and text.

The operator's JSON files are small (one record per asset or signal), but a rejected
record must be reported with the line it starts on, which `json.load` forgets.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ValidationError

from loaders.errors import UnreadableFileError
from loaders.sources.batch import REJECT_SCHEMA, ParsedBatch

_WHITESPACE = " \t\r\n"


@dataclass(frozen=True)
class JsonRecord:
    line_number: int
    text: str
    value: object


def read_json_records(path: Path) -> list[JsonRecord]:
    """Every element of the top-level array in `path`, in file order."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise UnreadableFileError(path, "is not valid UTF-8", line=line,
                                  value=raw[error.start : error.start + 8].hex(" ")) from None
    return list(_iter_array(path, text))


def _iter_array(path: Path, text: str) -> Iterator[JsonRecord]:
    decoder = json.JSONDecoder()
    newlines = [match.start() for match in re.finditer("\n", text)]

    def _line_of(position: int) -> int:
        return bisect.bisect_left(newlines, position) + 1

    position = _skip_whitespace(text, 0)
    if position >= len(text):
        raise UnreadableFileError(path, "is empty; expected a JSON array of records", line=1)
    if text[position] != "[":
        raise UnreadableFileError(path, "does not start with a JSON array '['",
                                  line=_line_of(position), value=text[position : position + 20])
    position = _skip_whitespace(text, position + 1)
    expect_record = True
    while True:
        if position >= len(text):
            raise UnreadableFileError(path, "ends before the JSON array is closed", line=_line_of(position))
        if text[position] == "]" :
            break
        if not expect_record:
            raise UnreadableFileError(path, "expected ',' or ']' between records",
                                      line=_line_of(position), value=text[position : position + 20])
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise UnreadableFileError(path, f"is not valid JSON ({error.msg}, column {error.colno})",
                                      line=error.lineno) from None
        yield JsonRecord(_line_of(position), text[position:end], value)
        position = _skip_whitespace(text, end)
        if position < len(text) and text[position] == ",":
            position = _skip_whitespace(text, position + 1)
            expect_record = True
        else:
            expect_record = False
    trailing = _skip_whitespace(text, position + 1)
    if trailing < len(text):
        raise UnreadableFileError(path, "has content after the closing ']'",
                                  line=_line_of(trailing), value=text[trailing : trailing + 20])


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def validate_records(path: Path, model: type[BaseModel], schema: dict[str, pl.DataType]) -> ParsedBatch:
    """Validate every record of a JSON array file against `model`.

    Valid records become typed rows (columns of `schema` plus `line_number`); every
    invalid one becomes a reject naming the key, the value and what was expected.
    """
    rows: list[dict[str, object]] = []
    rejects: list[dict[str, object]] = []
    for record in read_json_records(path):
        if not isinstance(record.value, dict):
            rejects.append({"line_number": record.line_number, "raw_line": record.text,
                            "reason": f"record is a JSON {type(record.value).__name__}, expected an object"})
            continue
        try:
            typed = model.model_validate(record.value)
        except ValidationError as error:
            rejects.append({"line_number": record.line_number, "raw_line": record.text,
                            "reason": _describe(error)})
            continue
        rows.append({**typed.model_dump(), "line_number": record.line_number})
    return ParsedBatch(
        rows=pl.DataFrame(rows, schema={**schema, "line_number": pl.Int64}, orient="row"),
        rejects=pl.DataFrame(rejects, schema=REJECT_SCHEMA, orient="row"),
    )


def _describe(error: ValidationError) -> str:
    problems = []
    for issue in error.errors():
        key = ".".join(str(part) for part in issue["loc"])
        if issue["type"] == "missing":
            problems.append(f"key {key!r} is missing")
        else:
            problems.append(f"{key} {issue.get('input')!r}: {issue['msg']}")
    return "; ".join(problems)
