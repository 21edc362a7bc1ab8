"""Hand-made dumps around Europe/Zurich's daylight-saving changes, and what they hold.

Each reading is made as a UTC instant and written the way the operator's export writes
it: as Swiss local wall time without an offset, in blocks of one signal and one stretch of
time, newest row first inside a block, blocks in no global order. So the dumps carry
exactly the ambiguity of a real one: the autumn change's repeated hour (2021-10-31
02:00-03:00 occurs at +02:00, then at +01:00) and the spring change's skipped hour
(2022-03-27 02:00-03:00 does not exist).

`Reading.at` is the instant the warehouse must find, `Reading.flag` the local_time_flag
it must give. For the readings whose dump cannot tell (`repeated_ambiguous`) the instant
is the one the documented rule gives; the dumps are made so that it is the true one, but
for the re-export without SPLIT's second pass, where it is not (see `autumn_dump`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ZURICH = ZoneInfo("Europe/Zurich")
UTC = ZoneInfo("UTC")
BOM = "\ufeff"
HEADER = "Ts|SignalId|MeasurementValue"

# A signal reporting every 15 minutes through both changes, in 6-hour blocks (UTC).
BUSY = 11
# The repeated hour split over two blocks that lie apart in the file.
SPLIT = 12
# One reading only in the repeated hour.
QUIET = 13
# Two readings at the same wall time in the repeated hour, on adjacent lines, nothing else.
TIED = 14
# A reading in the skipped spring hour.
SKIPPED = 15
SIGNALS = (BUSY, SPLIT, QUIET, TIED, SKIPPED)


@dataclass(frozen=True)
class Reading:
    signal_id: int
    at: datetime  # naive UTC: the instant the warehouse must give it
    value: float
    local: datetime | None = None  # the wall time written, when it is not `at` in Zurich
    flag: str | None = None  # the local_time_flag the warehouse must give it


@dataclass
class Dump:
    lines: list[str] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)  # every distinct reading
    duplicate_lines: int = 0  # lines repeating a reading exactly

    def block(self, readings: list[Reading]) -> None:
        """Write `readings` as one block, newest first."""
        for reading in sorted(readings, key=lambda r: r.at, reverse=True):
            self.lines.append(line(reading))
            self.readings.append(reading)

    def write(self, path: Path) -> None:
        path.write_text(BOM + "\n".join([HEADER, *self.lines]) + "\n", encoding="utf-8")


def wall_time(at: datetime) -> datetime:
    """The naive Zurich wall time of the naive UTC instant `at`."""
    return at.replace(tzinfo=UTC).astimezone(ZURICH).replace(tzinfo=None)


def line(reading: Reading) -> str:
    local = reading.local or wall_time(reading.at)
    value = f"{reading.value:g}".replace(".", ",")
    milliseconds = local.microsecond // 1000
    return f"{local:%Y-%m-%d %H:%M:%S}.{milliseconds:03d}|{reading.signal_id}|{value}"


def in_repeated_hour(at: datetime) -> bool:
    local = wall_time(at)
    return local.date().isoformat() == "2021-10-31" and local.hour == 2


def every(signal_id: int, start: str, end: str, minutes: int, value,
          repeated_flag: str = "repeated_resolved") -> list[Reading]:
    """Readings at UTC instants from `start` to before `end`, `value(instant)` each; those
    in the repeated hour flagged `repeated_flag`."""
    first, last = datetime.fromisoformat(start), datetime.fromisoformat(end)
    count = int((last - first) / timedelta(minutes=minutes))
    readings = []
    for i in range(count):
        at = first + timedelta(minutes=minutes * i)
        flag = repeated_flag if in_repeated_hour(at) else None
        readings.append(Reading(signal_id, at, value(at), flag=flag))
    return readings


def load_curve(at: datetime) -> float:
    """A value that differs at every quarter hour, so two passes of one wall time differ."""
    minutes = int((at - datetime(2021, 1, 1)) / timedelta(minutes=15))
    return round(100 + (minutes % 97) * 0.25, 2)


def blocks_of(readings: list[Reading], hours: int) -> list[list[Reading]]:
    """`readings` cut into blocks of `hours` UTC hours each (aligned on UTC midnight)."""
    blocks: dict[datetime, list[Reading]] = {}
    for reading in readings:
        start = reading.at.replace(minute=0, second=0, microsecond=0)
        start -= timedelta(hours=start.hour % hours)
        blocks.setdefault(start, []).append(reading)
    return list(blocks.values())


def autumn_dump(*, split_second_pass: bool = True) -> Dump:
    """2021-10-30 to 2021-11-01 around the autumn change (01:00 UTC on 2021-10-31).

    Without `split_second_pass`, SPLIT's block of the second pass is left out (a file
    re-exported without it): its first pass then stands alone, and the warehouse reads its
    repeated wall times as standard time, an hour after the truth (the rule for what the
    order cannot place; the readings say so).
    """
    dump = Dump()
    busy = blocks_of(every(BUSY, "2021-10-30 00:00", "2021-11-01 12:00", 15, load_curve), 6)
    # Blocks in no global order: a fixed shuffle.
    order = [3, 7, 0, 5, 9, 1, 4, 8, 2, 6]
    assert sorted(order) == list(range(len(busy)))
    # SPLIT: its second pass (01:00-03:00 UTC) is a block of its own, written before the
    # block holding its first pass (22:00-01:00 UTC): neither crosses the change, so the
    # order cannot place them; their wall times repeat with other values.
    second_pass = every(SPLIT, "2021-10-31 01:00", "2021-10-31 03:00", 20,
                        lambda at: round(111 + at.minute / 100, 2), "repeated_ambiguous")
    first_pass = every(SPLIT, "2021-10-30 22:00", "2021-10-31 01:00", 20,
                       lambda at: round(109 + at.minute / 100, 2), "repeated_ambiguous")
    if not split_second_pass:
        first_pass = [Reading(SPLIT, r.at + timedelta(hours=1), r.value, wall_time(r.at), r.flag)
                      if r.flag else r for r in first_pass]
    for position, index in enumerate(order):
        dump.block(busy[index])
        if position == 2 and split_second_pass:
            dump.block(second_pass)
        if position == 6:
            dump.block(first_pass)
    # An exact duplicate line in BUSY's block of the change: 02:45 of the second pass.
    at = datetime(2021, 10, 31, 1, 45)
    duplicated = line(Reading(BUSY, at, load_curve(at)))
    dump.lines.insert(dump.lines.index(duplicated) + 1, duplicated)
    dump.duplicate_lines += 1
    # QUIET: one reading in the repeated hour (second pass), its neighbours hours away.
    dump.block([Reading(QUIET, datetime(2021, 10, 30, 21, 0), 107.0),
                Reading(QUIET, datetime(2021, 10, 31, 1, 45), 107.5, flag="repeated_ambiguous"),
                Reading(QUIET, datetime(2021, 10, 31, 8, 0), 108.0)])
    # TIED: 02:15 twice on adjacent lines, newest (second pass) first.
    dump.block([Reading(TIED, datetime(2021, 10, 31, 1, 15), 105.0, flag="repeated_ambiguous"),
                Reading(TIED, datetime(2021, 10, 31, 0, 15), 106.0, flag="repeated_ambiguous")])
    return dump


def spring_dump() -> Dump:
    """2022-03-26 to 2022-03-28 around the spring change (01:00 UTC on 2022-03-27)."""
    dump = Dump()
    busy = blocks_of(every(BUSY, "2022-03-26 00:00", "2022-03-28 12:00", 15, load_curve), 6)
    for index in [4, 1, 8, 0, 6, 2, 9, 3, 7, 5]:
        dump.block(busy[index])
    # SKIPPED: 02:30 does not exist that night: read with the offset before the change.
    skipped = Reading(SKIPPED, datetime(2022, 3, 27, 1, 30), 102.5,
                      local=datetime(2022, 3, 27, 2, 30), flag="skipped")
    dump.block([Reading(SKIPPED, datetime(2022, 3, 27, 2, 0), 103.0), skipped,
                Reading(SKIPPED, datetime(2022, 3, 27, 0, 15), 102.0)])
    return dump
