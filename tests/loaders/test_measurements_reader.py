"""The measurements reader on small files written by hand in the operator's dialect."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from loaders.errors import UnreadableFileError
from loaders.sources.measurements import iter_measurement_batches

BOM = b"\xef\xbb\xbf"
HEADER = b"Ts|SignalId|MeasurementValue"


def write_dump(tmp_path: Path, *lines: str, bom: bool = True, newline: bytes = b"\n",
               final_newline: bool = True, name: str = "measurements_001.csv") -> Path:
    body = newline.join([HEADER, *(line.encode() for line in lines)])
    path = tmp_path / name
    path.write_bytes((BOM if bom else b"") + body + (newline if final_newline else b""))
    return path


def read_all(path: Path, batch_rows: int = 1_000) -> tuple[pl.DataFrame, pl.DataFrame]:
    batches = list(iter_measurement_batches(path, batch_rows))
    rows = pl.concat([batch.rows for batch in batches]) if batches else pl.DataFrame()
    rejects = pl.concat([batch.rejects for batch in batches]) if batches else pl.DataFrame()
    return rows, rejects


def test_decimal_comma_values_load_exactly(tmp_path: Path) -> None:
    path = write_dump(tmp_path, "2021-11-07 23:59:03.762|427038|116,129",
                      "2021-11-07 23:57:48.259|427038|115,36", "2021-11-19 00:14:40.456|430247|116",
                      "2021-11-19 00:14:41.000|430247|-0,5")
    rows, rejects = read_all(path)
    assert rows["measurement_value"].to_list() == [116.129, 115.36, 116.0, -0.5]
    assert rejects.height == 0


def test_timestamps_keep_their_fraction_whatever_its_length(tmp_path: Path) -> None:
    path = write_dump(tmp_path, "2021-11-07 23:59:03.762|1|1", "2021-11-07 23:59:03.5|1|1",
                      "2021-11-07 23:59:03|1|1", "2021-11-07 23:59:03.123456|1|1")
    rows, _ = read_all(path)
    assert rows["ts"].to_list() == [
        datetime(2021, 11, 7, 23, 59, 3, 762_000), datetime(2021, 11, 7, 23, 59, 3, 500_000),
        datetime(2021, 11, 7, 23, 59, 3), datetime(2021, 11, 7, 23, 59, 3, 123_456),
    ]


def test_line_numbers_count_the_header_as_line_one(tmp_path: Path) -> None:
    path = write_dump(tmp_path, "2021-11-07 23:59:03.762|427038|116,129", "2021-11-07 23:57:48.259|427038|115,9581")
    rows, _ = read_all(path)
    assert rows["line_number"].to_list() == [2, 3]


def test_line_numbers_run_on_across_batches(tmp_path: Path) -> None:
    lines = [f"2021-11-07 00:00:{second:02d}.000|1|{second}" for second in range(50)]
    rows, _ = read_all(write_dump(tmp_path, *lines), batch_rows=7)
    assert rows["line_number"].to_list() == list(range(2, 52))
    assert rows["measurement_value"].to_list() == [float(second) for second in range(50)]


def test_empty_value_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = write_dump(tmp_path, "2021-11-07 23:59:03.762|427038|116,1", "2021-11-07 23:59:04.000|427038|")
    rows, rejects = read_all(path)
    assert rows.height == 1
    assert rejects.to_dicts() == [{"line_number": 3, "raw_line": "2021-11-07 23:59:04.000|427038|",
                                   "reason": "MeasurementValue is empty"}]


@pytest.mark.parametrize("value", ["n/a", "#WERT!", "1,2,3", "116.129", "NaN", "inf", "-inf", "1e5", "1e999"])
def test_value_that_is_not_a_decimal_comma_number_is_rejected(tmp_path: Path, value: str) -> None:
    rows, rejects = read_all(write_dump(tmp_path, f"2021-11-07 23:59:03.762|427038|{value}"))
    assert rows.height == 0
    assert rejects["reason"].to_list() == [f"MeasurementValue '{value}' is not a decimal-comma number"]


@pytest.mark.parametrize("stamp", ["2021-13-45 25:61:00.000", "07.11.2021 23:59", "", "2021-11-07T23:59:03"])
def test_timestamp_that_does_not_parse_is_rejected(tmp_path: Path, stamp: str) -> None:
    rows, rejects = read_all(write_dump(tmp_path, f"{stamp}|427038|116,1"))
    assert rows.height == 0
    assert rejects["reason"].to_list() == [f"Ts '{stamp}' is not a timestamp YYYY-MM-DD HH:MM:SS.fff"]


def test_value_of_a_million_digits_is_rejected_as_not_finite(tmp_path: Path) -> None:
    # "1" and a million zeros: a valid decimal-comma number, but beyond any double (inf).
    line = "2021-11-07 23:59:03.762|427038|1" + "0" * 1_000_000
    rows, rejects = read_all(write_dump(tmp_path, "2021-11-07 23:59:02.000|427038|116,1", line))
    assert rows["measurement_value"].to_list() == [116.1]
    assert rejects.to_dicts() == [{
        "line_number": 3, "raw_line": line,
        "reason": "MeasurementValue '1000000000000000000000000000000000000000'... (1000001 characters) "
                  "is not a finite number"}]


@pytest.mark.parametrize("digits", [309, 400])
def test_negative_value_beyond_a_double_is_rejected_as_not_finite(tmp_path: Path, digits: int) -> None:
    value = "-" + "9" * digits + ",5"
    _, rejects = read_all(write_dump(tmp_path, f"2021-11-07 23:59:03.762|427038|{value}"))
    assert rejects["reason"].to_list() == [
        f"MeasurementValue '-999999999999999999999999999999999999999'... ({digits + 3} characters) "
        "is not a finite number"]


def test_largest_finite_value_still_loads(tmp_path: Path) -> None:
    # 1.7976931348623157e308, the largest double, written out in full: 309 digits.
    value = str(int(1.7976931348623157e308))
    rows, rejects = read_all(write_dump(tmp_path, f"2021-11-07 23:59:03.762|427038|{value}"))
    assert rows["measurement_value"].to_list() == [1.7976931348623157e308]
    assert rejects.height == 0


def test_signal_id_that_is_not_a_whole_number_is_rejected(tmp_path: Path) -> None:
    _, rejects = read_all(write_dump(tmp_path, "2021-11-07 23:59:03.762|42x|116,1"))
    assert rejects["reason"].to_list() == ["SignalId '42x' is not a whole number"]


def test_signal_id_beyond_64_bits_is_rejected_naming_the_limit(tmp_path: Path) -> None:
    _, rejects = read_all(write_dump(tmp_path, "2021-11-07 23:59:03.762|9223372036854775808|116,1"))
    assert rejects["reason"].to_list() == [
        "SignalId '9223372036854775808' is larger than the largest id the warehouse holds "
        "(9223372036854775807)"]


def test_unknown_signal_id_is_kept_by_the_reader(tmp_path: Path) -> None:
    rows, rejects = read_all(write_dump(tmp_path, "2021-11-07 23:59:03.762|999999|1,5"))
    assert rows["signal_id"].to_list() == [999999]
    assert rejects.height == 0


def test_exact_duplicates_and_conflicting_values_are_both_kept_for_staging(tmp_path: Path) -> None:
    path = write_dump(tmp_path, "2021-11-07 23:59:03.762|1|1,5", "2021-11-07 23:59:03.762|1|1,5",
                      "2021-11-07 23:59:03.762|1|2,5")
    rows, _ = read_all(path)
    assert rows["measurement_value"].to_list() == [1.5, 1.5, 2.5]


def test_truncated_last_line_is_rejected_and_the_rest_loads(tmp_path: Path) -> None:
    path = write_dump(tmp_path, "2021-11-07 23:59:03.762|427038|116,129", "2021-11-0", final_newline=False)
    rows, rejects = read_all(path)
    assert rows.height == 1
    assert rejects.to_dicts() == [{"line_number": 3, "raw_line": "2021-11-0",
                                   "reason": "expected 3 fields separated by '|', found 1"}]


def test_file_without_bom_reads_the_same(tmp_path: Path) -> None:
    rows, rejects = read_all(write_dump(tmp_path, "2021-11-07 23:59:03.762|427038|116,129", bom=False))
    assert rows["measurement_value"].to_list() == [116.129]
    assert rejects.height == 0


def test_crlf_line_ends_read_the_same(tmp_path: Path) -> None:
    path = write_dump(tmp_path, "2021-11-07 23:59:03.762|427038|116,129", "2021-11-07 23:59:04.000|427038|7",
                      newline=b"\r\n")
    rows, rejects = read_all(path)
    assert rows["measurement_value"].to_list() == [116.129, 7.0]
    assert rows["line_number"].to_list() == [2, 3]
    assert rejects.height == 0


def test_blank_line_is_rejected_and_keeps_later_line_numbers_right(tmp_path: Path) -> None:
    rows, rejects = read_all(write_dump(tmp_path, "2021-11-07 23:59:03.762|1|1", "", "2021-11-07 23:59:04.000|1|2"))
    assert rows["line_number"].to_list() == [2, 4]
    assert rejects.select("line_number", "reason").to_dicts() == [{"line_number": 3, "reason": "blank line"}]


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "measurements_001.csv"
    path.write_bytes(b"")
    assert list(iter_measurement_batches(path, 1_000)) == []


def test_header_only_file_yields_no_rows(tmp_path: Path) -> None:
    rows, rejects = read_all(write_dump(tmp_path))
    assert rows.height == 0 and rejects.height == 0


def test_wrong_header_fails_saying_what_was_expected_and_found(tmp_path: Path) -> None:
    path = tmp_path / "measurements_001.csv"
    path.write_bytes(BOM + b"Timestamp;Signal;Value\n2021-11-07 23:59:03.762;1;1\n")
    with pytest.raises(UnreadableFileError) as caught:
        list(iter_measurement_batches(path, 1_000))
    assert str(caught.value) == (f"measurements_001.csv, line 1: expected header {HEADER.decode()!r}, "
                                 "found 'Timestamp;Signal;Value'")


def test_wrong_header_of_a_file_without_line_ends_is_shown_cut(tmp_path: Path) -> None:
    path = tmp_path / "measurements_001.csv"
    path.write_bytes(b"x" * 10_000_000)
    with pytest.raises(UnreadableFileError) as caught:
        list(iter_measurement_batches(path, 1_000))
    assert str(caught.value) == (f"measurements_001.csv, line 1: expected header {HEADER.decode()!r}, "
                                 f"found {'x' * 40!r}... (4096 characters)")


def test_bytes_that_are_not_utf8_fail_naming_line_and_column(tmp_path: Path) -> None:
    path = write_dump(tmp_path, "2021-11-07 23:59:03.762|1|1", "2021-11-07 23:59:04.000|1|2")
    path.write_bytes(path.read_bytes() + "2021-11-07 23:59:05.000|1|ä".encode() + b"\xff\xfe\n")
    with pytest.raises(UnreadableFileError) as caught:
        list(iter_measurement_batches(path, 1_000))
    assert str(caught.value) == ("measurements_001.csv, line 4, column 28: expected UTF-8 text, "
                                 "found bytes ff fe 0a")


def test_header_that_is_not_utf8_fails_naming_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "measurements_001.csv"
    path.write_bytes(BOM + b"Ts|Signal\xe4d|MeasurementValue\n")
    with pytest.raises(UnreadableFileError) as caught:
        list(iter_measurement_batches(path, 1_000))
    assert str(caught.value) == ("measurements_001.csv, line 1, column 10: expected UTF-8 text, "
                                 "found bytes e4 64 7c 4d")
