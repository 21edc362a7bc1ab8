"""The FastAPI application: routes, parameters, documentation; the work is in the modules.

    GET /health                               the process is up (liveness)
    GET /ready                                200 or 503: database reachable, marts fresh
    GET /assets, /assets/{asset_id}           substations (with their signals)
    GET /signals, /signals/{signal_id}        signals, filtered by asset_id and unit
    GET /signals/{signal_id}/measurements     readings or aggregates; pages, or CSV/Parquet streams
    GET /signals/{signal_id}/quality          signal_daily_quality, by day
    GET /loads, /loads/{load_id}/rejected     the load ledger and rejected lines, for operators

Endpoints are plain functions: FastAPI runs them in its thread pool, where the database
drivers (which block) belong. OpenAPI at /openapi.json, interactive docs at /docs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Annotated, Literal, Union

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, TypeAdapter

from api import models, queries
from api.auth import token_check
from api.errors import BadParameter, ErrorBody, install_error_handlers
from api.paging import DEFAULT_PAGE_ROWS, MAX_PAGE_ROWS
from api.readers import Readers, open_readers
from api.readiness import assess
from api.streaming import MEDIA_TYPES, stream_rows
from kernel.settings import Settings

ERRORS = {status: {"model": ErrorBody} for status in (401, 404, 422, 503)}
# What a JSON page of measurements holds, per resolution: documented as the choice of them.
MEASUREMENT_PAGES = {name: models.MeasurementsPage[resolution.row_type]  # type: ignore[name-defined]
                     for name, resolution in queries.RESOLUTIONS.items()}

Start = Annotated[str | None, Query(description=f"Start of the range, inclusive: {queries.TIME_EXPECTED} "
                                                "(naive times are UTC). Open when left out.")]
End = Annotated[str | None, Query(description="End of the range, exclusive; after start. Open when left out.")]
Cursor = Annotated[str | None, Query(description="The `next` value of the previous page.")]
Limit = Annotated[int, Query(ge=1, description=f"Rows per page, at most {MAX_PAGE_ROWS}.")]


def page_limit(limit: int) -> int:
    if limit > MAX_PAGE_ROWS:
        raise BadParameter("limit", f"at most {MAX_PAGE_ROWS} rows per page (follow `next` for more, or "
                                    "ask for format=csv or parquet to stream a whole range)", limit)
    return limit


def next_url(request: Request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    url = request.url.include_query_params(cursor=cursor)
    return f"{url.path}?{url.query}"


@cache
def _adapter(kind: type) -> TypeAdapter:
    return TypeAdapter(kind)


def json_body(value: BaseModel | list[BaseModel], kind: type) -> Response:
    """`value` serialised once by pydantic: the route's response_model documents it, and
    FastAPI's own path (dump, validate again, encode) would take several times as long."""
    return Response(_adapter(kind).dump_json(value), media_type="application/json")


ROWS_LAST = b'"rows":[]}'


def page_body(page: models.Page, rows: queries.PageRows) -> Response:
    """A page whose rows are already JSON (api/page_json.py): pydantic writes the page's own
    fields (built with no rows) and the rows' array is put in as it is. The route's
    response_model documents the whole page."""
    head = page.__pydantic_serializer__.to_json(page)
    # `rows` is every page model's last field.
    assert head.endswith(ROWS_LAST), head[-40:]
    return Response(b"".join((head[:-3], rows.json, b"}")), media_type="application/json")


def create_app(settings: Settings, readers: Readers | None = None) -> FastAPI:
    """The read API over `settings.warehouse`, as the reader; `readers` closes with the app."""
    readers = readers or open_readers(settings.warehouse, pool_size=settings.api_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        readers.close()

    app = FastAPI(
        title="gridwarehouse read API",
        version="1",
        summary="Assets, signals, measurements at any resolution, data quality and loads of the "
                "grid telemetry warehouse, read-only.",
        description="Every answer is what the same SQL over the `analytics` schema gives. Times are "
                    "UTC. Pages follow `next`; `format=csv|parquet` streams a whole range.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    if settings.api_cors_origin_list:
        app.add_middleware(CORSMiddleware, allow_origins=settings.api_cors_origin_list,
                           allow_methods=["GET"], allow_headers=["Authorization"])
    app.include_router(_probes(readers, settings))
    app.include_router(_data(readers), dependencies=[Depends(token_check(settings.api_token_set))])
    return app


def _probes(readers: Readers, settings: Settings) -> APIRouter:
    router = APIRouter(tags=["probes"])

    @router.get("/health", response_model=models.Health, summary="The process is up (liveness)")
    def health() -> models.Health:
        return models.Health()

    @router.get("/ready", response_model=models.Readiness, responses={503: {"model": models.Readiness}},
                summary="Ready to serve fresh data (readiness): 503 names the condition that failed")
    def ready() -> JSONResponse:
        readiness = assess(readers, settings.ready_max_age)
        return JSONResponse(readiness.model_dump(mode="json"), status_code=200 if readiness.ready else 503)

    return router


def _data(readers: Readers) -> APIRouter:
    router = APIRouter(responses=ERRORS)

    @router.get("/assets", response_model=list[models.Asset], tags=["catalogue"],
                summary="Every asset (substation)")
    def list_assets() -> Response:
        with readers.reading() as db:
            return json_body(queries.assets(db), list[models.Asset])

    @router.get("/assets/{asset_id}", response_model=models.AssetWithSignals, tags=["catalogue"],
                summary="One asset with its signals")
    def get_asset(asset_id: Annotated[int, Path()]) -> Response:
        with readers.reading() as db:
            return json_body(queries.asset(db, asset_id), models.AssetWithSignals)

    @router.get("/signals", response_model=list[models.Signal], tags=["catalogue"],
                summary="Signals, optionally of one asset or one unit")
    def list_signals(asset_id: Annotated[int | None, Query(description="Only this asset's signals.")] = None,
                     unit: Annotated[str | None, Query(description="Only signals in this unit (kV, kW, MW, "
                                                                   "MVAr, A).")] = None,
                     ) -> Response:
        with readers.reading() as db:
            return json_body(queries.signals(db, asset_id=asset_id, unit=unit), list[models.Signal])

    @router.get("/signals/{signal_id}", response_model=models.Signal, tags=["catalogue"],
                summary="One signal")
    def get_signal(signal_id: Annotated[int, Path()]) -> Response:
        with readers.reading() as db:
            return json_body(queries.signal(db, signal_id), models.Signal)

    @router.get(
        "/signals/{signal_id}/measurements", response_model=Union[tuple(MEASUREMENT_PAGES.values())],  # noqa: UP007
        tags=["measurements"],
        summary="A signal's readings (raw) or aggregates (15min, hourly, daily) over a time range",
        responses={200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["parquet"]: {}},
                         "description": "JSON: one page. CSV or Parquet: the whole range, streamed."}})
    def measurements(
        request: Request,
        signal_id: Annotated[int, Path()],
        start: Start = None,
        end: End = None,
        resolution: Annotated[Literal["raw", "15min", "hourly", "daily"], Query(
            description="raw: analytics.measurements; 15min: analytics.measurements_15min (once the "
                        "warehouse has it); hourly: analytics.measurements_hourly; daily: the hourly "
                        "rows rolled up per UTC day.")] = "raw",
        format: Annotated[Literal["json", "csv", "parquet"], Query(  # noqa: A002 (the parameter's name)
            description="json: a page of `limit` rows with a `next` cursor; csv, parquet: every row of "
                        "the range (from `cursor` on), streamed.")] = "json",
        cursor: Cursor = None,
        limit: Limit = DEFAULT_PAGE_ROWS,
    ):
        span = queries.TimeRange.parse(start, end)
        chosen = queries.RESOLUTIONS[resolution]
        if format == "json":
            limit = page_limit(limit)
            with readers.reading() as db:
                rows = queries.measurements_page(db, chosen, signal_id, span, cursor, limit)
                if not rows.count:
                    queries.signal(db, signal_id)  # 404 for an unknown signal; a known one has an empty range
            page = MEASUREMENT_PAGES[resolution](signal_id=signal_id, resolution=resolution, start=span.start,
                                                 end=span.end, rows=[], next=rows.next,
                                                 next_url=next_url(request, rows.next))
            return page_body(page, rows)
        # Everything that can fail with a clear error is checked before the first byte.
        with readers.reading() as db:
            queries.signal(db, signal_id)
            columns = queries.available_columns(db, chosen)
        query = queries.measurements_query(chosen, columns, signal_id, span, cursor, None)
        name = f"signal-{signal_id}-{resolution}.{format}"
        return StreamingResponse(stream_rows(readers, query, columns, format), media_type=MEDIA_TYPES[format],
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @router.get("/signals/{signal_id}/quality", response_model=models.QualityPage, tags=["measurements"],
                summary="A signal's daily quality (analytics.signal_daily_quality), by UTC day")
    def quality(request: Request, signal_id: Annotated[int, Path()], start: Start = None, end: End = None,
                cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_ROWS) -> Response:
        span = queries.TimeRange.parse(start, end)
        limit = page_limit(limit)
        with readers.reading() as db:
            rows = queries.quality_page(db, signal_id, span, cursor, limit)
            if not rows.count:
                queries.signal(db, signal_id)
        return page_body(models.QualityPage(signal_id=signal_id, rows=[], next=rows.next,
                                            next_url=next_url(request, rows.next)), rows)

    @router.get("/loads", response_model=models.LoadsPage, tags=["operations"],
                summary="The load ledger (raw.load_ledger), newest first")
    def loads(request: Request,
              status: Annotated[Literal["loaded", "replaced", "failed"] | None,
                                Query(description="Only loads with this status.")] = None,
              cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_ROWS) -> Response:
        limit = page_limit(limit)
        with readers.reading() as db:
            rows = queries.loads_page(db, status, cursor, limit)
        return page_body(models.LoadsPage(rows=[], next=rows.next, next_url=next_url(request, rows.next)), rows)

    @router.get("/loads/{load_id}/rejected", response_model=models.RejectedPage, tags=["operations"],
                summary="The lines of one load that could not be typed (raw.rejected_rows), in file order")
    def rejected(request: Request, load_id: Annotated[int, Path()], cursor: Cursor = None,
                 limit: Limit = DEFAULT_PAGE_ROWS) -> Response:
        limit = page_limit(limit)
        with readers.reading() as db:
            source_file, rows = queries.rejected_page(db, load_id, cursor, limit)
        return page_body(models.RejectedPage(load_id=load_id, source_file=source_file, rows=[], next=rows.next,
                                             next_url=next_url(request, rows.next)), rows)

    return router
