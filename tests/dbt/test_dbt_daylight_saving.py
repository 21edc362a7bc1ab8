"""Daylight-saving time loses nothing: hand-made dumps in Swiss local time around the
autumn change of 2021 (02:00-03:00 occurs twice) and the spring change of 2022 (02:00-03:00
does not exist), built on both warehouses, first the autumn file, then the spring file as
an incremental refresh. The readings and their instants are known (`dst_dumps`): the marts
must hold every one of them at its instant, the hourly and daily figures must equal a
recomputation here in Python, on the 25-hour and the 23-hour local day alike, and what
the dumps could not tell must be counted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from dbt_harness import DbtWarehouse, new_warehouse
from dst_dumps import (BUSY, QUIET, SIGNALS, SKIPPED, SPLIT, TIED, Dump, Reading, autumn_dump,
                       spring_dump, wall_time)

ASSETS = ('[{"AssetID": "1", "Latitude": "47.5568277613", "Longitude": "8.2338560914", '
          '"descri": "UW Beznau"}]\n')
NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")
MODELS_ONLY = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
# Columns by name: other columns may join these marts.
QUERIES = {
    "measurements": "select signal_id, measured_at, value, duplicates_dropped, local_time_flag "
                    "from analytics.measurements",
    "hourly": "select signal_id, hour_utc, n, min, max, avg, first_value, last_value "
              "from analytics.measurements_hourly",
    "daily": "select signal_id, day_utc, n, first_at, last_at, max_gap_seconds, "
             "duplicates_dropped, ambiguous_readings, skipped_hour_readings "
             "from analytics.signal_daily_quality",
    "flatlines": "select * from analytics.signal_flatlines",
    "orphans": "select * from analytics.orphan_measurements",
}


def write_catalogue(warehouse: DbtWarehouse) -> None:
    (warehouse.data_dir / "assets.json").write_text(ASSETS)
    records = [f'{{"SignalGId": "00000000-0000-4000-8000-0000000000{s}", "SignalId": "{s}", '
               f'"SignalName": "BEZOBF110BIRMENU_L{s}", "AssetId": "1", "Unit": "kV"}}'
               for s in SIGNALS]
    (warehouse.data_dir / "signal.json").write_text("[" + ",\n".join(records) + "]\n")


def snapshot(warehouse: DbtWarehouse) -> dict[str, list[tuple]]:
    return {name: sorted(warehouse.rows(query), key=repr) for name, query in QUERIES.items()}


def instants(rows: list[tuple]) -> dict[tuple[int, datetime], tuple[float, str | None]]:
    """analytics.measurements rows -> (signal, instant): (value, local_time_flag)."""
    return {(signal, at): (value, flag) for signal, at, value, _, flag in rows}


@dataclass
class DstWarehouse:
    warehouse: DbtWarehouse
    dumps: list[Dump]
    incremental: dict[str, list[tuple]]  # the marts after the spring file's refresh
    full_refresh: dict[str, list[tuple]]  # the same raw data, rebuilt with --full-refresh
    raw_rows: int
    refresh_output: str

    @property
    def readings(self) -> list[Reading]:
        return [reading for dump in self.dumps for reading in dump.readings]


@pytest.fixture(scope="module",
                params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def dst_warehouse(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DstWarehouse]:
    workdir = tmp_path_factory.mktemp(f"dst-{request.param}")
    with new_warehouse(request, workdir, request.param) as warehouse:
        dumps = [autumn_dump(), spring_dump()]
        write_catalogue(warehouse)
        dumps[0].write(warehouse.data_dir / "measurements_001.csv")
        warehouse.load()
        warehouse.dbt("build", *MODELS_ONLY)
        dumps[1].write(warehouse.data_dir / "measurements_002.csv")
        warehouse.load()
        # data tests included: the reconciliation of every raw row, per file
        refresh = warehouse.dbt("build", *NO_UNIT_TESTS)
        incremental = snapshot(warehouse)
        raw_rows = warehouse.scalar("select count(*) from raw.measurements")
        warehouse.dbt("build", "--full-refresh", *MODELS_ONLY)
        yield DstWarehouse(warehouse, dumps, incremental, snapshot(warehouse), raw_rows,
                           refresh.output)


# --- the independent recomputation ----------------------------------------------------------

def kept_readings(readings: list[Reading]) -> list[Reading]:
    by_key = {(r.signal_id, r.at): r for r in readings}
    assert len(by_key) == len(readings), "each reading once (besides exact duplicate lines)"
    return sorted(by_key.values(), key=lambda r: (r.signal_id, r.at))


def expected_hourly(readings: list[Reading]) -> dict[tuple[int, datetime], tuple]:
    """n, min, max, avg, first and last value per signal and UTC hour."""
    hours: dict[tuple[int, datetime], list[Reading]] = defaultdict(list)
    for r in kept_readings(readings):
        hours[(r.signal_id, r.at.replace(minute=0, second=0, microsecond=0))].append(r)
    return {key: (len(rs), min(r.value for r in rs), max(r.value for r in rs),
                  sum(r.value for r in rs) / len(rs), rs[0].value, rs[-1].value)
            for key, rs in hours.items()}


def expected_daily(readings: list[Reading]) -> dict[tuple[int, date], tuple]:
    """n, first, last, the longest silence and the DST counts per signal and UTC day, from
    each signal's first day to the end of the data (the latest reading of any signal)."""
    kept = kept_readings(readings)
    data_end = max(r.at for r in kept)
    by_signal: dict[int, list[Reading]] = defaultdict(list)
    for r in kept:
        by_signal[r.signal_id].append(r)
    daily = {}
    for signal_id, rs in by_signal.items():
        day = rs[0].at.date()
        while day <= data_end.date():
            midnight = datetime.combine(day, datetime.min.time())
            start = max(midnight, rs[0].at)
            end = min(midnight + timedelta(days=1), data_end)
            times = [r.at for r in rs if r.at.date() == day]
            flags = [r.flag for r in rs if r.at.date() == day]
            edges = [start, *times, end]
            gap = max((b - a).total_seconds() for a, b in zip(edges, edges[1:]))
            daily[(signal_id, day)] = (len(times), min(times, default=None),
                                       max(times, default=None), gap,
                                       flags.count("repeated_ambiguous"), flags.count("skipped"))
            day += timedelta(days=1)
    return daily


def by_key(rows: list[tuple]) -> dict[tuple, tuple]:
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


# --- the specification ----------------------------------------------------------------------

def test_no_reading_is_lost_around_either_change(dst_warehouse: DstWarehouse) -> None:
    measurements = dst_warehouse.incremental["measurements"]
    dropped = sum(row[3] for row in measurements)
    assert len(measurements) == len(dst_warehouse.readings) == 503
    assert dst_warehouse.raw_rows == len(measurements) + dropped == 504
    assert dropped == sum(dump.duplicate_lines for dump in dst_warehouse.dumps) == 1
    # the reconciliation test (raw = kept + duplicates + orphans, per file) ran and passed
    assert "assert_measurement_files_reconcile" in dst_warehouse.refresh_output


def test_every_reading_is_at_its_instant(dst_warehouse: DstWarehouse) -> None:
    expected = {(r.signal_id, r.at): (r.value, r.flag) for r in dst_warehouse.readings}
    assert instants(dst_warehouse.incremental["measurements"]) == expected


def test_the_repeated_hour_read_in_one_block_gives_both_passes(
    dst_warehouse: DstWarehouse,
) -> None:
    # BUSY's block crosses the change: 02:00-02:45 twice, at +02:00 and then at +01:00
    repeated = sorted(
        (at, value, flag) for (signal, at), (value, flag)
        in instants(dst_warehouse.incremental["measurements"]).items()
        if signal == BUSY and datetime(2021, 10, 31, 0) <= at < datetime(2021, 10, 31, 2))
    assert [f"{at:%H:%M}" for at, *_ in repeated] == [
        "00:00", "00:15", "00:30", "00:45", "01:00", "01:15", "01:30", "01:45"]
    assert [f"{wall_time(at):%H:%M}" for at, *_ in repeated] == [
        "02:00", "02:15", "02:30", "02:45"] * 2
    assert len({value for _, value, _ in repeated}) == 8
    assert {flag for *_, flag in repeated} == {"repeated_resolved"}


def test_two_readings_of_one_wall_time_in_the_repeated_hour_are_both_kept(
    dst_warehouse: DstWarehouse,
) -> None:
    readings = instants(dst_warehouse.incremental["measurements"])
    # SPLIT: 02:20 in two blocks apart in the file, neither crossing the change: the first
    # in the file is read as standard time, the other takes the first pass
    assert readings[(SPLIT, datetime(2021, 10, 31, 1, 20))] == (111.2, "repeated_ambiguous")
    assert readings[(SPLIT, datetime(2021, 10, 31, 0, 20))] == (109.2, "repeated_ambiguous")
    # TIED: 02:15 twice on adjacent lines, nothing else: likewise
    assert readings[(TIED, datetime(2021, 10, 31, 1, 15))] == (105.0, "repeated_ambiguous")
    assert readings[(TIED, datetime(2021, 10, 31, 0, 15))] == (106.0, "repeated_ambiguous")


def test_what_the_order_cannot_place_is_counted_per_day(dst_warehouse: DstWarehouse) -> None:
    counted = {(signal, day): (ambiguous, skipped)
               for signal, day, *_, ambiguous, skipped in dst_warehouse.incremental["daily"]
               if ambiguous or skipped}
    assert counted == {
        (SPLIT, date(2021, 10, 31)): (6, 0),
        (QUIET, date(2021, 10, 31)): (1, 0),
        (TIED, date(2021, 10, 31)): (2, 0),
        (SKIPPED, date(2022, 3, 27)): (0, 1),
    }


def test_a_reading_in_the_skipped_spring_hour_is_kept_with_the_offset_before_the_change(
    dst_warehouse: DstWarehouse,
) -> None:
    readings = sorted((at, *rest) for (signal, at), rest
                      in instants(dst_warehouse.incremental["measurements"]).items()
                      if signal == SKIPPED)
    # 02:30 does not exist in Zurich that night; read as +01:00, it is 01:30 UTC
    assert readings == [(datetime(2022, 3, 27, 0, 15), 102.0, None),
                        (datetime(2022, 3, 27, 1, 30), 102.5, "skipped"),
                        (datetime(2022, 3, 27, 2, 0), 103.0, None)]


def test_the_25_and_the_23_hour_local_day_hold_every_quarter_hour(
    dst_warehouse: DstWarehouse,
) -> None:
    per_local_day: dict[date, int] = defaultdict(int)
    for signal, at, *_ in dst_warehouse.incremental["measurements"]:
        if signal == BUSY:
            per_local_day[wall_time(at).date()] += 1
    assert per_local_day[date(2021, 10, 31)] == 25 * 4
    assert per_local_day[date(2022, 3, 27)] == 23 * 4
    # and every UTC hour around both changes holds its four readings: none doubled, none missing
    hours = {hour: n for signal, hour, n, *_ in dst_warehouse.incremental["hourly"]
             if signal == BUSY}
    for change in (datetime(2021, 10, 31, 1), datetime(2022, 3, 27, 1)):
        assert [hours[change + timedelta(hours=h)] for h in range(-4, 4)] == [4] * 8


def test_hourly_figures_equal_a_recomputation(dst_warehouse: DstWarehouse) -> None:
    actual = by_key(dst_warehouse.incremental["hourly"])
    expected = expected_hourly(dst_warehouse.readings)
    assert actual.keys() == expected.keys()
    for key, (n, low, high, avg, first, last) in expected.items():
        assert actual[key][:3] == (n, low, high), key
        assert actual[key][3] == pytest.approx(avg, abs=1e-9), key
        assert actual[key][4:] == (first, last), key


def test_daily_quality_equals_a_recomputation(dst_warehouse: DstWarehouse) -> None:
    actual = {key: (n, first, last, gap, ambiguous, skipped)
              for key, (n, first, last, gap, _, ambiguous, skipped)
              in by_key(dst_warehouse.incremental["daily"]).items()}
    expected = expected_daily(dst_warehouse.readings)
    assert actual.keys() == expected.keys()
    for key, (n, first, last, gap, ambiguous, skipped) in expected.items():
        assert actual[key][:3] == (n, first, last), key
        assert actual[key][3] == pytest.approx(gap, abs=1e-9), key
        assert actual[key][4:] == (ambiguous, skipped), key
    # the UTC days of both changes: BUSY reads every quarter hour, its longest silence 15 min
    assert actual[(BUSY, date(2021, 10, 31))][:4] == (
        96, datetime(2021, 10, 31, 0, 0), datetime(2021, 10, 31, 23, 45), 900.0)
    assert actual[(BUSY, date(2022, 3, 27))][:4] == (
        96, datetime(2022, 3, 27, 0, 0), datetime(2022, 3, 27, 23, 45), 900.0)


def test_an_incremental_refresh_over_the_changes_equals_a_full_refresh(
    dst_warehouse: DstWarehouse,
) -> None:
    assert "refresh batch (incremental): 1 loads added" in dst_warehouse.refresh_output
    assert dst_warehouse.incremental == dst_warehouse.full_refresh


def test_a_replaced_file_is_read_anew_and_refreshes_exactly(dst_warehouse: DstWarehouse) -> None:
    """The autumn file comes again without SPLIT's second pass: the first pass, alone, is
    read as standard time (its own file decides), and the refresh equals a full one.
    (Runs last: it changes the module's warehouse.)"""
    warehouse = dst_warehouse.warehouse
    replaced = autumn_dump(split_second_pass=False)
    replaced.write(warehouse.data_dir / "measurements_001.csv")
    warehouse.load()
    warehouse.dbt("build", *NO_UNIT_TESTS)
    incremental = snapshot(warehouse)
    warehouse.dbt("build", "--full-refresh", *MODELS_ONLY)
    assert snapshot(warehouse) == incremental
    expected = [*replaced.readings, *dst_warehouse.dumps[1].readings]
    assert instants(incremental["measurements"]) == {
        (r.signal_id, r.at): (r.value, r.flag) for r in expected}


def test_a_changed_source_zone_is_refreshed_exactly_after_the_full_rebuild(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The full build a changed zone asks for also recomputes which days each load covers,
    so that a later replacement removes its readings from the days they now lie on."""
    with new_warehouse(request, tmp_path, "duckdb") as warehouse:
        write_catalogue(warehouse)
        first = Dump()
        first.block([Reading(BUSY, datetime(2022, 1, 9, 23, 30), 110.0),
                     Reading(BUSY, datetime(2022, 1, 10, 6), 111.0)])
        first.write(warehouse.data_dir / "measurements_001.csv")
        warehouse.settings = warehouse.settings.model_copy(update={"source_timezone": "UTC"})
        warehouse.load()
        warehouse.dbt("build", *MODELS_ONLY)
        # read as Zurich time now: 00:30 on Jan 10 is 23:30 UTC on Jan 9
        warehouse.settings = warehouse.settings.model_copy(
            update={"source_timezone": "Europe/Zurich"})
        warehouse.dbt("build", "--full-refresh", *MODELS_ONLY)
        second = Dump()
        second.block([Reading(BUSY, datetime(2022, 1, 10, 6), 111.0)])
        second.write(warehouse.data_dir / "measurements_001.csv")
        warehouse.load()
        warehouse.dbt("build", *MODELS_ONLY)
        incremental = snapshot(warehouse)
        assert [row[1] for row in incremental["measurements"]] == [datetime(2022, 1, 10, 6)]
        warehouse.dbt("build", "--full-refresh", *MODELS_ONLY)
        assert snapshot(warehouse) == incremental
