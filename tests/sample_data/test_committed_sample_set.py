"""data/ is what the documented command writes, byte for byte."""

from __future__ import annotations

from pathlib import Path

from sample_data import generate_dumps

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_sample_set_is_what_the_documented_command_writes(tmp_path: Path) -> None:
    """data/ is `warehouse generate --out data --rows 300000 --seed 42`, byte for byte."""
    dumps = generate_dumps(tmp_path, 300_000, seed=42)
    for path in (dumps.assets_path, dumps.signals_path, *dumps.measurement_paths):
        assert path.read_bytes() == (PROJECT_ROOT / "data" / path.name).read_bytes(), path.name
