"""The assets.json and signal.json readers: pydantic per record, rejects with their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.errors import UnreadableFileError
from loaders.sources.assets import read_assets
from loaders.sources.signals import read_signals

ASSETS = """[
  {"AssetID": "1", "Latitude": "47.5568277613", "Longitude": "8.2338560914", "descri": "UW Beznau"},
  {"AssetID": "2", "Latitude": "47.219215463",  "Longitude": "8.9728980141", "descri": "UW Grynau"}
]
"""

SIGNALS = """[
  {"SignalGId": "045ad75f-d8c7-4c92-b252-05f515e4006f", "SignalId": "427038",
   "SignalName": "BEZOBF110BIRMENU_L12", "AssetId": "1", "Unit": "kV"},
  {"SignalGId": "566a7ca6-d9d0-463d-829c-cd9a2d9e4f2f", "SignalId": "427712",
   "SignalName": "GRYAAT110TR_1++P", "AssetId": "2", "Unit": "kW"}
]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_assets_are_typed_from_their_string_values(tmp_path: Path) -> None:
    batch = read_assets(write(tmp_path, "assets.json", ASSETS))
    assert batch.rows.to_dicts() == [
        {"asset_id": 1, "latitude": 47.5568277613, "longitude": 8.2338560914, "descri": "UW Beznau", "line_number": 2},
        {"asset_id": 2, "latitude": 47.219215463, "longitude": 8.9728980141, "descri": "UW Grynau", "line_number": 3},
    ]
    assert batch.rejects.height == 0


def test_signals_keep_their_lower_case_asset_key_and_multi_line_records(tmp_path: Path) -> None:
    batch = read_signals(write(tmp_path, "signal.json", SIGNALS))
    assert batch.rows.to_dicts() == [
        {"signal_gid": "045ad75f-d8c7-4c92-b252-05f515e4006f", "signal_id": 427038,
         "signal_name": "BEZOBF110BIRMENU_L12", "asset_id": 1, "unit": "kV", "line_number": 2},
        {"signal_gid": "566a7ca6-d9d0-463d-829c-cd9a2d9e4f2f", "signal_id": 427712,
         "signal_name": "GRYAAT110TR_1++P", "asset_id": 2, "unit": "kW", "line_number": 4},
    ]


def test_asset_with_a_missing_key_is_rejected_naming_the_key(tmp_path: Path) -> None:
    text = ASSETS.replace('"Latitude": "47.219215463",  ', "")
    batch = read_assets(write(tmp_path, "assets.json", text))
    assert batch.rows["asset_id"].to_list() == [1]
    assert batch.rejects.select("line_number", "reason").to_dicts() == [
        {"line_number": 3, "reason": "key 'Latitude' is missing"}]
    assert batch.rejects["raw_line"][0].startswith('{"AssetID": "2"')


def test_asset_with_a_number_that_is_not_a_number_is_rejected_naming_value(tmp_path: Path) -> None:
    batch = read_assets(write(tmp_path, "assets.json", ASSETS.replace('"47.219215463"', '"n/a"')))
    assert batch.rejects["line_number"].to_list() == [3]
    assert batch.rejects["reason"][0].startswith("Latitude 'n/a': Input should be a valid number")


def test_signal_with_a_bad_uuid_is_rejected(tmp_path: Path) -> None:
    batch = read_signals(write(tmp_path, "signal.json", SIGNALS.replace("566a7ca6-d9d0", "not-a-uuid")))
    assert batch.rows["signal_id"].to_list() == [427038]
    assert batch.rejects["line_number"].to_list() == [4]
    assert batch.rejects["reason"][0].startswith("SignalGId 'not-a-uuid-463d")


def test_ids_beyond_64_bits_are_rejected_naming_the_limit(tmp_path: Path) -> None:
    too_large = ASSETS.replace('"AssetID": "2"', '"AssetID": "9223372036854775808"')
    assets = read_assets(write(tmp_path, "assets.json", too_large))
    signals = read_signals(write(tmp_path, "signal.json", SIGNALS.replace('"427712"', '"99999999999999999999"')))
    assert assets.rows["asset_id"].to_list() == [1]
    assert assets.rejects["reason"].to_list() == [
        "AssetID '9223372036854775808': Input should be less than or equal to 9223372036854775807"]
    assert signals.rows["signal_id"].to_list() == [427038]
    assert signals.rejects["reason"].to_list() == [
        "SignalId '99999999999999999999': Input should be less than or equal to 9223372036854775807"]


def test_number_beyond_a_double_is_rejected_and_shown_cut(tmp_path: Path) -> None:
    batch = read_assets(write(tmp_path, "assets.json", ASSETS.replace('"47.219215463"', f'"{"4" * 5000}"')))
    assert batch.rejects["reason"].to_list() == [
        f"Latitude '{'4' * 40}'... (5000 characters): Input should be a finite number"]


def test_record_that_is_not_an_object_is_rejected(tmp_path: Path) -> None:
    batch = read_assets(write(tmp_path, "assets.json", '[\n  "UW Beznau"\n]'))
    assert batch.rejects.select("line_number", "reason").to_dicts() == [
        {"line_number": 2, "reason": "record is a JSON str, expected an object"}]


def read_error(path: Path) -> str:
    with pytest.raises(UnreadableFileError) as caught:
        read_assets(path)
    return str(caught.value)


def test_record_without_its_closing_brace_fails_naming_line_column_expected_and_found(tmp_path: Path) -> None:
    text = ASSETS.replace('"descri": "UW Grynau"}', '"descri": "UW Grynau"')
    assert read_error(write(tmp_path, "assets.json", text)) == (
        "assets.json, line 4, column 1: expected ',' or '}', found ']'")


def test_string_cut_off_by_the_end_of_the_file_fails_at_its_opening_quote(tmp_path: Path) -> None:
    text = '[\n  {"AssetID": "1", "descri": "UW Bez'
    assert read_error(write(tmp_path, "assets.json", text)) == (
        "assets.json, line 2, column 30: expected '\"' closing the string that starts here, "
        "found the end of the file")


def test_string_running_into_a_line_end_fails_at_the_line_end(tmp_path: Path) -> None:
    text = ASSETS.replace('"UW Beznau"}', '"UW Beznau}')
    assert read_error(write(tmp_path, "assets.json", text)) == (
        "assets.json, line 2, column 100: expected '\"' closing the string before the line ends, "
        "found the end of the line")


def test_value_that_is_not_json_fails_showing_it(tmp_path: Path) -> None:
    text = ASSETS.replace('"AssetID": "2"', '"AssetID": two')
    assert read_error(write(tmp_path, "assets.json", text)) == (
        "assets.json, line 3, column 15: expected a JSON value, "
        "found 'two, \"Latitude\": \"47.219215463\",  \"Longi'... (85 characters)")


def test_records_without_a_comma_between_them_fail(tmp_path: Path) -> None:
    text = ASSETS.replace('"UW Beznau"},', '"UW Beznau"}')
    assert read_error(write(tmp_path, "assets.json", text)) == (
        "assets.json, line 3, column 3: expected ',' or ']' after a record, "
        "found '{\"AssetID\": \"2\", \"Latitude\": \"47.2192154'... (97 characters)")


def test_array_that_is_never_closed_fails_at_the_end_of_the_file(tmp_path: Path) -> None:
    text = ASSETS.removesuffix("]\n")
    assert read_error(write(tmp_path, "assets.json", text)) == (
        "assets.json, line 4, column 1: expected ',' or ']', found the end of the file")


def test_content_after_the_array_fails(tmp_path: Path) -> None:
    assert read_error(write(tmp_path, "assets.json", ASSETS + "[]\n")) == (
        "assets.json, line 5, column 1: expected nothing after the array's closing ']', found '[]'")


def test_json_that_is_not_an_array_fails(tmp_path: Path) -> None:
    assert read_error(write(tmp_path, "assets.json", '{"AssetID": "1"}')) == (
        "assets.json, line 1, column 1: expected a JSON array of records, starting with '[', "
        "found '{\"AssetID\": \"1\"}'")


def test_empty_json_file_fails(tmp_path: Path) -> None:
    assert read_error(write(tmp_path, "assets.json", "")) == (
        "assets.json, line 1: expected a JSON array of records, found an empty file")


def test_bytes_that_are_not_utf8_fail_naming_line_and_column_after_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "assets.json"
    # "Grünau" in Latin-1: the ü is the single byte fc.
    path.write_bytes(b"\xef\xbb\xbf" + ASSETS.replace("Grynau", "Grünau").encode("latin-1"))
    assert read_error(path) == (
        "assets.json, line 3, column 94: expected UTF-8 text, found bytes fc 6e 61 75")


def test_json_with_bom_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "assets.json"
    path.write_bytes(b"\xef\xbb\xbf" + ASSETS.encode())
    assert read_assets(path).rows.height == 2
