"""`warehouse serve` as a process: answers over HTTP, and stops promptly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.api.conftest import Served

WAREHOUSE = Path(sys.executable).parent / "warehouse"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(served: Served, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAREHOUSE_")}
    env.update({f"WAREHOUSE_{key.upper()}": str(value) for key, value in served.fields.items()})
    env.update(extra)
    return env


def get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@contextmanager
def serving(served: Served, **extra: str) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    process = subprocess.Popen([str(WAREHOUSE), "serve", "--port", str(port)], env=environment(served, **extra),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(f"{base}/health")
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "warehouse serve did not answer within 60 s"
                time.sleep(0.2)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen) -> float:
    """SIGTERM, as `docker stop` sends it; the seconds until the process is gone."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)
    return time.monotonic() - started


def test_serve_answers_health_and_ready_then_stops_on_sigterm(served: Served) -> None:
    with serving(served) as (process, base):
        health = get(f"{base}/health")
        ready = get(f"{base}/ready")
        seconds = stop(process)
        log = process.stdout.read()

    assert health == (200, {"status": "ok"})
    assert ready[0] == 200 and ready[1]["ready"] is True
    assert seconds < 5
    # uvicorn ends by re-raising the signal it stopped on, as a process killed by it would.
    assert process.returncode in (0, -signal.SIGTERM)
    assert "read API on http://127.0.0.1" in log and "Application shutdown complete" in log


def test_several_workers_serve_and_stop_together(duckdb_served: Served) -> None:
    port = free_port()
    process = subprocess.Popen([str(WAREHOUSE), "serve", "--port", str(port), "--workers", "2"],
                               env=environment(duckdb_served), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answers = [get(f"http://127.0.0.1:{port}/signals")[0] for _ in range(6)]
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        seconds = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
    log = process.stdout.read()

    assert answers == [200] * 6
    assert seconds < 10
    assert log.count("Application startup complete") == 2
    assert '"GET /signals HTTP/1.1" 200' in log


def test_a_token_protected_server(duckdb_served: Served) -> None:
    with serving(duckdb_served, WAREHOUSE_API_TOKENS="s3cret-one,s3cret-two") as (process, base):
        anonymous = get(f"{base}/signals")
        with_token = get(f"{base}/signals", token="s3cret-two")
        probe = get(f"{base}/ready")
        stop(process)

    assert anonymous[0] == 401
    assert with_token[0] == 200 and len(with_token[1]) == 8
    assert probe[0] == 200


def test_sigterm_cuts_a_long_download_within_the_grace_period(duckdb_served: Served) -> None:
    signal_id = duckdb_served.sql("SELECT min(signal_id) FROM analytics.signals")[0][0]
    with serving(duckdb_served) as (process, base):
        download = urllib.request.urlopen(f"{base}/signals/{signal_id}/measurements?format=csv", timeout=30)
        header = download.readline()
        seconds = stop(process)
        download.close()

    assert header == b'"measured_at","value","load_id","duplicates_dropped"\n'
    assert seconds < 8


def test_beyond_the_loopback_without_tokens_it_refuses_to_start(duckdb_served: Served) -> None:
    completed = subprocess.run([str(WAREHOUSE), "serve", "--host", "0.0.0.0", "--port", str(free_port())],
                               env=environment(duckdb_served), capture_output=True, text=True, timeout=60)

    assert completed.returncode == 2
    assert "set WAREHOUSE_API_TOKENS" in completed.stderr


@pytest.mark.parametrize("argument", ["--port=0", "--port=70000"])
def test_a_port_out_of_range_is_a_usage_error(argument: str) -> None:
    completed = subprocess.run([str(WAREHOUSE), "serve", argument], capture_output=True, text=True, timeout=60)

    assert completed.returncode == 2
    assert "--port" in completed.stderr
