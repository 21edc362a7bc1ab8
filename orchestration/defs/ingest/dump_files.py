"""The dump files as the first nodes of the lineage: one observable asset per dump kind.

`dumps/<kind>` stands for the kind's files in the data folder, as the operator ships
them; the raw tables depend on them. Observing one (the UI's "Observe sources")
fingerprints its files: the data version is a hash of their names and sha256s, so it
changes exactly when a file of the kind is added, removed or changed, and the UI then
marks the raw table downstream as behind its source.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from loaders.dump_kinds import DUMP_KINDS, DumpKind
from orchestration.defs.table_metadata import markdown_table

DUMP_KEYS = {kind.name: dg.AssetKey(["dumps", kind.name]) for kind in DUMP_KINDS}


def files_version(files: Iterable[tuple[str, str]]) -> str:
    """The data version of a set of dump files, given as (file name, sha256) pairs."""
    digest = hashlib.sha256()
    for name, sha256 in sorted(files):
        digest.update(f"{name}\t{sha256}\n".encode())
    return digest.hexdigest()[:24]


def observe_kind(kind: DumpKind, data_dir: Path) -> dg.ObserveResult:
    """The kind's files as they are now: their data version, names, sizes and checksums."""
    from loaders.ledger import SourceFile

    paths = kind.paths(data_dir) if data_dir.is_dir() else []
    files = [SourceFile.fingerprint(path, kind.name) for path in paths]
    table = markdown_table(("file", "bytes", "sha256"),
                           [(file.name, f"{file.size_bytes:,}", file.sha256) for file in files])
    return dg.ObserveResult(
        data_version=dg.DataVersion(files_version((file.name, file.sha256) for file in files)),
        metadata={
            "data_dir": str(data_dir),
            "file_count": len(files),
            "size_bytes": sum(file.size_bytes for file in files),
            "files": dg.MetadataValue.md(table if files else f"_no {kind.pattern} in the data folder_"),
        },
    )


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
