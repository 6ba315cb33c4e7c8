"""Opaque cursors for paged lists.

A cursor is the offset of the next page and a fingerprint of the query it belongs to,
base64url-encoded: clients must treat it as opaque, and one from another query (or a
tampered one) is refused with a clear 400 instead of silently returning wrong rows.
Every list has a bounded page size.

A store method returns its whole list, so without help every page would run the whole
query again (reading back 100,000 metric values 1,000 at a time ran it 100 times). The
server therefore keeps the list of a listing that has more pages for a short while
(:class:`Snapshots`: 30 s, bounded in size) and names it in the cursor; the following
pages are sliced from it, so one listing is one query and one consistent snapshot. A
cursor whose snapshot is gone (expired, evicted, or made by another worker process)
still works: the query runs again and the offset applies, as before.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import pydantic

from keel.errors import InvalidArgumentError

T = TypeVar("T")


class Page(pydantic.BaseModel, Generic[T]):
    """One page of a list: its items, and the cursor of the next page (``None``: the last)."""

    items: list[T]
    next_cursor: str | None = None


__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Page", "Snapshots", "page_from", "page_of"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _fingerprint(query: Mapping[str, Any]) -> str:
    text = json.dumps(query, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode(offset: int, fingerprint: str, snapshot: str | None = None) -> str:
    data: dict[str, Any] = {"o": offset, "q": fingerprint}
    if snapshot is not None:
        data["s"] = snapshot
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, fingerprint: str) -> int:
    return _decode_full(cursor, fingerprint)[0]


def _decode_full(cursor: str, fingerprint: str) -> tuple[int, str | None]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        offset, owner = data["o"], data["q"]
        snapshot = data.get("s")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidArgumentError(
            "cursor is not one this server issued; pass next_cursor from the previous page "
            "unchanged, or leave it out to start from the first page"
        ) from None
    if owner != fingerprint or not isinstance(offset, int) or offset < 0:
        raise InvalidArgumentError(
            "cursor belongs to another query; page with the same parameters, or leave the "
            "cursor out to start again"
        )
    return offset, snapshot if isinstance(snapshot, str) else None


class Snapshots:
    """Whole lists of listings that have more pages, kept for ``ttl`` seconds.

    Bounded: at most ``max_items`` items in all (the oldest lists go first; a list
    larger than that is not kept, and its pages run the query again).

    Args:
        ttl: seconds a list is kept after it was made.
        max_items: the most items kept, over all lists.
    """

    def __init__(self, ttl: float = 30.0, max_items: int = 500_000) -> None:
        self.ttl = ttl
        self.max_items = max_items
        # id -> (scope, items, deadline), oldest first
        self._lists: OrderedDict[str, tuple[str, Sequence[Any], float]] = OrderedDict()
        self._count = 0
        self._lock = threading.Lock()

    def put(self, scope: str, items: Sequence[Any]) -> str | None:
        """Keep ``items`` for the listing ``scope``; its id, or ``None`` if not kept."""
        if len(items) > self.max_items:
            return None
        key = uuid.uuid4().hex
        with self._lock:
            self._expire(time.monotonic())
            while self._lists and self._count + len(items) > self.max_items:
                _, (_, dropped, _) = self._lists.popitem(last=False)
                self._count -= len(dropped)
            self._lists[key] = (scope, items, time.monotonic() + self.ttl)
            self._count += len(items)
        return key

    def get(self, key: str, scope: str) -> Sequence[Any] | None:
        """The list kept under ``key`` for ``scope`` (``None``: gone, or another's)."""
        with self._lock:
            found = self._lists.get(key)
        if found is None or found[0] != scope or time.monotonic() >= found[2]:
            return None
        return found[1]

    def _expire(self, now: float) -> None:
        while self._lists:
            key, (_, items, deadline) = next(iter(self._lists.items()))
            if deadline > now:
                return
            del self._lists[key]
            self._count -= len(items)

    def __len__(self) -> int:
        return len(self._lists)


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


def page_from(
    compute: Callable[[], Sequence[Any]],
    query: Mapping[str, Any],
    cursor: str | None,
    limit: int | None,
    snapshots: Snapshots,
    scope: str,
) -> tuple[Sequence[Any], str | None]:
    """Like :func:`page_of`, running ``compute`` only when no snapshot serves the page.

    Args:
        compute: runs the query and returns the whole list.
        query: the parameters of the query (the cursor is bound to them).
        cursor: the cursor from the previous page, or ``None`` for the first.
        limit: the page size.
        snapshots: where lists are kept between pages.
        scope: what else the list depends on (the project): a snapshot serves only
            the same scope and query.

    Raises:
        InvalidArgumentError: a bad cursor or page size.
    """
    size = DEFAULT_PAGE_SIZE if limit is None else limit
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidArgumentError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    fingerprint = _fingerprint(query)
    offset, snapshot = (0, None) if not cursor else _decode_full(cursor, fingerprint)
    key = f"{scope}\x00{fingerprint}"
    items = snapshots.get(snapshot, key) if snapshot else None
    if items is None:
        items = compute()
        snapshot = None
    following = offset + size
    if following >= len(items):
        return items[offset:following], None
    if snapshot is None:
        snapshot = snapshots.put(key, items)
    return items[offset:following], _encode(following, fingerprint, snapshot)
