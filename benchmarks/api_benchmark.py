"""Benchmark: the read API (`warehouse serve`) against the same queries run directly.

For N rows (default 1M, the refresh benchmark's cached dumps, `--seed 11`), on each target
(DuckDB, PostgreSQL) builds a warehouse with `warehouse run`, starts `warehouse serve` as a
process of its own and, in the same run, times three workloads twice: over HTTP, and
directly through the database driver with the very statements the API runs
(api/queries.py) — the ceiling:

  hourly month   C concurrent clients for S seconds, each asking for a month of hourly
                 values of a random signal (one page of ~720 rows, JSON)
  raw day        the same for a day of raw readings of a random signal (one page, JSON)
  csv stream     C/4 clients (at least 1) downloading every reading of a random signal as
                 CSV (`format=csv`, streamed); the ceiling reads the same statement in
                 Arrow batches and writes the same CSV to nowhere

and, over HTTP only, `GET /health` from C clients: a request that reads nothing, the most
any endpoint of this server process can answer on this machine (the HTTP stack's own
ceiling, next to the database's).

Both sides draw the same sequence of random requests (seeded). The HTTP clients are
threads of this process on persistent connections (http.client), the direct side a
connection per thread (DuckDB: a cursor of one read-only connection, as the API does).
Prints requests/s, p50 and p99 latency and the ratio API / direct for each workload and
target; the figures also go to benchmarks/out/api-<N>.json.

The machine is small (2 cores) and shared: the clients, the server and the database
compete for the same cores, and other jobs' load inflates everything. The load average
is printed with each line; compare figures taken under similar load.

    .venv/bin/python benchmarks/api_benchmark.py                      # 1M rows, both targets
    .venv/bin/python benchmarks/api_benchmark.py --rows 10000000 --seconds 30
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from refresh_benchmark import OUT_DIR, Deployment, _measurement_dumps, _postgres_server, cached_dumps  # noqa: E402

from api import queries  # noqa: E402
from api.readers import open_readers  # noqa: E402
from api.streaming import arrow_schema, conform  # noqa: E402
from kernel.settings import Settings  # noqa: E402

BIN = Path(sys.executable).parent
WORKLOADS = ("hourly month", "raw day", "csv stream")
HEALTH = "GET /health"  # over HTTP only: no query, no direct side


@dataclass
class Request:
    """One request of a workload: what both sides ask."""

    signal_id: int
    start: datetime
    end: datetime
    resolution: str
    file_format: str

    @property
    def path(self) -> str:
        query = f"resolution={self.resolution}&start={self.start.isoformat()}&end={self.end.isoformat()}"
        if self.file_format == "json":
            return f"/signals/{self.signal_id}/measurements?{query}&limit=10000"
        return f"/signals/{self.signal_id}/measurements?{query}&format={self.file_format}"


@dataclass
class Figures:
    target: str
    rows: int
    workload: str
    side: str  # "api" or "direct"
    clients: int
    requests: int
    seconds: float
    rows_returned: int
    p50_ms: float
    p99_ms: float
    load_average: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def main() -> None:
    args = _arguments()
    dumps = args.dumps or cached_dumps(args.rows, args.files, args.seed)
    server_dsn, stop_server = (None, lambda: None)
    if "postgres" in args.targets:
        server_dsn, stop_server = _postgres_server(args.pg_dsn or os.environ.get("WAREHOUSE_BENCH_PG_DSN"))
    results: list[Figures] = []
    try:
        for target in args.targets:
            deployment = Deployment.create(target, args.rows, server_dsn)
            try:
                results += bench_target(deployment, dumps, args)
            finally:
                if not args.keep:
                    deployment.drop_database(server_dsn)
                    shutil.rmtree(deployment.root, ignore_errors=True)
    finally:
        stop_server()
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / f"api-{args.rows}.json"
    out.write_text(json.dumps([{**asdict(f), "per_second": f.per_second} for f in results], indent=2))
    print_table(results)
    print(f"\nfigures in {out.relative_to(BENCH_DIR.parent)}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated dumps")
    parser.add_argument("--files", type=int, default=100, help="measurement dumps to split them over")
    parser.add_argument("--seed", type=int, default=11, help="seed of the generated dumps")
    parser.add_argument("--dumps", type=Path, default=None, help="a folder of dumps to use instead")
    parser.add_argument("--targets", type=lambda text: text.split(","), default=["duckdb", "postgres"],
                        help="comma-separated: duckdb,postgres")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients of the page workloads")
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of each workload and side")
    parser.add_argument("--workers", type=int, default=1, help="`warehouse serve --workers`")
    parser.add_argument("--pg-dsn", default=None, help="PostgreSQL server to create the database on")
    parser.add_argument("--keep", action="store_true", help="keep the warehouses (temp folders, databases)")
    return parser.parse_args()


def bench_target(deployment: Deployment, dumps: Path, args: argparse.Namespace) -> list[Figures]:
    from loaders.sources import assets, signals

    deployment.add_dumps([dumps / assets.FILE_NAME, dumps / signals.FILE_NAME, *_measurement_dumps(dumps)])
    started = time.perf_counter()
    build = deployment.run("full", len(_measurement_dumps(dumps)))
    print(f"{deployment.target}: built {args.rows:,} rows in {time.perf_counter() - started:.0f} s "
          f"(log {build.log})", flush=True)
    env = deployment.environment()
    settings = Settings(_env_file=None, target=deployment.target, duckdb_path=deployment.duckdb_path,
                        pg_dsn=deployment.pg_dsn)
    plans = plan_requests(settings, seed=args.seed)
    port = _free_port()
    log = (deployment.root / "logs" / "serve.log").open("wb")
    server = subprocess.Popen([str(BIN / "warehouse"), "serve", "--port", str(port), "--workers",
                               str(args.workers)], env=env,
                              cwd=deployment.root, stdout=log, stderr=subprocess.STDOUT)
    figures = []
    try:
        _wait_until_ready(port)
        for workload in WORKLOADS:
            clients = max(args.clients // 4, 1) if workload == "csv stream" else args.clients
            api = run_clients(lambda: _http_client(port), plans[workload], clients, args.seconds)
            figures.append(_figures(deployment, workload, "api", clients, *api))
            _print_line(figures[-1])
            # The server process holds its DuckDB file open only while it is busy; the
            # direct side opens it read-only as well, which DuckDB allows.
            direct = run_clients(lambda: _direct_client(settings), plans[workload], clients, args.seconds)
            figures.append(_figures(deployment, workload, "direct", clients, *direct))
            _print_line(figures[-1])
        health = run_clients(lambda: _health_client(port), [None], args.clients, args.seconds)  # type: ignore[list-item]
        figures.append(_figures(deployment, HEALTH, "api", args.clients, *health))
        _print_line(figures[-1])
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    return figures


def plan_requests(settings: Settings, seed: int, count: int = 20_000) -> dict[str, list[Request]]:
    """The random requests of each workload, the same for both sides."""
    readers = open_readers(settings.warehouse)
    try:
        with readers.reading() as db:
            spans = db.execute("SELECT signal_id, min(day_utc), max(day_utc) FROM analytics.signal_daily_quality "
                               "WHERE n > 0 GROUP BY signal_id ORDER BY signal_id")
    finally:
        readers.close()
    draw = random.Random(seed)

    def day_of(first: object, last: object, keep_days: int) -> datetime:
        first_day = datetime.combine(first, datetime.min.time())  # type: ignore[arg-type]
        days = max((last - first).days - keep_days, 0)  # type: ignore[operator]
        return first_day + timedelta(days=draw.randint(0, days))

    def requests(resolution: str, file_format: str, days: int | None) -> list[Request]:
        planned = []
        for _ in range(count):
            signal_id, first, last = draw.choice(spans)
            if days is None:
                start = datetime.combine(first, datetime.min.time())
                end = datetime.combine(last, datetime.min.time()) + timedelta(days=1)
            else:
                start = day_of(first, last, days)
                end = start + timedelta(days=days)
            planned.append(Request(signal_id, start, end, resolution, file_format))
        return planned

    return {"hourly month": requests("hourly", "json", 30), "raw day": requests("raw", "json", 1),
            "csv stream": requests("raw", "csv", None)}


# --- the two sides ----------------------------------------------------------------------------

Client = Callable[[Request], int]  # runs one request, returns the rows it got


def _http_client(port: int) -> tuple[Client, Callable[[], None]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def ask(request: Request) -> int:
        connection.request("GET", request.path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{request.path}: {response.status} {body[:300]!r}")
        if request.file_format == "csv":
            return body.count(b"\n") - 1
        return len(json.loads(body)["rows"])

    return ask, connection.close


def _health_client(port: int) -> tuple[Client, Callable[[], None]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def ask(_request: Request) -> int:
        connection.request("GET", "/health")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"/health: {response.status} {body[:300]!r}")
        return 0

    return ask, connection.close


def _direct_client(settings: Settings) -> tuple[Client, Callable[[], None]]:
    """The API's own statements through the same kind of reader connection, no HTTP."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    readers = _shared_readers(settings)

    def ask(request: Request) -> int:
        resolution = queries.RESOLUTIONS[request.resolution]
        span = queries.TimeRange(request.start, request.end)
        with readers.reading() as db:
            if request.file_format == "json":
                statement = queries.measurements_query(resolution, resolution.columns, request.signal_id, span,
                                                       None, 10_000)
                return len(db.execute(statement.statement, statement.params)[:10_000])
            statement = queries.measurements_query(resolution, resolution.columns, request.signal_id, span,
                                                   None, None)
            schema = arrow_schema(resolution.columns)
            writer = pacsv.CSVWriter(pa.BufferOutputStream(), schema)
            rows = 0
            for batch in db.iter_batches(statement.statement, statement.params, batch_rows=50_000):
                writer.write_batch(conform(batch, schema))
                rows += batch.num_rows
            writer.close()
            return rows

    return ask, lambda: None


_readers_lock = threading.Lock()
_readers: dict[str, object] = {}


def _shared_readers(settings: Settings):
    # One set of readers for every direct client of a target, as the server has: one
    # read-only DuckDB file, or a pool as large as the clients are many.
    with _readers_lock:
        key = settings.warehouse.label
        if key not in _readers:
            _readers[key] = open_readers(settings.warehouse, pool_size=64)
        return _readers[key]


def run_clients(make_client: Callable[[], tuple[Client, Callable[[], None]]], plan: list[Request],
                clients: int, seconds: float) -> tuple[int, float, int, list[float]]:
    """Requests done, seconds taken, rows returned and each request's latency."""
    latencies: list[float] = []
    returned = [0]
    done = threading.Lock()
    cursor = itertools.cycle(plan)
    deadline = time.perf_counter() + seconds
    start_line = threading.Barrier(clients + 1)
    failures: list[BaseException] = []

    def work() -> None:
        ask, close = make_client()
        start_line.wait()
        try:
            while time.perf_counter() < deadline:
                with done:
                    request = next(cursor)
                began = time.perf_counter()
                rows = ask(request)
                took = time.perf_counter() - began
                with done:
                    latencies.append(took)
                    returned[0] += rows
        except BaseException as error:  # noqa: BLE001 (reported after the run)
            failures.append(error)
        finally:
            close()

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return len(latencies), time.perf_counter() - began, returned[0], latencies


def _figures(deployment: Deployment, workload: str, side: str, clients: int, requests: int, seconds: float,
             rows: int, latencies: list[float]) -> Figures:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")
    return Figures(deployment.target, deployment.rows, workload, side, clients, requests, seconds, rows,
                   1000 * statistics.median(ordered) if ordered else float("nan"), 1000 * p99,
                   os.getloadavg()[0])


# --- output -----------------------------------------------------------------------------------

def _print_line(f: Figures) -> None:
    print(f"  {f.target:8} {f.workload:12} {f.side:6} {f.clients:3} clients {f.per_second:8.1f} req/s "
          f"{f.rows_returned / f.seconds:11,.0f} rows/s  p50 {f.p50_ms:7.1f} ms  p99 {f.p99_ms:7.1f} ms  "
          f"load {f.load_average:.1f}", flush=True)


def print_table(results: list[Figures]) -> None:
    print("\n| rows | target | workload | clients | API req/s | direct req/s | API / direct | "
          "API p50 ms | API p99 ms | direct p50 ms | direct p99 ms | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    pairs: dict[tuple[str, str], dict[str, Figures]] = {}
    for figures in results:
        pairs.setdefault((figures.target, figures.workload), {})[figures.side] = figures
    for (target, workload), sides in pairs.items():
        api, direct = sides["api"], sides.get("direct")
        if direct is None:
            print(f"| {api.rows:,} | {target} | {workload} | {api.clients} | {api.per_second:.1f} | — | — | "
                  f"{api.p50_ms:.1f} | {api.p99_ms:.1f} | — | — | {api.load_average:.1f} |")
            continue
        print(f"| {api.rows:,} | {target} | {workload} | {api.clients} | {api.per_second:.1f} | "
              f"{direct.per_second:.1f} | {api.per_second / direct.per_second:.2f} | {api.p50_ms:.1f} | "
              f"{api.p99_ms:.1f} | {direct.p50_ms:.1f} | {direct.p99_ms:.1f} | "
              f"{max(api.load_average, direct.load_average):.1f} |")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/ready")
            response = connection.getresponse()
            body = response.read()
            if response.status == 200:
                return
            raise RuntimeError(f"warehouse serve is not ready: {body[:500]!r}")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


if __name__ == "__main__":
    main()
