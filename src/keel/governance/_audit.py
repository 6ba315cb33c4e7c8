"""Reading and verifying the audit chain."""

from __future__ import annotations

import datetime as dt

from keel.context import Context, current_context
from keel.errors import InvalidArgumentError, KeelError
from keel.governance._verify import AuditVerification, verify_store
from keel.store import AuditEvent
from keel.store._audit import AuditHead

__all__ = ["AuditChainBrokenError", "head", "list_events", "parse_since", "verify"]


class AuditChainBrokenError(KeelError):
    """The audit chain does not verify: events were changed, deleted or reordered."""

    code = "AUDIT_CHAIN_BROKEN"
    http_status = 500


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
    context: Context | None = None,
) -> list[AuditEvent]:
    """Audit events, oldest first; ``object_id`` ``iris`` also matches ``iris/3`` and ``iris@champion``.

    Args:
        object_id: only events about this object (and its versions and aliases).
        actor: only events by this user.
        since: only events from this time on (see :func:`parse_since`), or epoch ms.
        limit: at most this many events.
        context: where (:func:`keel.context.current_context` by default).

    Example::

        >>> [e.action for e in keel.governance.list_events("iris")]
        ['registered_model.create', 'model_version.register', 'alias.promote']
    """
    since_ms = parse_since(since) if isinstance(since, str) else since
    return (context or current_context()).store.governance.list_events(
        object_id=object_id, actor=actor, since=since_ms, limit=limit
    )


def verify(expect: str | None = None, *, context: Context | None = None) -> AuditVerification:
    """Verify the audit chain's links, replay it against the governed tables, check an anchor.

    ``ok`` is false when a link is broken, when a governed row (an alias, a version's
    status or files, a role grant, a gate result) is not what the events say, or when
    ``expect`` — a head kept elsewhere, ``HASH:COUNT`` from :func:`head` — is not in the
    chain any more. ``problems`` lists each, naming the table, the row and the event.

    Args:
        expect: ``HASH:COUNT`` (or ``HASH``) printed earlier by ``keel audit head``; a
            head that events were appended to since is fine.
        context: where (:func:`keel.context.current_context` by default).

    Raises:
        InvalidArgumentError: ``expect`` is malformed.

    Example::

        >>> anchor = str(keel.governance.head())      # keep it somewhere else
        >>> keel.governance.verify(expect=anchor).ok
        True
    """
    return verify_store((context or current_context()).store, expect)


def head(*, context: Context | None = None) -> AuditHead:
    """The chain's head after verifying its links: ``str(head)`` is ``HASH:COUNT``.

    Keep it where whoever can write the database cannot; ``verify(expect=...)`` later
    tells whether events were deleted or rewritten since.

    Args:
        context: where (:func:`keel.context.current_context` by default).

    Raises:
        AuditChainBrokenError: the chain does not verify (a broken chain has no head
            worth keeping).

    Example::

        >>> str(keel.governance.head())
        '9f2c...e1:14'
    """
    store = (context or current_context()).store
    chain = store.governance.verify()
    if not chain.ok:
        raise AuditChainBrokenError(
            f"audit chain BROKEN at event #{chain.broken_at}: {chain.problem}; there is no "
            "trustworthy head to keep (keel audit verify shows every problem)"
        )
    stored: AuditHead = store.governance.head()
    return stored
