"""What the API answers when it cannot: one JSON shape for every 4xx and 5xx.

    {"status": 422, "error": "invalid_parameter", "parameter": "start",
     "expected": "an ISO 8601 date or time ...", "got": "yesterday",
     "message": "start: expected an ISO 8601 date or time ..., got 'yesterday'"}

Handlers raise one of the exception types below; `install_error_handlers` turns them,
FastAPI's own validation errors and unknown routes into that shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Every error response: what went wrong, and for a bad parameter which one and why."""

    status: int
    error: str
    message: str
    parameter: str | None = None
    expected: str | None = None
    got: Any = None


class ApiError(Exception):
    status = 500
    error = "internal_error"

    def __init__(self, message: str, **fields: Any):
        super().__init__(message)
        self.message = message
        self.fields = fields

    def body(self) -> ErrorBody:
        return ErrorBody(status=self.status, error=self.error, message=self.message, **self.fields)


class BadParameter(ApiError):
    """A query or path parameter the API cannot use: names it, what was expected and what came."""

    status = 422
    error = "invalid_parameter"

    def __init__(self, parameter: str, expected: str, got: Any):
        super().__init__(f"{parameter}: expected {expected}, got {got!r}",
                         parameter=parameter, expected=expected, got=got)


class NotFound(ApiError):
    status = 404
    error = "not_found"

    def __init__(self, what: str, parameter: str, value: Any):
        super().__init__(f"no {what} with {parameter} {value!r}", parameter=parameter, got=value)


class Unauthorized(ApiError):
    status = 401
    error = "unauthorized"


class WarehouseUnavailable(ApiError):
    """The warehouse cannot be reached or read as the reader: 503, the reason named."""

    status = 503
    error = "warehouse_unavailable"


class NotPermitted(ApiError):
    """The reader login may not read what an endpoint serves (a deployment without the grant)."""

    status = 503
    error = "not_permitted"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
        return error_response(error.body(), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [_describe(issue) for issue in error.errors()]
        first = problems[0]
        message = "; ".join(f"{p['parameter']}: expected {p['expected']}, got {p['got']!r}" for p in problems)
        return error_response(ErrorBody(status=422, error="invalid_parameter", message=message, **first))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        kind = "not_found" if error.status_code == 404 else "http_error"
        message = f"no such endpoint: {request.url.path}" if error.status_code == 404 else str(error.detail)
        return error_response(ErrorBody(status=error.status_code, error=kind, message=message))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        # The details (SQL, paths) are for the operator's log, not for every client.
        log.exception("unexpected error on %s", request.url.path)
        return error_response(ErrorBody(status=500, error="internal_error",
                                        message=f"{type(error).__name__}; the server's log has the details"))


def error_response(body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(), status_code=body.status, headers=headers)


def _describe(issue: dict[str, Any]) -> dict[str, Any]:
    """One of pydantic's validation issues as parameter, expected, got."""
    location = [str(part) for part in issue.get("loc", ())]
    parameter = location[-1] if location else "?"
    expected = issue.get("msg", "a valid value")
    # pydantic says "Input should be ..."; the body reads "expected ...".
    for prefix in ("Input should be ", "Value error, "):
        if expected.startswith(prefix):
            expected = expected.removeprefix(prefix)
    if issue.get("type") == "missing":
        expected = "a value (the parameter is required)"
    got = issue.get("input")
    if not isinstance(got, (str, int, float, bool, type(None))):
        got = repr(got)
    return {"parameter": parameter, "expected": expected, "got": got}
