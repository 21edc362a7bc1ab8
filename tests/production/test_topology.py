"""The docker compose topology, proven without Docker: the same processes, the same files.

`dagster code-server`, `dagster-webserver` and `dagster-daemon` run as real processes
with the deployment's own deploy/dagster/dagster.yaml and workspace.yaml: Dagster's
state in PostgreSQL (a database of its own), the warehouse on PostgreSQL reached as the
loader and transformer users. A dump dropped into the data folder must wake the sensor,
and the run it starts must succeed, as the webserver's GraphQL API reports.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import create_database, drop_database
from tests.production.conftest import Logins
from sample_data import generate_dumps

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(420)]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DAGSTER = PROJECT_ROOT / "deploy" / "dagster"
BIN = Path(sys.executable).parent
RUN_DEADLINE_SECONDS = 300
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

RUNS_QUERY = """
query SensorRuns {
  runsOrError(filter: {tags: [{key: "gridwarehouse/trigger", value: "dump_sensor"}]}) {
    __typename
    ... on Runs { results { runId jobName status } }
    ... on PythonError { message }
  }
}"""
LOGS_QUERY = """
query RunLogs($runId: ID!, $cursor: String) {
  logsForRun(runId: $runId, afterCursor: $cursor) {
    __typename
    ... on EventConnection { cursor hasMore events { __typename ... on MessageEvent { message level } } }
  }
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Topology:
    """The three processes of the deployment and how to reach the webserver."""

    processes: dict[str, subprocess.Popen]
    logs: Path
    graphql_url: str

    def query(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.graphql_url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:  # GraphQL errors come back as HTTP 400/500
            raise AssertionError(f"{error}: {error.read().decode(errors='replace')}") from None
        assert "errors" not in answer, answer
        return answer["data"]

    def assert_alive(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}\n{self.tails()}"

    def tails(self, lines: int = 40) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name} (last {lines} lines)\n" + "\n".join(text))
        return "\n".join(parts)


def wait_for(what: str, check: Callable[[], Any], topology: Topology, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        topology.assert_alive()
        try:
            result = check()
        except (OSError, urllib.error.URLError):
            result = None
        if result:
            return result
        time.sleep(1)
    pytest.fail(f"gave up after {seconds:.0f} s waiting for {what}\n{topology.tails()}")


def stop(process: subprocess.Popen) -> None:
    """End the process and everything it started (code servers, run workers, dbt)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    # Children that outlived their parent's shutdown go too.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


@pytest.fixture
def dagster_storage_dsn(pg_server_dsn: str) -> Iterator[str]:
    """Dagster's own database, on the same server as (but apart from) the warehouse's."""
    dsn = create_database(pg_server_dsn, prefix="dagster")
    yield dsn
    drop_database(pg_server_dsn, dsn)


@pytest.fixture
def topology(tmp_path: Path, logins: Logins, dagster_storage_dsn: str) -> Iterator[Topology]:
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(DEPLOY_DAGSTER / "dagster.yaml", dagster_home / "dagster.yaml")
    logs = tmp_path / "logs"
    logs.mkdir()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    storage = conninfo_to_dict(dagster_storage_dsn)
    code_port, web_port = free_port(), free_port()

    env = {key: value for key, value in os.environ.items() if not key.startswith(("WAREHOUSE_", "DAGSTER_"))}
    env.update({
        # What docker-compose.yml sets, pointed at this machine.
        "DAGSTER_HOME": str(dagster_home),
        # dagster-postgres builds postgresql://user@host:port/db; an empty host makes libpq
        # use PGHOST, which may name the test server's socket directory.
        "DAGSTER_PG_HOST": "",
        "PGHOST": str(storage.get("host") or "localhost"),
        "DAGSTER_PG_PORT": str(storage.get("port") or "5432"),
        "DAGSTER_PG_USER": str(storage.get("user") or "postgres"),
        "DAGSTER_PG_PASSWORD": str(storage.get("password") or ""),
        "DAGSTER_PG_DB": str(storage["dbname"]),
        "DAGSTER_COMPUTE_LOGS_DIR": str(tmp_path / "compute_logs"),
        "DAGSTER_CODE_SERVER_HOST": "127.0.0.1",
        "DAGSTER_CODE_SERVER_PORT": str(code_port),
        "WAREHOUSE_ENV": "prod",
        "WAREHOUSE_TARGET": "postgres",
        "WAREHOUSE_PG_DSN": logins.loader,
        "WAREHOUSE_TRANSFORMER_PG_DSN": logins.transformer,
        "WAREHOUSE_DATA_DIR": str(data_dir),
        "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "unused.duckdb"),
        # Only the CLI's in-process runs use this one; keep it away from the developer's.
        "WAREHOUSE_DAGSTER_HOME": str(tmp_path / "cli_dagster_home"),
        "WAREHOUSE_DUMP_SENSOR_INTERVAL_SECONDS": "5",
        "WAREHOUSE_LOG_FORMAT": "json",
    })
    workspace = str(DEPLOY_DAGSTER / "workspace.yaml")
    commands = {
        "code-server": [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(code_port),
                        "-m", "orchestration.definitions", "--location-name", "gridwarehouse"],
        "webserver": [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port), "-w", workspace],
        "daemon": [str(BIN / "dagster-daemon"), "run", "-w", workspace],
    }
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, command in commands.items():
            # cwd outside the project: no developer's .env is read. A session of its own
            # per process, so the teardown ends each one with everything it started.
            with (logs / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log,
                                                   stderr=subprocess.STDOUT, start_new_session=True)
        yield Topology(processes, logs, f"http://127.0.0.1:{web_port}/graphql")
    finally:
        for process in processes.values():
            stop(process)


def sensor_runs(topology: Topology) -> list[dict]:
    answer = topology.query(RUNS_QUERY)["runsOrError"]
    assert answer["__typename"] == "Runs", answer
    return answer["results"]


def run_messages(topology: Topology, run_id: str) -> list[str]:
    messages, cursor = [], None
    while True:
        answer = topology.query(LOGS_QUERY, {"runId": run_id, "cursor": cursor})["logsForRun"]
        messages += [event["message"] for event in answer["events"] if "message" in event]
        if not answer["hasMore"]:
            return messages
        cursor = answer["cursor"]


def test_a_dropped_dump_is_loaded_and_modelled_by_the_deployed_processes(topology: Topology, logins: Logins,
                                                                          tmp_path: Path) -> None:
    location_loaded = """{ workspaceOrError { ... on Workspace { locationEntries {
        name locationOrLoadError { __typename } } } } }"""

    def code_location_ready() -> bool:
        entries = topology.query(location_loaded)["workspaceOrError"]["locationEntries"]
        return [(entry["name"], (entry["locationOrLoadError"] or {}).get("__typename")) for entry in entries] == [
            ("gridwarehouse", "RepositoryLocation")]

    wait_for("the webserver to load the code location", code_location_ready, topology, 180)
    assert sensor_runs(topology) == []

    generate_dumps(tmp_path / "data", rows=3_000, seed=11, files=2)

    run = wait_for("a sensor run to finish",
                   lambda: next((run for run in sensor_runs(topology) if run["status"] in TERMINAL), None),
                   topology, RUN_DEADLINE_SECONDS)
    assert (run["jobName"], run["status"]) == ("refresh", "SUCCESS"), topology.tails()

    # The loaders' own log lines are in the run's log, load ids included.
    with psycopg.connect(logins.admin) as conn:
        ledger = dict(conn.execute("SELECT source_file, load_id FROM raw.load_ledger WHERE status = 'loaded'"))
        mart_owners = set(conn.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'analytics'"))
    messages = run_messages(topology, run["runId"])
    assert len(ledger) == 4
    for source_file, load_id in ledger.items():
        assert any(message.startswith(f"load {load_id} of {source_file}:") for message in messages), messages
    # dbt built the marts as the transformer, and an analyst can read every one of them.
    assert mart_owners == {("warehouse_transformer",)}
    with psycopg.connect(logins.analyst) as conn:
        marts = conn.execute("SELECT table_name FROM information_schema.tables "
                             "WHERE table_schema = 'analytics'").fetchall()
        assert marts
        for (table,) in marts:
            conn.execute(f'SELECT count(*) FROM analytics."{table}"').fetchone()
