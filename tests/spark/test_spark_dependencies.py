"""The Spark target's packages are an optional group: locked, installed by `make test`,
absent from the light default that `make run` installs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def locked_requirements(*options: str) -> dict[str, str]:
    """Package -> version of what `uv sync --frozen <options>` installs, read from uv.lock."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    exported = subprocess.run([uv, "export", "--frozen", "--no-hashes", "--no-header", *options],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    pins = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", exported, re.MULTILINE)
    return {re.sub(r"\[.*\]", "", name).lower(): version for name, version in pins}


def test_the_default_install_has_no_spark() -> None:
    default = locked_requirements()
    assert "pyspark" not in default
    assert "dbt-spark" not in default
    assert default["dbt-core"].startswith("1.11.")


def test_the_spark_extra_locks_pyspark_and_dbt_spark_beside_the_same_dbt_core() -> None:
    spark = locked_requirements("--extra", "spark")
    assert spark["pyspark"] == "4.3.0"
    assert spark["dbt-spark"].startswith("1.11.")
    assert spark["dbt-core"] == locked_requirements()["dbt-core"]


def test_make_test_installs_the_spark_extra_and_make_run_does_not() -> None:
    dry = {target: subprocess.run(["make", "-n", "--always-make", target], cwd=PROJECT_ROOT,
                                  capture_output=True, text=True, check=True).stdout
           for target in ("run", "test")}
    assert "--extra spark" in dry["test"]
    assert "--extra spark" not in dry["run"]
