"""Who may read: bearer tokens from WAREHOUSE_API_TOKENS, and where tokens are mandatory.

Without tokens the API is open, which is allowed only on the loopback (a developer's
machine, or behind a proxy on the same host); bound to any other address it refuses to
start without them. With tokens, every data endpoint wants `Authorization: Bearer
<token>`; the probes (/health, /ready) and the documentation stay open, for monitors
and container health checks.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Unauthorized

bearer = HTTPBearer(auto_error=False, description="A token of WAREHOUSE_API_TOKENS.")


class TokensRequired(Exception):
    """The API would listen beyond the loopback without a token."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, tokens: frozenset[str]) -> None:
    """Refuse to serve an address beyond the loopback without tokens."""
    if not tokens and not is_loopback(host):
        raise TokensRequired(f"--host {host} listens beyond this machine: set WAREHOUSE_API_TOKENS "
                             "(comma-separated bearer tokens) or serve on 127.0.0.1")


def token_check(tokens: frozenset[str]) -> Callable[..., Awaitable[None]]:
    """The dependency of the data endpoints: passes everyone when `tokens` is empty."""
    encoded = [token.encode() for token in tokens]

    # async: it only compares strings, so it runs on the event loop instead of costing every
    # request a trip through the thread pool (FastAPI runs a plain def dependency there).
    async def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if not encoded:
            return
        if credentials is None:
            raise Unauthorized("this endpoint needs `Authorization: Bearer <token>` "
                               "(a token of WAREHOUSE_API_TOKENS)")
        given = credentials.credentials.encode()
        # Compare with every token in constant time: the answer must not leak a prefix.
        if not any([hmac.compare_digest(given, token) for token in encoded]):
            raise Unauthorized("the bearer token is not one of WAREHOUSE_API_TOKENS")

    return require_token
