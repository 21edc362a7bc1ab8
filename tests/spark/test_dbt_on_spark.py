"""dbt reaches the Spark target: dbt-spark's `session` method starts a driver in dbt's
process, on the cluster and with the settings of every session of the project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from kernel.dbt_profiles import dbt_env
from kernel.settings import Settings
from kernel.spark_cluster import ClusterLayout

DBT = str(Path(sys.executable).with_name("dbt"))


def test_dbt_env_hands_dbt_the_sessions_spark_settings(tmp_path: Path) -> None:
    settings = Settings(target="spark", spark_master="spark://10.0.0.5:7077", spark_lake_dir=tmp_path / "lake",
                        spark_executor_memory="3g")
    env = dbt_env(settings)
    assert env["WAREHOUSE_TARGET"] == "spark"
    assert env["WAREHOUSE_SPARK_MASTER"] == "spark://10.0.0.5:7077"
    conf = json.loads(env["WAREHOUSE_SPARK_SESSION_CONF"])
    assert conf == {**settings.spark.session_conf(), "spark.app.name": "gridwarehouse-dbt",
                    "spark.sql.codegen.wholeStage": "false"}
    assert (conf["spark.master"], conf["spark.executor.memory"], conf["spark.sql.session.timeZone"]) == (
        "spark://10.0.0.5:7077", "3g", "UTC")
    assert "spark.driver.host" not in conf  # a remote cluster must reach the driver by its real address


def test_dbt_runs_a_query_on_the_cluster_in_utc(spark_cluster: ClusterLayout, tmp_path: Path) -> None:
    settings = Settings(target="spark", spark_master=spark_cluster.master_url, spark_lake_dir=tmp_path / "lake",
                        spark_metastore_dir=tmp_path / "spark" / "metastore")
    env = {**os.environ, **dbt_env(settings)}
    before = {app["id"] for app in _master(spark_cluster)["completedapps"]}
    answer = subprocess.run([DBT, "show", "--target", "spark", "--inline",
                             "select current_timezone() as session_zone, 6 * 7 as answer", "--output", "json",
                             "--log-format", "json", "--quiet"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert answer.returncode == 0, answer.stdout[-3000:] + answer.stderr[-3000:]
    shown = [json.loads(line) for line in answer.stdout.splitlines() if line.startswith("{")]
    previews = [json.loads(event["data"]["preview"]) for event in shown if "preview" in event.get("data", {})]
    assert previews == [[{"session_zone": "UTC", "answer": 42}]]
    # This test's application only: the session's cluster runs other tests' too.
    dbt_apps = [app for app in _master(spark_cluster)["completedapps"]
                if app["name"] == "gridwarehouse-dbt" and app["id"] not in before]
    # Its executors held a core of each worker.
    assert [(app["state"], app["cores"]) for app in dbt_apps] == [("FINISHED", 2)]
    assert (tmp_path / "spark" / "metastore").is_dir()


def _master(cluster: ClusterLayout) -> dict:
    with urllib.request.urlopen(f"{cluster.ui_url}/json/", timeout=5) as response:
        return json.load(response)
