"""``keel audit verify``: the chain's links, the state it explains, and an outside anchor.

Three checks in one pass over the events:

1. **links** — every event's hash matches its content and follows the previous one,
   and the stored head is the last event (:class:`keel.store.ChainCheck`);
2. **state** — replaying the events gives what the governed tables must hold; every
   row they do not explain and every event whose effect is missing is named
   (:class:`keel.governance._state.StateReplay`);
3. **anchor** — with ``expect="HASH:COUNT"`` (a head the user kept elsewhere, printed
   by ``keel audit head``), the chain must still contain that event: deleting events
   from the end and rewriting the head passes 1 and 2, but not 3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.errors import ConflictError, InvalidArgumentError
from keel.governance._state import StateMismatch, StateReplay
from keel.store import AuditEvent, ChainVerification
from keel.store._audit import GENESIS_HASH, AuditHead, ChainCheck

if TYPE_CHECKING:
    from keel.store import Store

__all__ = ["AnchorCheck", "AuditVerification", "parse_anchor", "verify_store"]

_HASH = re.compile(r"^[0-9a-f]{64}$")
_PAGE = 2000
_ATTEMPTS = 5


def parse_anchor(text: str) -> tuple[str, int | None]:
    """Parse ``HASH`` or ``HASH:COUNT`` as printed by ``keel audit head``.

    Raises:
        InvalidArgumentError: not a 64-character hex hash, or COUNT is not a whole number.

    Example::

        >>> parse_anchor("9f2c...e1:14")
        ('9f2c...e1', 14)
    """
    raw = text.strip() if isinstance(text, str) else ""
    digest, sep, count = raw.partition(":")
    digest = digest.lower()
    shown = raw if len(raw) <= 80 else raw[:77] + "..."
    usage = "give HASH:COUNT as printed by `keel audit head` (or the 64-character HASH alone)"
    if not _HASH.match(digest):
        raise InvalidArgumentError(
            f"--expect {shown!r} is not an audit head: the hash must be 64 hex characters, "
            f"got {len(digest)}; {usage}"
        )
    if not sep:
        return digest, None
    if not count.isdigit():
        raise InvalidArgumentError(
            f"--expect {shown!r}: the event count {count!r} is not a whole number; {usage}"
        )
    return digest, int(count)


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    """Whether a head kept elsewhere (``expected``) is still in the chain, and what changed."""

    expected: str
    ok: bool
    message: str


class _AnchorWalk:
    def __init__(self, digest: str, count: int | None) -> None:
        self.digest, self.count = digest, count
        self.found_seq: int | None = 0 if digest == GENESIS_HASH else None
        self.hash_at_count: str | None = GENESIS_HASH if count == 0 else None
        self.last = 0

    def feed(self, event: AuditEvent) -> None:
        self.last = event.seq
        if self.count is not None and event.seq == self.count:
            self.hash_at_count = event.hash
        if self.found_seq is None and event.hash == self.digest:
            self.found_seq = event.seq

    def result(self) -> AnchorCheck:
        kept = self.digest if self.count is None else f"{self.digest}:{self.count}"
        short = f"{self.digest[:12]}..."
        if self.count is not None and self.hash_at_count is None:
            return AnchorCheck(
                kept,
                False,
                f"the head you kept is event #{self.count} ({short}) but the chain now ends at "
                f"event #{self.last}: {self.count - self.last} event(s) were deleted from the "
                "end and the stored head rewritten",
            )
        if self.count is not None and self.hash_at_count != self.digest:
            return AnchorCheck(
                kept,
                False,
                f"event #{self.count} now has hash {str(self.hash_at_count)[:12]}..., not the "
                f"{short} you kept: the history up to it was rewritten",
            )
        seq = self.count if self.count is not None else self.found_seq
        if seq is None:
            return AnchorCheck(
                kept,
                False,
                f"no event of the chain has the hash you kept ({short}): the history up to it "
                "was deleted or rewritten (or this is another store)",
            )
        since = self.last - seq
        return AnchorCheck(
            kept,
            True,
            f"the head you kept (event #{seq}) is in the chain; "
            + (f"{since} event(s) were appended since" if since else "no events since"),
        )


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The outcome of ``keel audit verify``.

    Attributes:
        chain: the links' verdict (first broken link, if any).
        head: the stored chain head (``str(head)`` is ``HASH:COUNT``).
        mismatches: every governed row the chain does not explain, and every event whose
            effect is missing from the state.
        anchor: the check against a head kept elsewhere (``None`` when none was given).
        rows: how many governed rows were compared with the replayed chain.
    """

    chain: ChainVerification
    head: AuditHead
    mismatches: tuple[StateMismatch, ...] = ()
    anchor: AnchorCheck | None = None
    rows: int = 0

    @property
    def ok(self) -> bool:
        """Whether the links hold, the state matches and the anchor (if any) is found."""
        return self.chain.ok and not self.mismatches and (self.anchor is None or self.anchor.ok)

    @property
    def events(self) -> int:
        """How many events were read."""
        return self.chain.events

    @property
    def broken_at(self) -> int | None:
        """The ``seq`` of the first broken link (``None`` when the links hold)."""
        return self.chain.broken_at

    @property
    def problems(self) -> list[str]:
        """Every problem found, in words (empty when ``ok``)."""
        out = (
            []
            if self.chain.ok
            else [f"audit chain BROKEN at event #{self.broken_at}: {self.chain.problem}"]
        )
        if self.anchor is not None and not self.anchor.ok:
            out.append(f"anchor NOT found: {self.anchor.message}")
        return out + [m.problem for m in self.mismatches]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``keel audit verify --json``."""
        return {
            "ok": self.ok,
            "events": self.events,
            "head": {"seq": self.head.seq, "hash": self.head.hash, "anchor": str(self.head)},
            "chain": {
                "ok": self.chain.ok,
                "broken_at": self.chain.broken_at,
                "problem": self.chain.problem,
            },
            "rows": self.rows,
            "mismatches": [
                {"table": m.table, "object_id": m.object_id, "problem": m.problem}
                for m in self.mismatches
            ],
            "anchor": None
            if self.anchor is None
            else {
                "expected": self.anchor.expected,
                "ok": self.anchor.ok,
                "message": self.anchor.message,
            },
        }

    @property
    def problem(self) -> str | None:
        """The first problem (``None`` when ``ok``)."""
        found = self.problems
        return found[0] if found else None


def verify_store(store: Store, expect: str | None = None) -> AuditVerification:
    """Verify the chain's links, replay it against the governed tables, check the anchor.

    The pass is bracketed by two reads of the chain head: every governed change moves
    the head in its own transaction, so an unchanged head means the events and the rows
    were read without a change in between. A pass that saw one is repeated.

    Raises:
        InvalidArgumentError: ``expect`` is not ``HASH`` or ``HASH:COUNT``.
        ConflictError: the chain kept moving during every attempt.
    """
    anchor = None if expect is None else parse_anchor(expect)
    governance = store.governance
    for _ in range(_ATTEMPTS):
        head = governance.head()
        objects = [
            *store.registry.audited_state(),
            *store.endpoints.audited_state(),
            *store.monitors.audited_state(),
            *store.features.audited_state(),
            *governance.audited_state(),
        ]
        chain, replay = ChainCheck(), StateReplay()
        walk = None if anchor is None else _AnchorWalk(*anchor)
        after = 0
        while page := governance.read_events(after, _PAGE):
            for event in page:
                chain.feed(event)
                replay.feed(event)
                if walk is not None:
                    walk.feed(event)
            after = page[-1].seq
        if governance.head() == head:
            return AuditVerification(
                chain.result(head),
                head,
                tuple(replay.compare(objects)),
                None if walk is None else walk.result(),
                len(objects),
            )
    raise ConflictError(
        f"the audit chain kept moving while it was being verified ({_ATTEMPTS} attempts); "
        "run keel audit verify again when fewer changes are being made"
    )
