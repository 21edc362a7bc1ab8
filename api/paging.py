"""Keyset pagination: a page ends at a key, and the next page starts after it.

The cursor is opaque to clients: base64url of a small JSON object naming what it pages
(`measurements/hourly`, `quality`, `loads`, ...) and the last key returned. It is bound
to its endpoint and resolution; a cursor from elsewhere is a 422 naming `cursor`. A page
costs the same wherever it is in the range (no OFFSET), and rows added meanwhile after
the cursor still show up exactly once.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from typing import Any

from api.errors import BadParameter

# Rows per page unless `limit` says otherwise, and the most a page may hold.
DEFAULT_PAGE_ROWS = 1_000
MAX_PAGE_ROWS = 10_000

CURSOR_EXPECTED = "the `next` value of a previous page of this same request"


def encode_cursor(kind: str, key: datetime | date | int) -> str:
    if isinstance(key, datetime):
        payload: dict[str, Any] = {"k": kind, "t": key.replace(tzinfo=None).isoformat()}
    elif isinstance(key, date):
        payload = {"k": kind, "d": key.isoformat()}
    else:
        payload = {"k": kind, "i": int(key)}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(kind: str, cursor: str) -> datetime | date | int:
    """The last key of the previous page; BadParameter when the cursor is not one of `kind`'s."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload["k"] != kind:
            raise BadParameter("cursor", f"{CURSOR_EXPECTED} (this one pages {payload['k']})", cursor)
        if "t" in payload:
            return datetime.fromisoformat(payload["t"])
        if "d" in payload:
            return date.fromisoformat(payload["d"])
        return int(payload["i"])
    except BadParameter:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadParameter("cursor", CURSOR_EXPECTED, cursor) from None
