"""One writer per warehouse at a time, through a lock that dies with its holder.

The holder is a real second process (the lock is about processes): it takes the lock and
names itself, a writer here waits and gives up naming it, and once the holder is
SIGKILLed the lock is free at once, on both warehouses.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.database import WarehouseBusyError
from kernel.writer_lock import writer_lock
from kernel.settings import Settings

TARGETS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
HOLDER_SCRIPT = """
import time
from kernel.writer_lock import writer_lock
from kernel.settings import load_settings

with writer_lock(load_settings().warehouse, run_id="run-holding-the-lock"):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.fixture(params=TARGETS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgres":
        return Settings(target="postgres", pg_dsn=request.getfixturevalue("pg_dsn"))
    return Settings(target="duckdb", duckdb_path=tmp_path / "w.duckdb")


@pytest.fixture
def holder(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """Another process holding the writer lock until it is killed."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAREHOUSE_")}
    env.update({"WAREHOUSE_TARGET": settings.target, "WAREHOUSE_DUCKDB_PATH": str(settings.duckdb_path)})
    if settings.pg_dsn:
        env["WAREHOUSE_PG_DSN"] = settings.pg_dsn
    process = subprocess.Popen([sys.executable, "-c", HOLDER_SCRIPT], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked"
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_second_writer_gives_up_after_its_wait_naming_the_holder(
        settings: Settings, holder: subprocess.Popen) -> None:
    started = time.monotonic()
    with pytest.raises(WarehouseBusyError) as busy, writer_lock(settings.warehouse, wait_seconds=1.0):
        pass
    assert 1.0 <= time.monotonic() - started < 5
    message = str(busy.value)
    if settings.target == "duckdb":
        assert f"pid {holder.pid} on host {socket.gethostname()}" in message
        assert "run-holding-the-lock" in message
        assert f"kill {holder.pid}" in message
    else:
        assert f"gridwarehouse-writer pid={holder.pid}@{socket.gethostname()}"[:63] in message
        assert "pg_terminate_backend(" in message
    assert "still busy after 1 s" in message


def test_the_lock_dies_with_a_sigkilled_holder(settings: Settings, holder: subprocess.Popen) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    # PostgreSQL ends the dead client's session as soon as it sees the socket closed.
    with writer_lock(settings.warehouse, wait_seconds=5.0):
        pass


def test_a_second_writer_waits_until_the_first_is_done(settings: Settings) -> None:
    order: list[str] = []
    first_has_lock = threading.Event()

    def first_writer() -> None:
        with writer_lock(settings.warehouse):
            first_has_lock.set()
            time.sleep(0.5)
            order.append("first done")

    thread = threading.Thread(target=first_writer)
    thread.start()
    assert first_has_lock.wait(10)
    with writer_lock(settings.warehouse):
        order.append("second has lock")
    thread.join()
    assert order == ["first done", "second has lock"]


def test_a_step_holding_the_lock_can_call_the_loaders_which_take_it_again(settings: Settings) -> None:
    outsider_errors: list[BaseException] = []
    with writer_lock(settings.warehouse, wait_seconds=1.0, run_id="step"):
        with writer_lock(settings.warehouse, wait_seconds=1.0):  # would wait for itself if not shared
            pass
        # Still held after the nested claim ended: another thread cannot get in.
        outsider = threading.Thread(target=_take_briefly, args=(settings, outsider_errors))
        outsider.start()
        outsider.join()
    assert [type(error) for error in outsider_errors] == [WarehouseBusyError]


def _take_briefly(settings: Settings, errors: list[BaseException]) -> None:
    try:
        with writer_lock(settings.warehouse, wait_seconds=0.3):
            pass
    except BaseException as error:
        errors.append(error)
