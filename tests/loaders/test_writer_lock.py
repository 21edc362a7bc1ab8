"""Two loaders never write one PostgreSQL warehouse at the same time."""

from __future__ import annotations

import threading
import time

import pytest

from loaders.errors import WarehouseBusyError
from loaders.sinks.postgres import PostgresSink

pytestmark = pytest.mark.postgres


def test_second_writer_gives_up_after_its_lock_timeout(pg_dsn: str) -> None:
    with PostgresSink(pg_dsn) as first, first.writer_lock():
        with PostgresSink(pg_dsn, lock_timeout_seconds=0.3) as second:
            with pytest.raises(WarehouseBusyError), second.writer_lock():
                pass


def test_second_writer_waits_until_the_first_is_done(pg_dsn: str) -> None:
    order: list[str] = []
    first_has_lock = threading.Event()

    def first_writer() -> None:
        with PostgresSink(pg_dsn) as sink, sink.writer_lock():
            first_has_lock.set()
            time.sleep(0.5)
            order.append("first done")

    thread = threading.Thread(target=first_writer)
    thread.start()
    first_has_lock.wait(5)
    with PostgresSink(pg_dsn) as sink, sink.writer_lock():
        order.append("second has lock")
    thread.join()
    assert order == ["first done", "second has lock"]
