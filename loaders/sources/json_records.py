"""Splits a JSON array file into its records, keeping each record's line number and text.

The operator's JSON files are small (one record per asset or signal), but a rejected
record must be reported with the line it starts on, which `json.load` forgets.
"""

from __future__ import annotations

import bisect
import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ValidationError

from loaders.errors import UnreadableFileError, shown, shown_bytes
from loaders.sources.batch import REJECT_SCHEMA, ParsedBatch

_WHITESPACE = " \t\r\n"


@dataclass(frozen=True)
class JsonRecord:
    line_number: int
    text: str
    value: object


def read_json_records(path: Path) -> list[JsonRecord]:
    """Every element of the top-level array in `path`, in file order."""
    raw = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = raw.rfind(b"\n", 0, error.start) + 1
        column = len(raw[line_start : error.start].decode("utf-8", errors="replace")) + 1
        raise UnreadableFileError(path, expected="UTF-8 text",
                                  found=shown_bytes(raw[error.start : error.start + 4]),
                                  line=raw[: error.start].count(b"\n") + 1, column=column) from None
    return list(_iter_array(path, text))


def _iter_array(path: Path, text: str) -> Iterator[JsonRecord]:
    decoder = json.JSONDecoder()
    newlines = [match.start() for match in re.finditer("\n", text)]

    def _line_of(position: int) -> int:
        return bisect.bisect_left(newlines, position) + 1

    def _column_of(position: int) -> int:
        line_index = _line_of(position) - 1
        return position - (newlines[line_index - 1] + 1 if line_index else 0) + 1

    def unreadable(position: int, expected: str, found: str | None = None) -> UnreadableFileError:
        return UnreadableFileError(path, expected=expected, found=found or _found_at(text, position),
                                   line=_line_of(position), column=_column_of(position))

    position = _skip_whitespace(text, 0)
    if position >= len(text):
        raise UnreadableFileError(path, expected="a JSON array of records", found="an empty file",
                                  line=1)
    if text[position] != "[":
        raise unreadable(position, "a JSON array of records, starting with '['")
    position = _skip_whitespace(text, position + 1)
    expect_record = True
    while True:
        if position >= len(text):
            raise unreadable(position, "a record or ']'" if expect_record else "',' or ']'")
        if text[position] == "]":
            break
        if not expect_record:
            raise unreadable(position, "',' or ']' after a record")
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            expected, found = _expected_and_found(text, position, error)
            raise unreadable(error.pos, expected, found) from None
        yield JsonRecord(_line_of(position), text[position:end], value)
        position = _skip_whitespace(text, end)
        if position < len(text) and text[position] == ",":
            position = _skip_whitespace(text, position + 1)
            expect_record = True
        else:
            expect_record = False
    trailing = _skip_whitespace(text, position + 1)
    if trailing < len(text):
        raise unreadable(trailing, "nothing after the array's closing ']'")


# What Python's JSON decoder expected, by its message, in our words.
_JSON_EXPECTED = {
    "Expecting value": "a JSON value",
    "Expecting property name enclosed in double quotes": "a key in double quotes",
    "Expecting ':' delimiter": "':' after the key",
    "Invalid \\escape": "an escape \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX",
    "Invalid \\uXXXX escape": "four hex digits after \\u",
}


def _expected_and_found(text: str, start: int, error: json.JSONDecodeError) -> tuple[str, str]:
    """The decoder's complaint at `error.pos`, in a record that starts at `start`, as what was
    expected there and what was found."""
    if error.msg == "Expecting ',' delimiter":
        closing = "}" if _innermost_open_bracket(text, start, error.pos) == "{" else "]"
        return f"',' or '{closing}'", _found_at(text, error.pos)
    if error.msg == "Unterminated string starting at":
        # The position is the opening quote; the decoder ran to the end of the file.
        return "'\"' closing the string that starts here", "the end of the file"
    if error.msg == "Invalid control character at":
        if text[error.pos] in "\r\n":
            return "'\"' closing the string before the line ends", "the end of the line"
        return "a character allowed inside a JSON string", f"control character {text[error.pos]!r}"
    expected = _JSON_EXPECTED.get(error.msg, error.msg[:1].lower() + error.msg[1:])
    return expected, _found_at(text, error.pos)


def _innermost_open_bracket(text: str, start: int, end: int) -> str | None:
    """The '{' or '[' still open at `end` in the valid JSON from `start`, strings skipped."""
    open_brackets: list[str] = []
    position = start
    while position < end:
        char = text[position]
        if char == '"':
            position += 1
            while position < end and text[position] != '"':
                position += 2 if text[position] == "\\" else 1
        elif char in "{[":
            open_brackets.append(char)
        elif char in "}]" and open_brackets:
            open_brackets.pop()
        position += 1
    return open_brackets[-1] if open_brackets else None


def _found_at(text: str, position: int) -> str:
    """What the file holds from `position` to the end of that line, for a message."""
    if position >= len(text):
        return "the end of the file"
    line_end = text.find("\n", position)
    rest_of_line = text[position : line_end if line_end >= 0 else len(text)].rstrip("\r")
    return shown(rest_of_line) if rest_of_line else "the end of the line"


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
    for failure in error.errors():
        key = ".".join(str(part) for part in failure["loc"])
        if failure["type"] == "missing":
            problems.append(f"key {key!r} is missing")
        else:
            given = failure.get("input")
            shown_given = shown(given) if isinstance(given, str) else repr(given)
            problems.append(f"{key} {shown_given}: {failure['msg']}")
    return "; ".join(problems)
