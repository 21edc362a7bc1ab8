"""The time-weighted marts (measurements_15min, the time-weighted columns of
measurements_hourly, signal_daily) equal an independent recomputation in Polars
(time_weighted_expectations.py) to 1e-9, on the sample data and on hand-made cases, on
both warehouses; and the hand-made cases hold the figures worked out by hand.

Hand-made cases (UTC, 2022-01-20 and 21; the end of the data is 2022-01-21 12:00, signal
4's last reading; hold limit 6 h):
  1 (kW)    one reading per hour, at half past, 10, 20, ... 60 kW from 00:30 to 05:30
  2 (MW)    readings exactly on a 15-minute edge (10:15) and on midnight
  3 (MVAr)  a gap longer than the hold limit: -3 at 01:10, then 2 at 09:00
  4 (kV)    the last reading of the data, 12:00 on the 21st, ten minutes after the one before
  5 (A)     a signal whose only reading is in the bucket: 42 A at 11:20 on the 21st
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import polars as pl
import pytest
from dbt_harness import SAMPLE_DATA, BuiltWarehouse, DbtWarehouse, new_warehouse
from hand_made_dumps import ASSETS, local_time, write_dump, write_signals
from sample_expectations import Expected

import time_weighted_expectations as recompute
from kernel.paths import PROJECT_ROOT
from kernel.reader_snapshot import publish_reader_snapshot

UNITS = {1: "kW", 2: "MW", 3: "MVAr", 4: "kV", 5: "A"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


READINGS: list[tuple[int, datetime, float]] = [
    *[(1, at(f"2022-01-20 0{hour}:30"), 10.0 * (hour + 1)) for hour in range(6)],
    (2, at("2022-01-20 10:07"), 5.0),
    (2, at("2022-01-20 10:15"), 7.0),
    (2, at("2022-01-20 10:40"), 6.0),
    (2, at("2022-01-20 20:00"), 6.5),
    (2, at("2022-01-21 00:00"), 8.0),
    (2, at("2022-01-21 01:00"), 9.0),
    (3, at("2022-01-20 01:10"), -3.0),
    (3, at("2022-01-20 09:00"), 2.0),
    (4, at("2022-01-21 11:50"), 111.0),
    (4, at("2022-01-21 12:00"), 110.0),
    (5, at("2022-01-21 11:20"), 42.0),
]
HAND_MADE = pl.DataFrame(READINGS, schema={"signal_id": pl.Int64, "measured_at": pl.Datetime("us"),
                                          "value": pl.Float64}, orient="row")
WITHOUT_UNIT_TESTS = ("--exclude-resource-type", "unit_test")


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def hand_made(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtWarehouse]:
    """The hand-made cases loaded and built, data tests included, on each target."""
    workdir = tmp_path_factory.mktemp(f"time-weighted-{request.param}")
    with new_warehouse(request, workdir, request.param) as warehouse:
        (warehouse.data_dir / "assets.json").write_text(ASSETS)
        write_signals(warehouse, *UNITS.items())
        write_dump(warehouse, "measurements_001.csv",
                   [(signal, local_time(utc), value) for signal, utc, value in READINGS])
        warehouse.load()
        warehouse.dbt("build", *WITHOUT_UNIT_TESTS)
        yield warehouse


def frame(warehouse: DbtWarehouse, table: str, columns: list[str]) -> pl.DataFrame:
    rows = warehouse.rows(f"select {', '.join(columns)} from analytics.{table}")
    return pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)


def fifteen_minutes(warehouse: DbtWarehouse) -> pl.DataFrame:
    return frame(warehouse, "measurements_15min", [
        "signal_id", "interval_start_utc", "readings", "covered_seconds", "avg_time_weighted", "min", "max",
        "value_at_start", "energy_kwh", "reactive_energy_kvarh", "integral"])


def hourly(warehouse: DbtWarehouse) -> pl.DataFrame:
    return frame(warehouse, "measurements_hourly", ["signal_id", "hour_utc", "n", "covered_seconds", "avg_time_weighted"])


def daily(warehouse: DbtWarehouse) -> pl.DataFrame:
    return frame(warehouse, "signal_daily", [
        "signal_id", "day_utc", "readings", "covered_seconds", "coverage_share", "avg_time_weighted", "min", "max",
        "energy_kwh", "reactive_energy_kvarh"])


def assert_equal_to_the_recomputation(warehouse: DbtWarehouse, measurements: pl.DataFrame,
                                      units: dict[int, str]) -> None:
    for actual, wanted, keys in (
        (fifteen_minutes(warehouse), recompute.fifteen_minutes(measurements, units),
         ["signal_id", "interval_start_utc"]),
        (hourly(warehouse), recompute.hourly(measurements), ["signal_id", "hour_utc"]),
        (daily(warehouse), recompute.daily(measurements, units), ["signal_id", "day_utc"]),
    ):
        assert actual.height == wanted.height
        different = recompute.differences(actual, wanted, keys, tolerance=1e-9)
        assert different.height == 0, different.head(5)


# --- the sample data ------------------------------------------------------------------------

def sample_units() -> dict[int, str]:
    """Each signal's unit, read from signal.json itself."""
    catalogue = recompute.signal_catalogue(SAMPLE_DATA / "signal.json")
    return dict(zip(catalogue["signal_id"], catalogue["unit"], strict=True))


def test_the_sample_marts_equal_the_polars_recomputation(
    sample_warehouse: BuiltWarehouse, expected: Expected
) -> None:
    assert_equal_to_the_recomputation(sample_warehouse.warehouse, expected.measurements, sample_units())


def test_the_sample_build_ran_the_time_weighted_checks(sample_warehouse: BuiltWarehouse) -> None:
    for name in ("time_weighted_agrees_with_intervals_measurements_hourly_hour__ref_measurements_15min___hour_utc",
                 "time_weighted_agrees_with_intervals_signal_daily_day__ref_measurements_15min___day_utc",
                 "unique_combination_of_columns_measurements_15min_signal_id__interval_start_utc",
                 "value_between_measurements_15min_covered_seconds__900__0"):
        assert sample_warehouse.build.result(name)["status"] == "pass"


def test_the_time_weighted_average_differs_from_the_mean_of_the_readings_on_the_sample(
    sample_warehouse: BuiltWarehouse,
) -> None:
    # Readings bunch up while the value moves: in most hours with several readings the two differ.
    differing, hours = sample_warehouse.warehouse.rows(
        "select sum(case when abs(avg_time_weighted - avg) > 1e-6 then 1 else 0 end), count(*) "
        "from analytics.measurements_hourly where n >= 3 and covered_seconds = 3600")[0]
    assert differing > 0.9 * hours


# --- hand-made cases ------------------------------------------------------------------------

def test_the_hand_made_marts_equal_the_polars_recomputation(hand_made: DbtWarehouse) -> None:
    assert_equal_to_the_recomputation(hand_made, HAND_MADE, UNITS)


def test_one_reading_per_hour_weighs_each_value_by_how_long_it_holds(hand_made: DbtWarehouse) -> None:
    # signal 1: each hour holds the previous value for its first half, its own for the second
    assert hand_made.rows(
        "select hour_utc, n, avg, covered_seconds, avg_time_weighted from analytics.measurements_hourly "
        "where signal_id = 1 order by hour_utc") == [
        (at("2022-01-20 00:00"), 1, 10.0, 1800.0, 10.0),
        (at("2022-01-20 01:00"), 1, 20.0, 3600.0, 15.0),
        (at("2022-01-20 02:00"), 1, 30.0, 3600.0, 25.0),
        (at("2022-01-20 03:00"), 1, 40.0, 3600.0, 35.0),
        (at("2022-01-20 04:00"), 1, 50.0, 3600.0, 45.0),
        (at("2022-01-20 05:00"), 1, 60.0, 3600.0, 55.0),
    ]
    # 60 kW holds for the 6 h limit, to 11:30: 23 intervals after its own, without a reading
    carried = hand_made.rows(
        "select count(*), sum(covered_seconds), min(value_at_start), max(value_at_start), sum(energy_kwh) "
        "from analytics.measurements_15min where signal_id = 1 and readings = 0 "
        "and interval_start_utc >= timestamp '2022-01-20 05:45'")
    assert carried == [(23, 23 * 900.0, 60.0, 60.0, pytest.approx(60 * 23 / 4, rel=1e-12))]
    # the day: covered from 00:30 to 11:30 of a window from 00:30 to midnight;
    # (10 + 20 + 30 + 40 + 50) kW x 1 h + 60 kW x 6 h = 510 kWh
    assert hand_made.rows(
        "select readings, covered_seconds, coverage_share, avg_time_weighted, energy_kwh "
        "from analytics.signal_daily where signal_id = 1 and day_utc = date '2022-01-20'") == [
        (6, 39600.0, pytest.approx(39600 / 84600, rel=1e-12), pytest.approx(510 / 11, rel=1e-12),
         pytest.approx(510.0, rel=1e-12))]


def test_a_reading_exactly_on_an_edge_starts_the_bucket_it_falls_on(hand_made: DbtWarehouse) -> None:
    # signal 2: 5 MW at 10:07 holds until 10:15 exactly, where 7 MW is read
    assert hand_made.rows(
        "select interval_start_utc, readings, covered_seconds, avg_time_weighted, min, max, value_at_start, "
        "energy_kwh from analytics.measurements_15min where signal_id = 2 "
        "and interval_start_utc between timestamp '2022-01-20 10:00' and timestamp '2022-01-20 10:30' "
        "order by 1") == [
        (at("2022-01-20 10:00"), 1, 480.0, 5.0, 5.0, 5.0, None, pytest.approx(5 * 480 / 3.6, rel=1e-12)),
        (at("2022-01-20 10:15"), 1, 900.0, 7.0, 7.0, 7.0, 7.0, pytest.approx(7 * 900 / 3.6, rel=1e-12)),
        (at("2022-01-20 10:30"), 1, 900.0, pytest.approx(20 / 3, rel=1e-12), 6.0, 7.0, 7.0,
         pytest.approx((7 * 600 + 6 * 300) / 3.6, rel=1e-12)),
    ]
    # 6.5 MW from 20:00 holds until midnight exactly, where 8 MW is read: it holds in
    # the last interval of the 20th and in none of the 21st
    assert hand_made.rows(
        "select day_utc, min, max, covered_seconds from analytics.signal_daily where signal_id = 2 order by 1") == [
        (date(2022, 1, 20), 5.0, 7.0, (6 * 3600 + 33 * 60) + 4 * 3600.0),
        (date(2022, 1, 21), 8.0, 9.0, 7 * 3600.0),
    ]
    assert hand_made.rows(
        "select interval_start_utc, readings, value_at_start, min, max from analytics.measurements_15min "
        "where signal_id = 2 and interval_start_utc in (timestamp '2022-01-20 23:45', timestamp '2022-01-21 00:00') "
        "order by 1") == [(at("2022-01-20 23:45"), 0, 6.5, 6.5, 6.5), (at("2022-01-21 00:00"), 1, 8.0, 8.0, 8.0)]


def test_a_gap_longer_than_the_hold_limit_is_left_uncovered(hand_made: DbtWarehouse) -> None:
    # signal 3: -3 MVAr from 01:10 holds for the 6 h limit, until 07:10; 2 MVAr is read at 09:00
    assert hand_made.rows(
        "select interval_start_utc, readings, covered_seconds, avg_time_weighted, reactive_energy_kvarh "
        "from analytics.measurements_15min where signal_id = 3 "
        "and interval_start_utc between timestamp '2022-01-20 06:45' and timestamp '2022-01-20 09:00' "
        "order by 1") == [
        (at("2022-01-20 06:45"), 0, 900.0, -3.0, -750.0),
        (at("2022-01-20 07:00"), 0, 600.0, -3.0, -500.0),
        (at("2022-01-20 09:00"), 1, 900.0, 2.0, 500.0),
    ]
    assert hand_made.rows(
        "select hour_utc, covered_seconds from analytics.measurements_hourly where signal_id = 3 order by 1") == [
        (at("2022-01-20 01:00"), 3000.0), (at("2022-01-20 09:00"), 3600.0)]
    # -3 MVAr x 6 h + 2 MVAr x 6 h = -6 MVArh
    assert hand_made.rows(
        "select covered_seconds, avg_time_weighted, reactive_energy_kvarh, energy_kwh "
        "from analytics.signal_daily where signal_id = 3 and day_utc = date '2022-01-20'") == [
        (43200.0, -0.5, -6000.0, None)]


def test_the_last_reading_of_the_data_holds_for_no_time(hand_made: DbtWarehouse) -> None:
    # signal 4: 110 kV at 12:00 is the end of the data; 111 kV holds from 11:50 until then
    assert hand_made.rows(
        "select interval_start_utc, readings, covered_seconds, avg_time_weighted, min, max, value_at_start "
        "from analytics.measurements_15min where signal_id = 4 order by 1") == [
        (at("2022-01-21 11:45"), 1, 600.0, 111.0, 111.0, 111.0, None),
        (at("2022-01-21 12:00"), 1, 0.0, None, 110.0, 110.0, None),
    ]
    assert hand_made.rows(
        "select hour_utc, n, avg, covered_seconds, avg_time_weighted from analytics.measurements_hourly "
        "where signal_id = 4 order by 1") == [
        (at("2022-01-21 11:00"), 1, 111.0, 600.0, 111.0), (at("2022-01-21 12:00"), 1, 110.0, 0.0, None)]
    assert hand_made.rows(
        "select readings, covered_seconds, coverage_share, avg_time_weighted "
        "from analytics.signal_daily where signal_id = 4") == [(2, 600.0, 1.0, 111.0)]


def test_a_signal_whose_only_reading_is_in_the_bucket_holds_it_to_the_end_of_the_data(
    hand_made: DbtWarehouse,
) -> None:
    # signal 5: 42 A at 11:20, cut at the end of the data (12:00) long before the 6 h limit
    assert hand_made.rows(
        "select interval_start_utc, readings, covered_seconds, avg_time_weighted, value_at_start, energy_kwh "
        "from analytics.measurements_15min where signal_id = 5 order by 1") == [
        (at("2022-01-21 11:15"), 1, 600.0, 42.0, None, None),
        (at("2022-01-21 11:30"), 0, 900.0, 42.0, 42.0, None),
        (at("2022-01-21 11:45"), 0, 900.0, 42.0, 42.0, None),
    ]
    assert hand_made.rows(
        "select n, covered_seconds, avg_time_weighted from analytics.measurements_hourly where signal_id = 5") == [
        (1, 2400.0, 42.0)]
    assert hand_made.rows(
        "select day_utc, readings, covered_seconds, coverage_share, avg_time_weighted "
        "from analytics.signal_daily where signal_id = 5") == [(date(2022, 1, 21), 1, 2400.0, 1.0, 42.0)]


def test_every_signal_has_a_daily_row_from_its_first_reading_to_the_end_of_the_data(
    hand_made: DbtWarehouse,
) -> None:
    assert hand_made.rows(
        "select signal_id, min(day_utc), max(day_utc), count(*) from analytics.signal_daily "
        "group by signal_id order by 1") == [
        (1, date(2022, 1, 20), date(2022, 1, 21), 2),
        (2, date(2022, 1, 20), date(2022, 1, 21), 2),
        (3, date(2022, 1, 20), date(2022, 1, 21), 2),
        (4, date(2022, 1, 21), date(2022, 1, 21), 1),
        (5, date(2022, 1, 21), date(2022, 1, 21), 1),
    ]
    # signal 1's 60 kW held until 11:30 on the 20th: the 21st is silent, its window whole until 12:00
    assert hand_made.rows(
        "select readings, covered_seconds, coverage_share, avg_time_weighted, energy_kwh from analytics.signal_daily "
        "where signal_id = 1 and day_utc = date '2022-01-21'") == [(0, 0.0, 0.0, None, None)]


# --- the README's picture -------------------------------------------------------------------

def test_the_readme_picture_is_drawn_from_the_marts(sample_warehouse: BuiltWarehouse, tmp_path) -> None:
    warehouse = sample_warehouse.warehouse
    if warehouse.settings.target != "duckdb":
        pytest.skip("the script reads the warehouse through the same settings on either target")
    script = PROJECT_ROOT / "docs" / "figures" / "time_weighted.py"
    spec = importlib.util.spec_from_file_location("time_weighted_figure", script)
    figure = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = figure  # its dataclass looks its module up
    spec.loader.exec_module(figure)

    # the script reads as the analysts do: the copy `warehouse run` publishes after a build
    publish_reader_snapshot(warehouse.settings.warehouse)
    day = figure.read_signal_day(warehouse.settings, figure.SIGNAL, figure.DAY, figure.HOLD_SECONDS)
    # a busy transformer: its hours with readings, and values held from midnight to midnight
    assert day.hours == warehouse.rows(
        "select hour_utc, avg, avg_time_weighted from analytics.measurements_hourly as h "
        "join analytics.signals as s on s.signal_id = h.signal_id "
        f"where s.signal_name = '{figure.SIGNAL}' and cast(hour_utc as date) = date '{figure.DAY}' order by 1")
    assert len(day.hours) >= 20 and len(day.readings) > 50
    midnight = datetime.combine(figure.DAY, datetime.min.time())
    assert day.holds[0][0] == midnight and day.holds[-1][1] == midnight + timedelta(days=1)
    assert all(held[1] == following[0] for held, following in zip(day.holds, day.holds[1:]))
    out = tmp_path / "day.png"
    figure.render(day, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
