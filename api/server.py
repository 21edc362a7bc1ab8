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


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the API on host:port until stopped; TokensRequired when the address needs tokens."""
    import uvicorn

    check_binding(host, settings.api_token_set)
    handler = configure_logging(settings)
    for name in ("api", *UVICORN_LOGGERS):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(settings.log_level)
        logger.propagate = False
    logging.getLogger("api").info(
        "read API on http://%s:%s (docs at /docs) over %s as reader; bearer tokens %s", host, port,
        settings.warehouse.label, "required" if settings.api_token_set else "off (loopback only)")
    config = uvicorn.Config(create_app(settings), host=host, port=port, log_config=None,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS, server_header=False)
    uvicorn.Server(config).run()
