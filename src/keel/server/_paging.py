"""Opaque cursors for paged lists.

A cursor is the offset of the next page and a fingerprint of the query it belongs to,
base64url-encoded: clients must treat it as opaque, and one from another query (or a
tampered one) is refused with a clear 400 instead of silently returning wrong rows.
Every list has a bounded page size.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from keel.errors import InvalidArgumentError

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "page_of"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _fingerprint(query: Mapping[str, Any]) -> str:
    text = json.dumps(query, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, fingerprint: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        offset, owner = data["o"], data["q"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgumentError(
            "cursor is not one this server issued; pass next_cursor from the previous page "
            "unchanged, or leave it out to start from the first page"
        ) from None
    if owner != fingerprint or not isinstance(offset, int) or offset < 0:
        raise InvalidArgumentError(
            "cursor belongs to another query; page with the same parameters, or leave the "
            "cursor out to start again"
        )
    return offset


def page_of(
    items: Sequence[Any], query: Mapping[str, Any], cursor: str | None, limit: int | None
) -> tuple[Sequence[Any], str | None]:
    """One page of ``items`` and the cursor of the next (``None`` after the last).

    Args:
        items: the whole list, in its stable order.
        query: the parameters that produced it (the cursor is bound to them).
        cursor: the cursor from the previous page, or ``None`` for the first.
        limit: the page size (default :data:`DEFAULT_PAGE_SIZE`, at most
            :data:`MAX_PAGE_SIZE`).

    Raises:
        InvalidArgumentError: a bad cursor or page size.
    """
    size = DEFAULT_PAGE_SIZE if limit is None else limit
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidArgumentError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    fingerprint = _fingerprint(query)
    offset = 0 if not cursor else _decode(cursor, fingerprint)
    page = items[offset : offset + size]
    following = offset + size
    return page, (_encode(following, fingerprint) if following < len(items) else None)
