"""`warehouse generate` as a user runs it: it never replaces dumps unless told to with --force."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sample_data import generate_dumps

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WAREHOUSE = Path(sys.executable).parent / "warehouse"


def generate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WAREHOUSE), "generate", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_generate_out_data_refuses_to_overwrite_the_committed_dumps() -> None:
    # The defaults are the command that wrote data/: were the refusal gone, the bytes would stay.
    dumps = ["assets.json", "signal.json", "measurements_001.csv", "measurements_002.csv"]
    written = {name: (PROJECT_ROOT / "data" / name).stat().st_mtime_ns for name in dumps}

    completed = generate("--out", "data", cwd=PROJECT_ROOT)

    assert (completed.returncode, completed.stdout) == (1, "")
    assert completed.stderr == (
        "Error: data already holds dumps (assets.json, signal.json, measurements_001.csv, "
        "measurements_002.csv); pass --force to replace them\n"
    )
    assert {name: (PROJECT_ROOT / "data" / name).stat().st_mtime_ns for name in dumps} == written


def test_generate_refuses_if_any_one_dump_it_would_write_is_there(tmp_path: Path) -> None:
    out = tmp_path / "dumps"
    out.mkdir()
    (out / "signal.json").write_text("[]\n", encoding="utf-8")

    completed = generate("--out", str(out), "--rows", "1000", cwd=tmp_path)

    assert completed.returncode == 1
    assert completed.stderr == (
        f"Error: {out} already holds dumps (signal.json); pass --force to replace them\n"
    )
    assert contents(out) == {"signal.json": b"[]\n"}


def test_force_replaces_the_dumps_and_keeps_other_files(tmp_path: Path) -> None:
    out = tmp_path / "dumps"
    out.mkdir()
    (out / "README.md").write_text("notes\n", encoding="utf-8")
    first = generate("--out", str(out), "--rows", "2000", "--files", "3", "--seed", "5",
                     "--assets", "2", "--signals", "4", cwd=tmp_path)
    assert first.returncode == 0, first.stderr

    forced = generate("--out", str(out), "--rows", "1000", "--files", "1", "--seed", "6",
                      "--assets", "2", "--signals", "4", "--force", cwd=tmp_path)

    assert forced.returncode == 0, forced.stderr
    generate_dumps(tmp_path / "expected", 1_000, seed=6, files=1, assets=2, signals=4)
    assert contents(out) == {**contents(tmp_path / "expected"), "README.md": b"notes\n"}
