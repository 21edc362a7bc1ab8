"""docs/source-format.md quotes the readers: every reason and error it shows is what the
readers produce for the input it describes."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from kernel.paths import PROJECT_ROOT
from loaders.errors import UnreadableFileError
from loaders.sources.assets import read_assets
from loaders.sources.measurements import iter_measurement_batches
from loaders.sources.signals import read_signals

# In the page's tables a '|' inside code is written '\|'.
DOC = (PROJECT_ROOT / "docs" / "source-format.md").read_text(encoding="utf-8").replace("\\|", "|")

BOM = "\ufeff"
HEADER = "Ts|SignalId|MeasurementValue"
ASSET = {"AssetID": "1", "Latitude": "47.5526461669", "Longitude": "8.2273818998",
         "descri": "UW Beznau"}
SIGNAL = {"SignalGId": "1c315060-ca17-4f75-826a-416e76cddc1f", "SignalId": "432284",
          "SignalName": "BEZOBF110AIROLOU_L12", "AssetId": "1", "Unit": "kV"}
ASSETS_TEXT = """[
  {"AssetID": "1", "Latitude": "47.5568277613", "Longitude": "8.2338560914", "descri": "UW Beznau"},
  {"AssetID": "2", "Latitude": "47.219215463",  "Longitude": "8.9728980141", "descri": "UW Grynau"}
]
"""


@pytest.mark.parametrize(("line", "reason"), [
    ("   ", "blank line"),
    ("2021-11-0", "expected 3 fields separated by '|', found 1"),
    ("17.12.2021 07:26|432284|1",
     "Ts '17.12.2021 07:26' is not a timestamp YYYY-MM-DD HH:MM:SS.fff"),
    ("2021-11-07 23:59:03.762|9223372036854775808|1",
     "SignalId '9223372036854775808' is larger than the largest id the warehouse holds "
     "(9223372036854775807)"),
    ("2021-11-07 23:59:03.762|42x|1", "SignalId '42x' is not a whole number"),
    ("2021-11-07 23:59:03.762|432284|", "MeasurementValue is empty"),
    ("2021-11-07 23:59:03.762|432284|n/a", "MeasurementValue 'n/a' is not a decimal-comma number"),
    ("2021-11-07 23:59:03.762|432284|1" + "0" * 1_000_000,
     "MeasurementValue '1000000000000000000000000000000000000000'... (1000001 characters) "
     "is not a finite number"),
])
def test_line_reasons_on_the_page_are_the_readers(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "measurements_001.csv"
    path.write_text(f"{BOM}{HEADER}\n{line}\n", encoding="utf-8")
    rejects = pl.concat(batch.rejects for batch in iter_measurement_batches(path, 1_000))
    assert rejects["reason"].to_list() == [reason]
    assert reason in DOC


@pytest.mark.parametrize(("body", "error"), [
    (b"Timestamp;Signal;Value\n",
     "measurements_002.csv, line 1: expected header 'Ts|SignalId|MeasurementValue', "
     "found 'Timestamp;Signal;Value'"),
    (f"{HEADER}\n".encode() + b"2021-11-20 10:00:00.000|1|1\n" * 2400
     + b"2021-11-21 00:00:00.000|1|\xff\n",
     "measurements_002.csv, line 2402, column 27: expected UTF-8 text, found bytes ff 0a"),
])
def test_csv_file_errors_on_the_page_are_the_readers(tmp_path: Path, body: bytes,
                                                      error: str) -> None:
    path = tmp_path / "measurements_002.csv"
    path.write_bytes(body)
    with pytest.raises(UnreadableFileError) as caught:
        list(iter_measurement_batches(path, 1_000))
    assert str(caught.value) == error
    assert error in DOC


@pytest.mark.parametrize(("record", "reason"), [
    ({k: v for k, v in SIGNAL.items() if k != "Unit"}, "key 'Unit' is missing"),
    ({**ASSET, "Latitude": "n/a"},
     "Latitude 'n/a': Input should be a valid number, unable to parse string as a number"),
    ({**ASSET, "Latitude": "147.5"}, "Latitude '147.5': Input should be less than or equal to 90"),
    ({**ASSET, "Latitude": "NaN"}, "Latitude 'NaN': Input should be a finite number"),
    ({**SIGNAL, "SignalId": "99999999999999999999"},
     "SignalId '99999999999999999999': Input should be less than or equal to 9223372036854775807"),
    ({**SIGNAL, "AssetId": "x"},
     "AssetId 'x': Input should be a valid integer, unable to parse string as an integer"),
    ({**SIGNAL, "SignalGId": "not-a-uuid"},
     "SignalGId 'not-a-uuid': Input should be a valid UUID, invalid character: found `n` at 0"),
    ({**SIGNAL, "SignalName": "  "}, "SignalName '  ': String should have at least 1 character"),
    ("UW Beznau", "record is a JSON str, expected an object"),
])
def test_record_reasons_on_the_page_are_the_readers(tmp_path: Path, record: object,
                                                     reason: str) -> None:
    is_signal = isinstance(record, dict) and "SignalId" in record
    path = tmp_path / ("signal.json" if is_signal else "assets.json")
    path.write_text(json.dumps([record]), encoding="utf-8")
    batch = (read_signals if is_signal else read_assets)(path)
    assert batch.rejects["reason"].to_list() == [reason]
    assert reason in DOC


def cut_inside_a_signal_name() -> str:
    text = '[\n  {"SignalGId": "045ad75f-d8c7-4c92-b252-05f515e4006f", "SignalId": "427038", ' \
           '"SignalName": "BEZOBF110BIRMENU_L12", "AssetId": "1", "Unit": "kV"}\n]\n'
    return text[: text.index("BEZOBF") + 6]


@pytest.mark.parametrize(("name", "text", "error"), [
    ("assets.json", " \n",
     "assets.json, line 1: expected a JSON array of records, found an empty file"),
    ("assets.json", '{"AssetID": "1"}',
     "assets.json, line 1, column 1: expected a JSON array of records, starting with '[', "
     "found '{\"AssetID\": \"1\"}'"),
    ("signal.json", cut_inside_a_signal_name(),
     "signal.json, line 2, column 93: expected '\"' closing the string that starts here, "
     "found the end of the file"),
    ("assets.json", ASSETS_TEXT.replace('"UW Beznau"}', '"UW Beznau}'),
     "assets.json, line 2, column 100: expected '\"' closing the string before the line ends, "
     "found the end of the line"),
    ("assets.json", ASSETS_TEXT.replace('"UW Grynau"}', '"UW Grynau"'),
     "assets.json, line 4, column 1: expected ',' or '}', found ']'"),
    ("assets.json", ASSETS_TEXT.replace('"UW Beznau"},', '"UW Beznau"}'),
     "assets.json, line 3, column 3: expected ',' or ']' after a record, "
     "found '{\"AssetID\": \"2\", \"Latitude\": \"47.2192154'... (97 characters)"),
    ("assets.json", '[\n  {"AssetID": nope}\n]\n',
     "assets.json, line 2, column 15: expected a JSON value, found 'nope}'"),
    ("assets.json", ASSETS_TEXT.removesuffix("]\n"),
     "assets.json, line 4, column 1: expected ',' or ']', found the end of the file"),
    ("assets.json", ASSETS_TEXT + "[]\n",
     "assets.json, line 5, column 1: expected nothing after the array's closing ']', found '[]'"),
])
def test_json_file_errors_on_the_page_are_the_readers(tmp_path: Path, name: str, text: str,
                                                       error: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UnreadableFileError) as caught:
        (read_signals if name == "signal.json" else read_assets)(path)
    assert str(caught.value) == error
    assert error in DOC


def test_json_encoding_error_on_the_page_is_the_readers(tmp_path: Path) -> None:
    path = tmp_path / "assets.json"
    path.write_bytes(b"\xef\xbb\xbf" + ASSETS_TEXT.replace("Grynau", "Grünau").encode("latin-1"))
    error = "assets.json, line 3, column 94: expected UTF-8 text, found bytes fc 6e 61 75"
    with pytest.raises(UnreadableFileError) as caught:
        read_assets(path)
    assert str(caught.value) == error
    assert error in DOC
