"""`warehouse serve`: the read API under uvicorn, in this process.

uvicorn stops on SIGINT and SIGTERM (docker stop): it stops accepting, lets the requests
in flight finish for at most `GRACEFUL_SHUTDOWN_SECONDS` (a long download is cut then),
closes the readers and exits 0. Its log lines go through the warehouse's own logging
(text or JSON, WAREHOUSE_LOG_FORMAT), like every other command's.
"""

from __future__ import annotations

import logging

from api.app import create_app
from api.auth import TokensRequired, check_binding
from kernel.logging_config import configure_logging
from kernel.settings import Settings

GRACEFUL_SHUTDOWN_SECONDS = 5
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

__all__ = ["TokensRequired", "serve"]


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Serve the API on host:port until stopped; TokensRequired when the address needs tokens.

    With several `workers`, uvicorn runs that many processes, each with the app and
    readers of its own, made from the environment (`app_from_environment`): the caller
    puts any setting it overrides there first.
    """
    import uvicorn

    check_binding(host, settings.api_token_set)
    _route_logs(settings)
    logging.getLogger("api").info(
        "read API on http://%s:%s (docs at /docs) over %s as reader; bearer tokens %s", host, port,
        settings.warehouse.label, "required" if settings.api_token_set else "off (loopback only)")
    options = {"host": host, "port": port, "log_config": None, "server_header": False,
               "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS}
    if workers > 1:
        uvicorn.run("api.server:app_from_environment", factory=True, workers=workers, **options)
        return
    uvicorn.Server(uvicorn.Config(create_app(settings), **options)).run()


def app_from_environment():  # noqa: ANN201 (FastAPI, imported lazily)
    """The app of one worker process: settings read again from the environment."""
    from kernel.settings import load_settings

    settings = load_settings()
    _route_logs(settings)
    return create_app(settings)


def _route_logs(settings: Settings) -> None:
    """uvicorn's and the API's log lines through the warehouse's handler, once each."""
    handler = configure_logging(settings)
    for name in ("api", *UVICORN_LOGGERS):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(settings.log_level)
        logger.propagate = False
