"""A set of dumps is shaped like the operator's export: files, blocks, overlap, row counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sample_data import GeneratedDumps, generate_dumps
from tests.sample_data.conftest import data_lines


def test_files_split_the_time_range_oldest_first_sharing_only_re_exported_rows(
    clean: GeneratedDumps,
) -> None:
    assert [p.name for p in clean.measurement_paths] == [
        "measurements_001.csv",
        "measurements_002.csv",
    ]
    first, second = ([line[1:] for line in data_lines(clean) if line.file == n] for n in (0, 1))
    newest_of_first = max(ts for ts, _, _ in first)
    older_in_second = [row for row in second if row[0] <= newest_of_first]
    assert older_in_second and set(older_in_second) <= set(first)
    assert min(ts for ts, _, _ in first) < min(ts for ts, _, _ in second)


def test_row_total_equals_rows_and_rows_per_file_is_exact(clean: GeneratedDumps) -> None:
    lines = data_lines(clean)
    assert len(lines) == clean.rows == 20_000
    assert tuple(Counter(line.file for line in lines)[n] for n in (0, 1)) == clean.rows_per_file


def test_blocks_are_one_signal_newest_first_and_in_no_global_order(clean: GeneratedDumps) -> None:
    for number, blocks in enumerate(clean.blocks_per_file):
        lines = [line for line in data_lines(clean) if line.file == number]
        # A new block starts where the signal changes or time goes forward again.
        starts = [0] + [
            i
            for i in range(1, len(lines))
            if lines[i].signal_id != lines[i - 1].signal_id or lines[i].ts > lines[i - 1].ts
        ]
        assert len(starts) == blocks
        first_times = [lines[i].ts for i in starts]
        assert first_times != sorted(first_times) and first_times != sorted(
            first_times, reverse=True
        )


def test_the_re_exported_overlap_repeats_rows_exactly_in_both_files(clean: GeneratedDumps) -> None:
    first, second = (
        Counter(line[1:] for line in data_lines(clean) if line.file == n) for n in (0, 1)
    )
    assert sum((first & second).values()) == clean.overlap_rows > 0


def test_report_density_differs_a_hundredfold_between_signals(clean: GeneratedDumps) -> None:
    rows = Counter(line.signal_id for line in data_lines(clean))
    assert max(rows.values()) >= 100 * min(rows.values())


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    def files(folder: str, seed: int) -> dict[str, bytes]:
        generate_dumps(tmp_path / folder, 3_000, seed=seed, assets=3, signals=8, defect_rate=0.02)
        return {p.name: p.read_bytes() for p in sorted((tmp_path / folder).iterdir())}

    assert files("once", 5) == files("twice", 5)
    assert files("once", 5)["measurements_001.csv"] != files("other", 6)["measurements_001.csv"]


def test_progress_reports_every_line(tmp_path: Path) -> None:
    reported: list[int] = []
    dumps = generate_dumps(tmp_path, 4_000, assets=2, signals=6, progress=reported.append)
    assert sum(reported) == dumps.rows == 4_000


def test_zero_rows_writes_header_only_dumps(tmp_path: Path) -> None:
    dumps = generate_dumps(tmp_path, 0)
    assert [p.read_bytes() for p in dumps.measurement_paths] == [
        b"\xef\xbb\xbfTs|SignalId|MeasurementValue\n"
    ] * 2
    assert dumps.defects.empty_value == dumps.defects.truncated_last_line == 0


def test_a_rerun_with_fewer_files_leaves_no_stale_dump(tmp_path: Path) -> None:
    generate_dumps(tmp_path, 1_000, files=3, assets=2, signals=4)
    generate_dumps(tmp_path, 1_000, files=1, assets=2, signals=4)
    assert sorted(p.name for p in tmp_path.glob("measurements*")) == ["measurements_001.csv"]
