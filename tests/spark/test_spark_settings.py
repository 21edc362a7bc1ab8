"""WAREHOUSE_TARGET=spark and its settings: read from the environment, checked at start,
and a bad value named with what to use instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No .env and no WAREHOUSE_* of the caller's shell leak into these settings.
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("WAREHOUSE_"):
            monkeypatch.delenv(name)


def test_the_spark_target_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WAREHOUSE_TARGET", "spark")
    monkeypatch.setenv("WAREHOUSE_SPARK_MASTER", "spark://10.0.0.5:7077")
    monkeypatch.setenv("WAREHOUSE_SPARK_LAKE_DIR", "lake")
    monkeypatch.setenv("WAREHOUSE_SPARK_EXECUTOR_CORES", "2")
    monkeypatch.setenv("WAREHOUSE_SPARK_EXECUTOR_MEMORY", "3G")
    settings = load_settings()
    spark = settings.warehouse.spark
    assert settings.target == "spark"
    assert spark is not None
    assert spark.master == "spark://10.0.0.5:7077"
    assert spark.lake_dir == tmp_path / "lake"
    assert spark.raw_dir == tmp_path / "lake" / "raw"
    conf = spark.session_conf()
    assert conf["spark.executor.cores"] == "2"
    assert conf["spark.executor.memory"] == "3g"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.warehouse.dir"] == (tmp_path / "lake" / "warehouse").as_uri()


def test_the_defaults_are_a_local_cluster_a_lake_under_state_and_derby() -> None:
    settings = load_settings(target="spark")
    spark = settings.spark
    assert spark.master == "spark://127.0.0.1:7077"
    assert spark.lake_dir.parts[-2:] == (".state", "lake")
    assert spark.executor_cores == 1
    assert spark.executor_memory == "1g"
    url = spark.session_conf()["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert url == f"jdbc:derby:;databaseName={spark.metastore_dir};create=true"
    assert spark.metastore_dir.parts[-3:] == (".state", "spark", "metastore")


def test_each_spark_warehouse_has_a_dagster_instance_of_its_own(tmp_path: Path) -> None:
    one = load_settings(target="spark", spark_lake_dir=tmp_path / "one" / "lake")
    other = load_settings(target="spark", spark_lake_dir=tmp_path / "other" / "lake")
    assert one.warehouse_key.startswith("spark-lake-")
    assert one.warehouse_key != other.warehouse_key
    assert one.warehouse.label == f"spark:{tmp_path / 'one' / 'lake'} (on spark://127.0.0.1:7077)"


def test_the_other_targets_carry_no_spark_settings() -> None:
    assert load_settings(target="duckdb").warehouse.spark is None


@pytest.mark.parametrize("master", ["local", "local[2]", "local[*]", "yarn", "spark://a:7077,b:7077",
                                    "k8s://https://10.0.0.1:6443"])
def test_every_kind_of_master_url_is_accepted(master: str) -> None:
    assert load_settings(target="spark", spark_master=master).spark.master == master


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("spark_master", "127.0.0.1:7077", "WAREHOUSE_SPARK_MASTER='127.0.0.1:7077': Value error, not a Spark "
                                       "master URL: use spark://HOST:PORT"),
    ("spark_master", "spark://host", "WAREHOUSE_SPARK_MASTER='spark://host': Value error, not a Spark master URL"),
    ("spark_executor_memory", "2GB", "WAREHOUSE_SPARK_EXECUTOR_MEMORY='2GB': Value error, not a JVM memory "
                                     "size: use a whole number with a unit k, m, g or t (512m, 2g)"),
    ("spark_executor_cores", "0", "WAREHOUSE_SPARK_EXECUTOR_CORES='0': Input should be greater than or equal to 1"),
    ("spark_metastore", "hive", "WAREHOUSE_SPARK_METASTORE='hive': Input should be 'derby' or 'postgres'"),
    ("target", "hive", "WAREHOUSE_TARGET='hive': Input should be 'duckdb', 'postgres' or 'spark'"),
])
def test_a_bad_spark_setting_is_named_with_what_to_use(monkeypatch: pytest.MonkeyPatch, variable: str,
                                                       value: str, expected: str) -> None:
    monkeypatch.setenv(f"WAREHOUSE_{variable.upper()}", value)
    with pytest.raises(SettingsError) as raised:
        load_settings(target=None if variable == "target" else "spark")
    assert expected in str(raised.value)


def test_a_postgres_metastore_needs_its_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_SPARK_METASTORE", "postgres")
    with pytest.raises(SettingsError, match="WAREHOUSE_SPARK_METASTORE=postgres needs "
                                            "WAREHOUSE_SPARK_METASTORE_PG_DSN"):
        load_settings(target="spark")
    monkeypatch.setenv("WAREHOUSE_SPARK_METASTORE_PG_DSN", "postgresql://hive@db.example:5433")
    with pytest.raises(SettingsError, match=r"WAREHOUSE_SPARK_METASTORE_PG_DSN='\(hidden\)': Value error, "
                                            "names no database"):
        load_settings(target="spark")


def test_a_postgres_metastore_needs_the_jdbc_driver_jar(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WAREHOUSE_SPARK_METASTORE", "postgres")
    monkeypatch.setenv("WAREHOUSE_SPARK_METASTORE_PG_DSN", "postgresql://hive:secret@db.example:5433/metastore")
    monkeypatch.setenv("WAREHOUSE_SPARK_JDBC_DRIVER_JAR", str(tmp_path / "postgresql.jar"))
    with pytest.raises(SettingsError, match="needs WAREHOUSE_SPARK_JDBC_DRIVER_JAR, the PostgreSQL JDBC "
                                            f"driver's jar, and {tmp_path / 'postgresql.jar'} does not exist"):
        load_settings(target="spark")
    (tmp_path / "postgresql.jar").write_bytes(b"PK")
    conf = load_settings(target="spark").spark.session_conf()
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == "jdbc:postgresql://db.example:5433/metastore"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionUserName"] == "hive"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionPassword"] == "secret"
    assert conf["spark.driver.extraClassPath"] == str(tmp_path / "postgresql.jar")


def test_the_cli_accepts_the_spark_target() -> None:
    from click.testing import CliRunner

    from warehouse.cli import main

    answer = CliRunner().invoke(main, ["load", "--help"])
    assert "[duckdb|postgres|spark]" in answer.output


@pytest.mark.parametrize("command", [["run"], ["verify"], ["reseed", "--confirm"], ["ui"], ["serve"], ["failures"],
                                     ["sql", "select 1"]])
def test_commands_the_spark_target_lacks_yet_say_so_in_one_line(command: list[str]) -> None:
    import subprocess
    import sys
    from pathlib import Path

    answer = subprocess.run([str(Path(sys.executable).with_name("warehouse")), *command, "--target", "spark"],
                            capture_output=True, text=True, timeout=120)
    assert answer.returncode == 2
    assert (f"Error: `warehouse {command[0]}` does not support WAREHOUSE_TARGET=spark yet: on Spark the warehouse "
            "has its raw layer only") in answer.stderr
