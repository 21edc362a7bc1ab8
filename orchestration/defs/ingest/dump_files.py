"""The dump files as the first nodes of the lineage: one observable asset per dump kind.

`dumps/<kind>` stands for the kind's files in the data folder, as the operator ships
them; the raw tables depend on them. Its data version is a hash of the files' names and
sha256s, so it changes exactly when a file of the kind is added, removed or changed.
Every load records it (the raw step reports the checksums it took anyway, before its
materializations, so a raw table is never shown behind the files it was just loaded
from), and the UI's "Observe sources" takes it afresh, which then marks a raw table
whose files changed since as behind them.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from loaders.dump_kinds import DUMP_KINDS, DumpKind
from orchestration.defs.table_metadata import markdown_table

DUMP_KEYS = {kind.name: dg.AssetKey(["dumps", kind.name]) for kind in DUMP_KINDS}
# Where Dagster keeps an observation's data version (what ObserveResult.data_version sets).
DATA_VERSION_TAG = "dagster/data_version"


def files_version(files: Iterable[tuple[str, str]]) -> str:
    """The data version of a set of dump files, given as (file name, sha256) pairs."""
    digest = hashlib.sha256()
    for name, sha256 in sorted(files):
        digest.update(f"{name}\t{sha256}\n".encode())
    return digest.hexdigest()[:24]


def files_metadata(kind: DumpKind, data_dir: Path, files: Sequence[tuple[str, int, str]]) -> dict[str, Any]:
    """What an observation of the kind's files says: (name, bytes, sha256) of each."""
    table = markdown_table(("file", "bytes", "sha256"), [(name, f"{size:,}", sha256) for name, size, sha256 in files])
    return {
        "data_dir": str(data_dir),
        "file_count": len(files),
        "size_bytes": sum(size for _, size, _ in files),
        "files": dg.MetadataValue.md(table if files else f"_no {kind.pattern} in the data folder_"),
    }


def observe_kind(kind: DumpKind, data_dir: Path) -> dg.ObserveResult:
    """The kind's files as they are now: their data version, names, sizes and checksums."""
    from loaders.ledger import SourceFile

    paths = kind.paths(data_dir) if data_dir.is_dir() else []
    files = [(source.name, source.size_bytes, source.sha256)
             for source in (SourceFile.fingerprint(path, kind.name) for path in paths)]
    return dg.ObserveResult(data_version=dg.DataVersion(files_version((name, sha) for name, _, sha in files)),
                            metadata=files_metadata(kind, data_dir, files))


def load_observation(kind: DumpKind, data_dir: Path,
                     files: Sequence[tuple[str, int, str]]) -> dg.AssetObservation:
    """The observation of the kind's files a load makes from the checksums it took."""
    return dg.AssetObservation(
        asset_key=DUMP_KEYS[kind.name], metadata=files_metadata(kind, data_dir, files),
        tags={DATA_VERSION_TAG: files_version((name, sha) for name, _, sha in files)})


def _dump_asset(kind: DumpKind) -> dg.SourceAsset:
    def observe(context) -> dg.ObserveResult:
        return observe_kind(kind, context.resources.settings.data_path)

    # Dagster 1.13 calls observable source assets beta; they are what models a file
    # that the warehouse reads but does not make. The warning would be printed at every
    # start of the code location, `warehouse run` included.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.observable_source_asset(
            key=DUMP_KEYS[kind.name],
            group_name="dumps",
            description=f"The {kind.pattern} file{'s' if '*' in kind.pattern else ''} in the data "
                        f"folder, as the operator ships {'them' if '*' in kind.pattern else 'it'}; "
                        f"loaded into {kind.raw_table}.",
            required_resource_keys={"settings"},
            tags={"dagster/kind/file": ""},
        )(observe)


DUMP_ASSETS = [_dump_asset(kind) for kind in DUMP_KINDS]
