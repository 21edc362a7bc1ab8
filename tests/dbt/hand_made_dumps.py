"""Dumps written by hand in the operator's dialect, for tests that need exact cases:
one asset, signals by id and unit, readings at chosen times."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from dbt_harness import SOURCE_TIMEZONE, DbtWarehouse

BOM = "\ufeff"
ASSETS = '[{"AssetID": "1", "Latitude": "47.5568277613", "Longitude": "8.2338560914", "descri": "UW Beznau"}]\n'


def signal_record(signal_id: int, unit: str = "kV") -> str:
    name = f"BEZOBF110BIRMENU_L{signal_id:02d}"
    return (f'{{"SignalGId": "00000000-0000-4000-8000-0000000000{signal_id:02d}", "SignalId": "{signal_id}", '
            f'"SignalName": "{name}", "AssetId": "1", "Unit": "{unit}"}}')


def write_signals(warehouse: DbtWarehouse, *signals: int | tuple[int, str]) -> None:
    records = [signal_record(*(s if isinstance(s, tuple) else (s,))) for s in signals]
    (warehouse.data_dir / "signal.json").write_text("[" + ",\n".join(records) + "]\n")


def write_dump(warehouse: DbtWarehouse, name: str, readings: Iterable[tuple[int, datetime, float]]) -> None:
    """A dump in the operator's dialect; times are Swiss local time (the harness's zone)."""
    lines = ["Ts|SignalId|MeasurementValue"]
    lines += [f"{at:%Y-%m-%d %H:%M:%S}.{at.microsecond // 1000:03d}|{signal}|{str(value).replace('.', ',')}"
              for signal, at, value in readings]
    (warehouse.data_dir / name).write_text(BOM + "\n".join(lines) + "\n", encoding="utf-8")


def local_time(utc: datetime) -> datetime:
    """The dumps' naive local wall time of a naive UTC time."""
    return utc.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(SOURCE_TIMEZONE)).replace(tzinfo=None)
