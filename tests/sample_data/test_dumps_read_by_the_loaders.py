"""The loaders' readers take the generated dumps as the operator's: they share one format."""

from __future__ import annotations

from loaders.sources.assets import read_assets
from loaders.sources.measurements import iter_measurement_batches
from loaders.sources.signals import read_signals
from sample_data import GeneratedDumps


def test_the_loaders_read_a_clean_set_without_a_reject(clean: GeneratedDumps) -> None:
    assets, signals = read_assets(clean.assets_path), read_signals(clean.signals_path)
    batches = [
        batch for path in clean.measurement_paths for batch in iter_measurement_batches(path, 5_000)
    ]
    assert (assets.rows.height, assets.rejects.height) == (clean.asset_records, 0)
    assert (signals.rows.height, signals.rejects.height) == (clean.signal_records, 0)
    assert sum(batch.rows.height for batch in batches) == clean.rows
    assert sum(batch.rejects.height for batch in batches) == 0


def test_the_loaders_reject_exactly_the_unparseable_lines_of_a_defective_set(
    defective: GeneratedDumps,
) -> None:
    """Orphans and duplicates parse (raw keeps them); empty, non-numeric, bad-time and cut
    lines are rejected, and so are the two defective records of each JSON file."""
    batches = [
        batch
        for path in defective.measurement_paths
        for batch in iter_measurement_batches(path, 5_000)
    ]
    counts = defective.defects
    unparseable = (
        counts.empty_value + counts.non_numeric_value + counts.unparseable_ts
        + counts.truncated_last_line
    )
    assert sum(batch.rejects.height for batch in batches) == unparseable
    assert sum(batch.rows.height for batch in batches) == defective.rows - unparseable
    assert read_assets(defective.assets_path).rejects.height == 2
    assert read_signals(defective.signals_path).rejects.height == 2
