"""The kinds of dump the operator ships: one registry, read by everything that needs them.

The pipeline discovers and reads files through it, the sinks find their raw table in it,
and the orchestration builds the raw assets, their checks and the dump sensor from it.
A new kind of dump is one entry here, its reader (loaders/sources/), its raw table
(a migration in loaders/migrations/) and its staging model (docs/architecture.md walks
through it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from loaders.ledger import FileKind, SourceFile
from loaders.sources import assets, measurements, signals
from loaders.sources.batch import ParsedBatch

BatchReader = Callable[[Path, int], Iterator[ParsedBatch]]
"""Reads one file as typed batches of at most `batch_rows` rows (with its rejects)."""


@dataclass(frozen=True)
class DumpKind:
    name: FileKind
    pattern: str
    """The file name, or a glob when the operator ships many files of the kind."""
    read: BatchReader
    raw_table: str
    """`raw.<table>`: also the dbt source and the Dagster asset key (`raw/<table>`)."""
    description: str
    reference: bool = False
    """A small reference file (a few dozen records) rather than a stream of readings:
    one bad record is already several percent of it, so a high reject share warns."""

    @property
    def table(self) -> str:
        return self.raw_table.removeprefix("raw.")

    @property
    def asset_key_path(self) -> tuple[str, str]:
        return ("raw", self.table)

    def paths(self, data_dir: Path) -> list[Path]:
        """This kind's files in `data_dir`, in load order (by name)."""
        return sorted(path for path in data_dir.glob(self.pattern) if path.is_file())


def _one_batch(read: Callable[[Path], ParsedBatch]) -> BatchReader:
    # The JSON files are a few thousand records: one batch, whatever the batch size.
    def read_batches(path: Path, batch_rows: int) -> Iterator[ParsedBatch]:
        yield read(path)

    return read_batches


DUMP_KINDS: tuple[DumpKind, ...] = (
    DumpKind("assets", assets.FILE_NAME, _one_batch(assets.read_assets), "raw.assets",
             "Substations from assets.json, typed, one row per record, with load lineage.",
             reference=True),
    DumpKind("signals", signals.FILE_NAME, _one_batch(signals.read_signals), "raw.signals",
             "Measurement channels from signal.json, typed, with load lineage.", reference=True),
    DumpKind("measurements", measurements.FILE_GLOB, measurements.iter_measurement_batches,
             "raw.measurements", "Readings from every measurements*.csv dump, typed, with load lineage."),
)
"""In load order: assets before the signals that name them, signals before readings."""

KIND_NAMES: tuple[FileKind, ...] = tuple(kind.name for kind in DUMP_KINDS)
BY_NAME: dict[str, DumpKind] = {kind.name: kind for kind in DUMP_KINDS}


def dump_kind(name: str) -> DumpKind:
    return BY_NAME[name]


def dump_paths(data_dir: Path, kinds: Iterable[str] = KIND_NAMES) -> list[tuple[Path, DumpKind]]:
    """The dump files in `data_dir` with their kind, in load order."""
    wanted = set(kinds)
    return [(path, kind) for kind in DUMP_KINDS if kind.name in wanted for path in kind.paths(data_dir)]


def discover_files(data_dir: Path, kinds: Iterable[str] = KIND_NAMES) -> list[SourceFile]:
    """The dump files in `data_dir`, fingerprinted, in load order."""
    return [SourceFile.fingerprint(path, kind.name) for path, kind in dump_paths(data_dir, kinds)]
