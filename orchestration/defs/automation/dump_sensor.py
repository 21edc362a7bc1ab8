"""Starts `refresh` when a dump file in the data folder is new or has changed.

The cursor holds each file's checksum, so an unchanged folder never starts a run, and
its size and modification time, so a file is only hashed again when those move
(production dumps are gigabytes; the sensor looks every few seconds). A file the cursor
does not know or has seen change is compared with the load ledger before a run is
asked for: on the first tick, or after `warehouse load`, the warehouse may hold it
already.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from orchestration.defs.automation.jobs import refresh_job, writer_run_in_flight
from orchestration.defs.ingest.ledger_queries import known_checksums
from kernel.settings import Settings


@dataclass(frozen=True)
class DumpFile:
    size_bytes: int
    mtime_ns: int
    sha256: str


@dataclass
class FolderState:
    """The dump files of the data folder by name, and how many runs the sensor asked for."""

    files: dict[str, DumpFile] = field(default_factory=dict)
    requests: int = 0

    @classmethod
    def from_cursor(cls, cursor: str | None) -> FolderState:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls({name: DumpFile(*values) for name, values in data["files"].items()}, data["requests"])

    def to_cursor(self) -> str:
        files = {name: [dump.size_bytes, dump.mtime_ns, dump.sha256] for name, dump in self.files.items()}
        return json.dumps({"files": files, "requests": self.requests}, sort_keys=True)

    def changed_since(self, previous: FolderState) -> list[str]:
        """Files that are new or whose content differs (removed files start nothing)."""
        return sorted(name for name, dump in self.files.items()
                      if name not in previous.files or previous.files[name].sha256 != dump.sha256)

    def unknown_to(self, ledger: dict[str, set[str]], names: list[str]) -> list[str]:
        """Those of `names` whose content the load ledger does not account for."""
        return [name for name in names if self.files[name].sha256 not in ledger.get(name, set())]


def dump_paths(data_dir: Path) -> list[Path]:
    """The files the loaders would read, by the dump-kind registry's naming rules."""
    from loaders.dump_kinds import dump_paths as registered_paths

    return [path for path, _ in registered_paths(data_dir)]


def scan(data_dir: Path, previous: FolderState) -> FolderState:
    """The folder as it is now, hashing only files whose size or mtime moved."""
    from loaders.ledger import SourceFile

    files = {}
    for path in dump_paths(data_dir):
        stat = path.stat()
        known = previous.files.get(path.name)
        if known and (known.size_bytes, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            files[path.name] = known
        else:
            # The kind does not matter for a checksum; SourceFile hashes in 4 MiB chunks.
            files[path.name] = DumpFile(stat.st_size, stat.st_mtime_ns,
                                        SourceFile.fingerprint(path, "measurements").sha256)
    return FolderState(files, previous.requests)


def evaluate(context: dg.SensorEvaluationContext, settings: Settings) -> dg.SensorResult:
    """One sensor tick: a run request for new or changed dumps, else a reason to skip."""
    from kernel.database import DatabaseError

    data_dir = settings.data_path
    if not data_dir.is_dir():
        return dg.SensorResult(skip_reason=f"data folder {data_dir} does not exist")
    previous = FolderState.from_cursor(context.cursor)
    current = scan(data_dir, previous)
    moved = current.changed_since(previous)
    if not moved:
        return dg.SensorResult(skip_reason="no new or changed dump files", cursor=current.to_cursor())
    # Whenever a tick skips without a new cursor, the next tick sees the same files again.
    busy = writer_run_in_flight(context.instance, by="the new_dump_sensor")
    if busy:
        return dg.SensorResult(skip_reason=f"{', '.join(moved)} changed; waiting for run {busy} to finish")
    try:
        changed = current.unknown_to(known_checksums(settings.warehouse), moved)
    except DatabaseError as error:
        return dg.SensorResult(skip_reason=f"{', '.join(moved)} changed; the load ledger cannot be read "
                                           f"now ({error}), looking again next tick")
    if not changed:
        return dg.SensorResult(skip_reason=f"{', '.join(moved)}: already loaded, as the load ledger shows",
                               cursor=current.to_cursor())
    current.requests += 1
    return dg.SensorResult(
        run_requests=[dg.RunRequest(
            run_key=f"dumps-{current.requests}",
            tags={"gridwarehouse/trigger": "dump_sensor",
                  "gridwarehouse/changed_files": ", ".join(changed)[:250]},
        )],
        cursor=current.to_cursor(),
    )


def dump_sensor(settings: Settings) -> dg.SensorDefinition:
    status = dg.DefaultSensorStatus.RUNNING if settings.automation_enabled else dg.DefaultSensorStatus.STOPPED

    @dg.sensor(
        name="new_dump_sensor",
        job=refresh_job,
        minimum_interval_seconds=settings.dump_sensor_interval_seconds,
        default_status=status,
        description=f"Starts `refresh` when a dump in {settings.data_path} is new or changed "
                    "(by checksum) and the load ledger does not have it yet; an unchanged folder "
                    "starts nothing.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        return evaluate(context, settings)

    return _sensor
