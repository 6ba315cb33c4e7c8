"""Reading and verifying the audit chain."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidArgumentError, KeelError
from keel.store import AuditEvent, ChainVerification

if TYPE_CHECKING:
    from keel.tracking import Client

__all__ = ["AuditChainBrokenError", "list_events", "parse_since", "verify"]


class AuditChainBrokenError(KeelError):
    """The audit chain does not verify: events were changed, deleted or reordered."""

    code = "AUDIT_CHAIN_BROKEN"


def _client(client: Any) -> Client:
    if client is not None:
        return client  # type: ignore[no-any-return]
    from keel.tracking import get_client

    return get_client()


def parse_since(text: str) -> int:
    """A time as epoch ms from ``2026-11-29``, ``2026-11-29T10:00``, or ``30m``/``2h``/``7d`` ago."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    raw = text.strip()
    if raw[:-1].isdigit() and raw[-1:] in units:
        return int((dt.datetime.now(dt.UTC).timestamp() - int(raw[:-1]) * units[raw[-1]]) * 1000)
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidArgumentError(
            f"--since {text!r} is not a time; use 2026-11-29, 2026-11-29T10:00 or 30m, 2h, 7d"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def list_events(
    object_id: str | None = None,
    actor: str | None = None,
    since: str | int | None = None,
    limit: int = 1000,
    *,
    client: Any = None,
) -> list[AuditEvent]:
    """Audit events, oldest first; ``object_id`` ``iris`` also matches ``iris/3`` and ``iris@champion``.

    Example::

        >>> [e.action for e in keel.governance.list_events("iris")]
        ['registered_model.create', 'model_version.register', 'alias.promote']
    """
    since_ms = parse_since(since) if isinstance(since, str) else since
    return _client(client).store.governance.list_events(
        object_id=object_id, actor=actor, since=since_ms, limit=limit
    )


def verify(*, client: Any = None) -> ChainVerification:
    """Recompute the audit chain; ``ok`` is false with the first broken link described.

    Example::

        >>> keel.governance.verify().ok
        True
    """
    return _client(client).store.governance.verify()
