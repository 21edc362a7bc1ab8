"""`warehouse sql`: the analysts' read-only view of either warehouse, as a process of its own."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from kernel.database import Warehouse, connect
from kernel.reader_snapshot import publish_reader_snapshot

WAREHOUSE = Path(sys.executable).parent / "warehouse"
READINGS = 1234
# analytics.measurements as the marts shape it, with READINGS rows.
CREATE_MEASUREMENTS = [
    "CREATE SCHEMA analytics",
    "CREATE TABLE analytics.measurements (signal_id bigint, measured_at timestamp, value double precision)",
    f"INSERT INTO analytics.measurements SELECT n % 7, TIMESTAMP '2021-11-07 00:00:00' + n * INTERVAL '1 minute', "
    f"n / 4.0 FROM {{series}}",
]


def environment(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WAREHOUSE_", "DAGSTER_"))}
    env.update({f"WAREHOUSE_{name.upper()}": value for name, value in settings.items()})
    return env


def warehouse_sql(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(WAREHOUSE), "sql", *args], env=env, input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def duckdb_env(tmp_path: Path) -> dict[str, str]:
    """A DuckDB warehouse with analytics.measurements, its analysts' copy published."""
    warehouse = Warehouse(target="duckdb", duckdb_path=tmp_path / "warehouse.duckdb",
                          reader_path=tmp_path / "analysts.duckdb")
    with connect(warehouse, "loader") as db:
        for statement in CREATE_MEASUREMENTS:
            db.execute(statement.format(series=f"range(1, {READINGS + 1}) AS t(n)"))
    publish_reader_snapshot(warehouse)
    return environment(target="duckdb", duckdb_path=str(warehouse.duckdb_path))


@pytest.fixture
def postgres_env(pg_server_dsn: str, pg_dsn: str) -> Iterator[dict[str, str]]:
    """A PostgreSQL warehouse with analytics.measurements and an analyst login that may read it."""
    analyst = f"analyst_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for statement in CREATE_MEASUREMENTS:
            conn.execute(statement.format(series=f"generate_series(1, {READINGS}) AS t(n)"))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(analyst)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA analytics TO {}").format(sql.Identifier(analyst)))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO {}").format(sql.Identifier(analyst)))
    yield environment(target="postgres", pg_dsn=pg_dsn, reader_pg_dsn=make_conninfo(pg_dsn, user=analyst))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(analyst)))
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(analyst)))


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest) -> dict[str, str]:
    return request.getfixturevalue(f"{request.param}_env")


def test_a_count_prints_as_csv(env: dict[str, str]) -> None:
    completed = warehouse_sql(env, "select count(*) as readings from analytics.measurements", "--format", "csv")
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, f"readings\n{READINGS}\n", "")


def test_rows_print_as_json_objects(env: dict[str, str]) -> None:
    completed = warehouse_sql(env, "select signal_id, measured_at, value from analytics.measurements "
                                   "order by measured_at limit 2", "--format", "json")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == [
        {"signal_id": 1, "measured_at": "2021-11-07T00:01:00", "value": 0.25},
        {"signal_id": 2, "measured_at": "2021-11-07T00:02:00", "value": 0.5},
    ]


def test_a_table_is_drawn_with_its_header_and_rows(env: dict[str, str]) -> None:
    completed = warehouse_sql(env, "select signal_id, count(*) as n from analytics.measurements "
                                   "group by 1 order by 1 limit 3", "--format", "table")
    assert completed.returncode == 0, completed.stderr
    # The words of each line, without the rules drawn between them.
    lines = [[word for word in line.split() if word.replace("_", "").isalnum()]
             for line in completed.stdout.splitlines()]
    assert [line for line in lines if line] == [["signal_id", "n"], ["0", "176"], ["1", "177"], ["2", "177"]]
    assert "(3 rows)" in completed.stderr


def test_without_a_terminal_the_output_is_csv(env: dict[str, str]) -> None:
    completed = warehouse_sql(env, "select 1 as one")
    assert (completed.returncode, completed.stdout) == (0, "one\n1\n")


def test_queries_piped_into_stdin_each_print_their_result(env: dict[str, str]) -> None:
    completed = warehouse_sql(env, "--format", "csv", stdin="select 1 as a;\nselect count(*) as n\n"
                                                            "from analytics.measurements;\n")
    assert completed.returncode == 0, completed.stderr
    assert list(csv.reader(io.StringIO(completed.stdout))) == [["a"], ["1"], ["n"], [str(READINGS)]]


@pytest.mark.parametrize("statement", [
    "insert into analytics.measurements values (1, timestamp '2022-01-01 00:00:00', 1.0)",
    "delete from analytics.measurements",
    "create table analytics.mine as select 1 as x",
    "drop table analytics.measurements",
])
def test_a_writing_statement_is_refused_in_one_line(env: dict[str, str], statement: str) -> None:
    completed = warehouse_sql(env, statement)
    assert completed.returncode == 1
    assert completed.stdout == ""
    [line] = completed.stderr.splitlines()
    assert line.startswith("error: ")
    assert "read-only" in line or "permission denied" in line
    assert warehouse_sql(env, "select count(*) from analytics.measurements").stdout.splitlines()[1] == str(READINGS)


def test_a_bad_query_gives_one_line_and_no_traceback(env: dict[str, str]) -> None:
    completed = warehouse_sql(env, "select count(*) from analytics.no_such_table")
    assert completed.returncode == 1
    [line] = completed.stderr.splitlines()
    assert line.startswith("error: ") and "no_such_table" in line
    assert "Traceback" not in completed.stderr


def test_debug_shows_the_traceback(env: dict[str, str]) -> None:
    completed = warehouse_sql(env, "selec 1", "--debug")
    assert completed.returncode == 1
    assert "Traceback" in completed.stderr and "QueryError" in completed.stderr


class Terminal:
    """`warehouse sql` on a pseudo-terminal, typed into like a person would."""

    def __init__(self, env: dict[str, str]):
        import pty

        self.master, replica = pty.openpty()
        self.process = subprocess.Popen([str(WAREHOUSE), "sql"], stdin=replica, stdout=replica, stderr=replica,
                                        env={**env, "COLUMNS": "120", "TERM": "dumb"})
        os.close(replica)
        self.screen = ""

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """Everything shown up to `text`, once it has shown (in the order it came)."""
        import re
        import select
        import time

        deadline = time.monotonic() + timeout
        while text not in self.screen:
            assert time.monotonic() < deadline, f"{text!r} never showed; the screen: {self.screen!r}"
            if select.select([self.master], [], [], 0.2)[0]:
                self.screen += re.sub(r"\x1b\[[0-9;]*m", "", os.read(self.master, 65536).decode())
        shown, self.screen = self.screen.split(text, 1)
        return shown + text


def test_at_a_terminal_a_prompt_takes_queries_until_quit(duckdb_env: dict[str, str], tmp_path: Path) -> None:
    terminal = Terminal(duckdb_env)
    try:
        terminal.wait_for("warehouse> ")
        terminal.type("select count(*) as readings")
        terminal.type("from analytics.measurements;")
        assert str(READINGS) in terminal.wait_for("(1 row)")
        terminal.type("select * from nowhere;")
        terminal.wait_for("error: ")
        assert "nowhere" in terminal.wait_for("\n")
        # A run publishes a new copy meanwhile: the next query reads it.
        warehouse = Warehouse(target="duckdb", duckdb_path=tmp_path / "warehouse.duckdb",
                              reader_path=tmp_path / "analysts.duckdb")
        with connect(warehouse, "loader") as db:
            db.execute("DELETE FROM analytics.measurements WHERE signal_id = 0")
        publish_reader_snapshot(warehouse)
        terminal.wait_for("warehouse> ")
        terminal.type("select count(*) as readings from analytics.measurements;")
        shown = terminal.wait_for("(1 row)")
        assert "a newer copy of the warehouse was published" in shown
        assert str(READINGS - READINGS // 7) in shown
        terminal.type("\\q")
        assert terminal.process.wait(timeout=30) == 0
    finally:
        terminal.process.kill()
        os.close(terminal.master)


@pytest.mark.postgres
def test_postgres_sessions_are_read_only_even_on_a_login_that_may_write(postgres_env: dict[str, str]) -> None:
    owner = {key: value for key, value in postgres_env.items() if key != "WAREHOUSE_READER_PG_DSN"}
    completed = warehouse_sql(owner, "delete from analytics.measurements")
    assert completed.returncode == 1
    assert completed.stderr.strip() == "error: cannot execute DELETE in a read-only transaction"


def test_before_any_run_duckdb_says_there_is_no_copy_yet(tmp_path: Path) -> None:
    completed = warehouse_sql(environment(duckdb_path=str(tmp_path / "warehouse.duckdb")), "select 1")
    assert completed.returncode == 1
    assert completed.stderr.strip() == (
        f"error: the analysts' copy {tmp_path / 'analysts.duckdb'} does not exist yet: it is published "
        "after each successful `warehouse run` or `warehouse load`")


def test_an_unreachable_server_gives_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    completed = warehouse_sql(environment(target="postgres",
                                          pg_dsn=f"postgresql://someone@127.0.0.1:{port}/gridwarehouse_dev"),
                              "select 1")
    assert completed.returncode == 1
    [line] = completed.stderr.splitlines()
    assert line.startswith(f"error: cannot connect to PostgreSQL at someone@127.0.0.1:{port}/gridwarehouse_dev "
                           "as reader")
