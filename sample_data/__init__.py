"""Synthetic telemetry dumps in the operator's exact source dialect (see docs/source-format.md).

`generate_dumps` writes `assets.json`, `signal.json` and `measurements_001.csv`, ... into a
folder. The content imitates the operator's real export closely enough that the loaders and
the quality marts meet every quirk they will meet in production, and nothing more:

* Assets are Swiss substations ("UW Beznau", "UW Grynau", ...) with WGS 84 coordinates,
  their signals named by one documented pattern (`catalogue`).
* Measurements are report-by-exception, following a daily load shape (`simulation`).
* A dump is a series of blocks, one signal and one stretch of time each, newest row first
  inside a block, blocks shuffled; consecutive files overlap by two hours (`plan`).
* Defects are injected at a configurable rate and counted exactly (`DefectCounts`,
  `defects`); anomalies that are valid rows but wrong physics (stuck sensor, silence,
  out-of-range reading) are listed in `GeneratedDumps.anomalies`.
* The files are written with the loaders' own file names, header and separators (`writer`).

The package sits beside the loaders, not on top of the warehouse: it imports
`loaders.sources` for the format and nothing of Dagster or dbt.
"""

from sample_data.catalogue import PLAUSIBLE_RANGES, VOLTAGE_BAND
from sample_data.defects import DefectCounts, DefectRates
from sample_data.generate import Anomaly, GeneratedDumps, generate_dumps
from sample_data.writer import existing_dumps

__all__ = [
    "PLAUSIBLE_RANGES",
    "VOLTAGE_BAND",
    "Anomaly",
    "DefectCounts",
    "DefectRates",
    "GeneratedDumps",
    "existing_dumps",
    "generate_dumps",
]
