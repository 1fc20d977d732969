"""Cursors and page parameters: `limit` (1-500, default 50) and an opaque `cursor` from the last page.

A cursor names the endpoint it came from and the key of the last item served (an id for
ledger tables, a name for computed lists), base64url-encoded; a cursor that does not decode,
or that came from another endpoint, is a 400 naming the fix.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import Query

from quantdesk.api.errors import ApiError

__all__ = ["Cursor", "Limit", "decode_cursor", "encode_cursor", "int_cursor", "page_by_key"]

Limit = Annotated[int, Query(ge=1, le=500, description="At most this many items (1-500)")]
Cursor = Annotated[str | None, Query(max_length=300, description="`next_cursor` of the previous page")]
T = TypeVar("T")


def encode_cursor(kind: str, key: int | str) -> str:
    """Return the cursor after the item with `key` on endpoint `kind`."""
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> str | None:
    """Return the key a cursor of endpoint `kind` names (None without one); ApiError 400 if it is not one."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    found, _, key = text.partition(":")
    if found != kind or not key:
        raise ApiError(400, "bad_cursor", f"cursor {cursor[:40]!r} is not one of this endpoint's: pass the "
                       "`next_cursor` of the previous page unchanged, or leave it out for the first page")
    return key


def int_cursor(kind: str, cursor: str | None) -> int | None:
    """Return the id a ledger-table cursor names (None without one)."""
    key = decode_cursor(kind, cursor)
    if key is None:
        return None
    if not key.isdigit() or len(key) > 18:
        raise ApiError(400, "bad_cursor", "cursor is damaged: pass the `next_cursor` of the previous page unchanged")
    return int(key)


def page_by_key(kind: str, items: Sequence[T], key: Callable[[T], str], limit: int, cursor: str | None, *,
                descending: bool = False) -> tuple[list[T], str | None]:
    """Return one page of a computed list sorted by its unique `key`, and the next cursor."""
    after = decode_cursor(kind, cursor)
    ordered = sorted(items, key=key, reverse=descending)
    if after is not None:
        ordered = [i for i in ordered if (key(i) < after if descending else key(i) > after)]
    page = ordered[:limit]
    return page, encode_cursor(kind, key(page[-1])) if len(ordered) > limit and page else None
