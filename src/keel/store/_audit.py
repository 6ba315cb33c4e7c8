"""Governance entities and interface: the hash-chained audit log and user roles.

Every change to a governed object (a model version, an alias, a role) is written
together with an :class:`AuditEvent` in one transaction. Events form a SHA-256 chain:
each one's ``hash`` covers a canonical JSON of its content and the previous event's
hash, so changing, deleting or reordering stored events breaks the chain, and
:meth:`GovernanceStore.verify` reports the first broken link.
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GENESIS_HASH",
    "ROLES",
    "AuditEntry",
    "AuditEvent",
    "AuditHead",
    "AuditedObject",
    "ChainCheck",
    "ChainVerification",
    "GovernanceStore",
    "RoleGrant",
    "canonical_json",
    "content_digest",
    "event_hash",
    "highest_role",
    "role_at_least",
]

#: the ``prev_hash`` of the first event of a chain
GENESIS_HASH = "0" * 64

#: roles a user can be granted in a project, weakest first: ``viewer`` reads, ``editor``
#: also logs runs and registers datasets and models, ``maintainer`` also promotes, rolls
#: back and archives, ``admin`` also manages members and roles (and forces promotions)
ROLES: tuple[str, ...] = ("viewer", "editor", "maintainer", "admin")

_RANK = {role: rank for rank, role in enumerate(ROLES)}


def role_at_least(have: str | None, need: str) -> bool:
    """Whether role ``have`` (``None``: no role) grants everything role ``need`` does.

    Example::

        >>> role_at_least("maintainer", "editor"), role_at_least("viewer", "editor")
        (True, False)

    Raises:
        ValueError: ``need`` is not one of :data:`ROLES`.
    """
    if need not in _RANK:
        raise ValueError(f"role {need!r} does not exist; roles are: {', '.join(ROLES)}")
    return have is not None and _RANK.get(have, -1) >= _RANK[need]


def highest_role(roles: Iterable[str]) -> str | None:
    """The strongest of ``roles`` (unknown names ignored), or ``None`` when there is none."""
    known = [r for r in roles if r in _RANK]
    return max(known, key=_RANK.__getitem__) if known else None


def canonical_json(value: Any) -> str:
    """The one JSON spelling of ``value`` that hashes are computed over.

    Keys sorted, no insignificant whitespace, UTF-8 kept as is; non-JSON values are
    turned into strings so that what is hashed is exactly what is stored.
    """
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
        allow_nan=True,
    )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What a caller asks to record: who did what to which object, before and after.

    Attributes:
        actor: the user who made the change.
        action: a dotted verb such as ``model_version.register`` or ``alias.move``.
        object_type: ``registered_model``, ``model_version``, ``alias``, ``role``...
        object_id: the object's id (``iris/3``, ``iris@champion``, ``alice:admin``).
        before: the object's state before the change (``None`` when created).
        after: its state after the change (``None`` when deleted).
        reason: why, when the actor gave a reason (forced promotions must).
    """

    actor: str
    action: str
    object_type: str
    object_id: str
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One link of the audit chain, as stored."""

    seq: int
    time: int
    actor: str
    action: str
    object_type: str
    object_id: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    reason: str | None
    prev_hash: str
    hash: str

    def content(self) -> dict[str, Any]:
        """Everything the hash covers (all fields but ``hash``)."""
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "prev_hash": self.prev_hash,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {**self.content(), "hash": self.hash}


def event_hash(content: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of an event's content."""
    return hashlib.sha256(canonical_json(dict(content)).encode("utf-8")).hexdigest()


def content_digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of a stored object's immutable fields.

    Events that create an immutable fact (a model version, a gate result) record this
    digest, so ``keel audit verify`` can tell when the stored row was changed later.
    """
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The end of the chain: how many events it holds and the last one's hash.

    ``str(head)`` is ``HASH:COUNT``, the form ``keel audit verify --expect`` takes.
    """

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.hash}:{self.seq}"


@dataclass(frozen=True, slots=True)
class AuditedObject:
    """The current state of one governed object, in the terms its audit events use.

    Attributes:
        object_type: ``registered_model``, ``model_version``, ``alias``,
            ``alias_history``, ``gate_result`` or ``role``.
        object_id: the id its events use (``iris/3``, ``iris@champion``, ``alice:admin``).
        state: the fields the events record (``{"version": 2}`` for an alias).
    """

    object_type: str
    object_id: str
    state: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """The outcome of checking the audit chain.

    Attributes:
        ok: whether every link holds.
        events: how many events were checked.
        broken_at: the ``seq`` of the first event found broken (``None`` when ok).
        problem: what is wrong there, in words.
    """

    ok: bool
    events: int
    broken_at: int | None = None
    problem: str | None = None


class ChainCheck:
    """Checks events fed one at a time, in ``seq`` order; remembers the first broken link.

    Example::

        >>> check = ChainCheck()
        >>> for event in events:
        ...     check.feed(event)
        >>> check.result(head).ok
        True
    """

    def __init__(self) -> None:
        self.count = 0
        self.last_hash = GENESIS_HASH
        self._expected_seq = 1
        self._broken: ChainVerification | None = None

    def feed(self, event: AuditEvent) -> None:
        """Check one more event (ignored once a link is broken)."""
        if self._broken is not None:
            return
        self.count += 1
        problem = None
        if event_hash(event.content()) != event.hash:
            problem = (
                f"event #{event.seq} ({event.action} {event.object_id}) was changed after it "
                "was written: its hash does not match its contents"
            )
        elif event.seq != self._expected_seq:
            expected = self._expected_seq
            missing = (
                f"#{expected}" if event.seq == expected + 1 else f"#{expected}-#{event.seq - 1}"
            )
            problem = (
                f"event {missing} is missing before event #{event.seq}: events were deleted "
                "or renumbered"
            )
        elif event.prev_hash != self.last_hash:
            problem = (
                f"event #{event.seq} does not follow event #{event.seq - 1}: its previous hash "
                "differs (events were deleted, inserted or reordered)"
            )
        if problem is not None:
            self._broken = ChainVerification(False, self.count, event.seq, problem)
            return
        self.last_hash = event.hash
        self._expected_seq += 1

    def result(self, head: AuditHead) -> ChainVerification:
        """The verdict, comparing the events fed with the stored ``head``."""
        if self._broken is not None:
            return self._broken
        last_seq = self._expected_seq - 1
        if head.seq != last_seq or head.hash != self.last_hash:
            return ChainVerification(
                False,
                self.count,
                last_seq + 1 if head.seq > last_seq else head.seq,
                f"the chain head records {head.seq} events ending in {head.hash[:12]}... but "
                f"the log ends at event #{last_seq} ({self.last_hash[:12]}...): events were "
                "deleted from the end or the head was changed",
            )
        return ChainVerification(True, self.count)


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """``user`` holds ``role``, granted by ``granted_by`` at ``granted_at`` (ms)."""

    user: str
    role: str
    granted_by: str
    granted_at: int = field(compare=False)


class GovernanceStore(abc.ABC):
    """The audit chain and the role grants of the store's project.

    Each project has its own chain (``seq`` from 1, its own head); server-wide changes
    are in the chain of the reserved project ``_system``.
    """

    @abc.abstractmethod
    def append(self, entry: AuditEntry) -> AuditEvent:
        """Append one event in its own transaction (appends are serialised)."""

    @abc.abstractmethod
    def list_events(
        self,
        object_type: str | None = None,
        object_id: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Events matching every given filter, oldest first (``object_id`` may end in ``*``)."""

    @abc.abstractmethod
    def read_events(self, after_seq: int = 0, limit: int = 2000) -> list[AuditEvent]:
        """Up to ``limit`` events with ``seq`` greater than ``after_seq``, in ``seq`` order."""

    @abc.abstractmethod
    def latest_event(
        self, object_type: str, object_id: str, action_prefix: str = ""
    ) -> AuditEvent | None:
        """The newest event about exactly this object (whose action starts with the prefix)."""

    @abc.abstractmethod
    def head(self) -> AuditHead:
        """The stored chain head (not verified: see :meth:`verify`)."""

    @abc.abstractmethod
    def verify(self) -> ChainVerification:
        """Recompute every hash and link; report the first broken one."""

    @abc.abstractmethod
    def audited_state(self) -> list[AuditedObject]:
        """Every role grant, as the ``role.*`` events describe it (``{"granted_by": ...}``)."""

    @abc.abstractmethod
    def grant_role(self, user: str, role: str, actor: str) -> RoleGrant:
        """Grant a role (audited); granting a role held already returns the grant."""

    @abc.abstractmethod
    def revoke_role(self, user: str, role: str, actor: str) -> None:
        """Revoke a role (audited); ``NotFoundError`` if the user does not hold it."""

    @abc.abstractmethod
    def list_roles(self, user: str | None = None) -> list[RoleGrant]:
        """Role grants, of one user or of all."""
