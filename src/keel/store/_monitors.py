"""Monitor entities and interface: what watches an endpoint, what it found, what it fired.

A **monitor** watches one endpoint's prediction log in windows; its spec (window,
checks, reference, alert rules) is a JSON object whose shape the monitoring layer
defines and checks (``keel.monitoring.MonitorSpec``). Monitors are versioned by
revision and audited like endpoints: every change writes the new revision, its audit
event and a lineage edge endpoint -[monitored_by]-> monitor in one transaction.

A **result** (:class:`MonitorResult`) is what one check found on one window. Results
are immutable facts keyed by (monitor, window, check): recording one that is stored
already keeps the stored one, so a run repeated or two runs racing store each window
once.

An **alert** (:class:`MonitorAlert`) is one rule firing on one window, keyed by
(monitor, rule, window). Its action (``rollback``) is claimed by exactly one caller
(:meth:`MonitorStore.claim_alert_action`), so it is taken at most once; a later
evaluation that finds the rule no longer holding resolves it.
"""

from __future__ import annotations

import abc
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keel.errors import InvalidArgumentError
from keel.store._audit import AuditedObject, canonical_json, content_digest

__all__ = [
    "ACTION_STATUSES",
    "CHECKS",
    "MAX_DETAILS_BYTES",
    "MAX_SPEC_BYTES",
    "RESULT_STATUSES",
    "SEVERITIES",
    "AlertDraft",
    "Monitor",
    "MonitorAlert",
    "MonitorResult",
    "MonitorRevision",
    "MonitorStore",
    "alert_id",
    "check_monitor_name",
    "check_monitor_spec",
    "check_result",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_WINDOW = re.compile(r"^(time|rows):(-?[0-9]{1,19})-(-?[0-9]{1,19})$")
_KEY = re.compile(r"^[^\x00-\x1f\x7f]{1,300}$")

#: the checks a monitor runs; ``estimated_performance`` is CBPE's estimate
CHECKS: tuple[str, ...] = (
    "data_drift",
    "prediction_drift",
    "performance",
    "estimated_performance",
)
#: what a result says: within bounds, drifted, nothing to measure, or could not measure
RESULT_STATUSES: tuple[str, ...] = ("ok", "drift", "empty", "error")
#: how bad an alert is
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
#: where an alert's action stands
ACTION_STATUSES: tuple[str, ...] = ("pending", "claimed", "done", "failed", "skipped")

#: the largest spec, as canonical JSON
MAX_SPEC_BYTES = 64 * 1024
#: the largest ``details`` of one result, as canonical JSON (a drift report of a few
#: hundred columns; larger ones are cut by the monitoring layer before they get here)
MAX_DETAILS_BYTES = 1024 * 1024
#: the most values one result may carry
MAX_VALUES = 4096
#: the most results one call may record
MAX_RESULTS_PER_CALL = 1000


def check_monitor_name(name: str, what: str = "monitor") -> str:
    """Return ``name`` if it is a valid monitor (or endpoint) name, else raise."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgumentError(
            f"{what} name {str(name)[:80]!r} is invalid: use 1-128 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return name


def check_monitor_spec(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec as plain JSON data.

    Raises:
        InvalidArgumentError: not a mapping, or larger than :data:`MAX_SPEC_BYTES`.
    """
    if not isinstance(spec, Mapping):
        raise InvalidArgumentError(
            f"the spec of monitor {name!r} must be a mapping (window, checks, ...), "
            f"got {type(spec).__name__}"
        )
    text = canonical_json(dict(spec))
    size = len(text.encode("utf-8"))
    if size > MAX_SPEC_BYTES:
        raise InvalidArgumentError(
            f"the spec of monitor {name!r} is {size} bytes as JSON; at most {MAX_SPEC_BYTES} "
            "are stored"
        )
    data: dict[str, Any] = json.loads(text)
    data.pop("name", None)
    return data


def _window(window: str) -> tuple[int, int]:
    match = _WINDOW.match(window) if isinstance(window, str) else None
    if match is None:
        raise InvalidArgumentError(
            f"window {str(window)[:80]!r} is not a window id; windows are 'time:START-END' "
            "(ms since the epoch) or 'rows:START-END' (row numbers)"
        )
    start, end = int(match[2]), int(match[3])
    if end <= start:
        raise InvalidArgumentError(f"window {window!r} ends before it starts")
    return start, end


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Monitor:
    """A monitor as stored: its current revision.

    Attributes:
        name: the monitor's name, unique in its project.
        endpoint: the endpoint it watches.
        revision: 1 when first created; one more on every change.
        spec: window, checks, reference and alert rules as JSON data (see
            ``keel.monitoring.MonitorSpec``).
        created_at: when it was (last) created, in ms since the epoch.
        created_by: who created it.
        updated_at: when this revision was written.
        updated_by: who wrote it.
        reason: why, when given.
    """

    name: str
    endpoint: str
    revision: int
    spec: Mapping[str, Any]
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str
    reason: str | None = None

    def digest(self) -> str:
        """SHA-256 of the endpoint and spec (what the audit event records)."""
        return monitor_digest(self.endpoint, self.spec)


@dataclass(frozen=True, slots=True)
class MonitorRevision:
    """One change of a monitor (``keel monitors show NAME --history``).

    Attributes:
        name: the monitor.
        revision: the revision this change made.
        action: ``create``, ``update`` or ``delete``.
        endpoint: the endpoint it watched (``None`` for a delete).
        spec: the spec it set (``None`` for a delete).
        actor: who made the change.
        time: when, in ms since the epoch.
        reason: why, when given.
    """

    name: str
    revision: int
    action: str
    endpoint: str | None
    spec: Mapping[str, Any] | None
    actor: str
    time: int
    reason: str | None = None

    def digest(self) -> str:
        """The digest of the endpoint and spec (``""`` for a delete)."""
        if self.spec is None or self.endpoint is None:
            return ""
        return monitor_digest(self.endpoint, self.spec)


def monitor_digest(endpoint: str, spec: Mapping[str, Any]) -> str:
    """The digest a monitor's audit event records."""
    return content_digest({"endpoint": endpoint, "spec": dict(spec)})


@dataclass(frozen=True, slots=True)
class MonitorResult:
    """What one check found on one window: an immutable fact.

    Attributes:
        monitor: the monitor.
        window: the window's id, ``time:START-END`` (ms since the epoch, end excluded)
            or ``rows:START-END`` (row numbers of the log, end excluded).
        check: one of :data:`CHECKS`.
        status: one of :data:`RESULT_STATUSES`.
        rows: the rows the check looked at (predictions; labelled rows for
            ``performance``).
        values: the numbers alert rules read (``share_drifted``, ``accuracy``,
            ``drift.sepal_length``, ``labelled_share``, ...); NaN where undefined.
        details: the rest, as JSON data (a drift report, a confusion matrix).
        model_versions: the model versions that answered in the window.
        reference: what it was compared with (``iris-train/3``, a sketch's sha256).
        message: why a result is ``empty`` or ``error``, in words.
        computed_at: when it was computed, in ms since the epoch.
        computed_by: who ran the monitor.
    """

    monitor: str
    window: str
    check: str
    status: str
    rows: int
    values: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    model_versions: tuple[str, ...] = ()
    reference: str | None = None
    message: str | None = None
    computed_at: int = 0
    computed_by: str = ""

    @property
    def start(self) -> int:
        """Where the window starts (ms since the epoch, or the first row)."""
        return _window(self.window)[0]

    @property
    def end(self) -> int:
        """Where the window ends (excluded)."""
        return _window(self.window)[1]

    def digest(self) -> str:
        """SHA-256 of everything the check found (all but who and when)."""
        return content_digest(
            {
                "monitor": self.monitor,
                "window": self.window,
                "check": self.check,
                "status": self.status,
                "rows": self.rows,
                "values": {k: _digestible(v) for k, v in self.values.items()},
                "details": dict(self.details),
                "model_versions": list(self.model_versions),
                "reference": self.reference,
                "message": self.message,
            }
        )


def _digestible(value: float) -> Any:
    return value if math.isfinite(value) else str(value)


def check_result(result: MonitorResult, name: str) -> MonitorResult:
    """Raise ``InvalidArgumentError`` unless ``result`` is well formed for monitor ``name``."""
    if not isinstance(result, MonitorResult):
        raise InvalidArgumentError(
            f"monitor {name!r}: a result must be a MonitorResult, got {type(result).__name__}"
        )
    if result.monitor != name:
        raise InvalidArgumentError(
            f"a result of monitor {result.monitor!r} cannot be recorded under {name!r}"
        )
    _window(result.window)
    if result.check not in CHECKS:
        raise InvalidArgumentError(
            f"check {str(result.check)[:40]!r} is unknown; checks are: {', '.join(CHECKS)}"
        )
    if result.status not in RESULT_STATUSES:
        raise InvalidArgumentError(
            f"status {str(result.status)[:40]!r} is unknown; statuses are: "
            f"{', '.join(RESULT_STATUSES)}"
        )
    if isinstance(result.rows, bool) or not isinstance(result.rows, int) or result.rows < 0:
        raise InvalidArgumentError(f"rows must be an integer >= 0, got {result.rows!r}")
    if len(result.values) > MAX_VALUES:
        raise InvalidArgumentError(
            f"a result carries at most {MAX_VALUES} values; got {len(result.values)}"
        )
    for key, value in result.values.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidArgumentError(
                f"value name {str(key)[:80]!r} is invalid: use 1-300 printable characters"
            )
        if not _finite(value):
            raise InvalidArgumentError(f"value {key!r} must be a number, got {value!r}")
    size = len(canonical_json(dict(result.details)).encode("utf-8"))
    if size > MAX_DETAILS_BYTES:
        raise InvalidArgumentError(
            f"the details of result {result.window} {result.check} are {size} bytes as JSON; "
            f"at most {MAX_DETAILS_BYTES} are stored"
        )
    return result


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """What an alert rule found, before it is stored (see :meth:`MonitorStore.record_alert`).

    Attributes:
        rule: the rule's name.
        window: the window it fired on (the last of its consecutive windows).
        severity: one of :data:`SEVERITIES`.
        metric: the value it read (``data_drift.share_drifted``).
        value: what that value was (NaN when missing).
        condition: the rule in words (``> 0.5 for 2 windows``).
        message: what happened, for people.
        action: ``rollback`` or ``None``.
    """

    rule: str
    window: str
    severity: str
    metric: str
    value: float
    condition: str
    message: str
    action: str | None = None


def alert_id(monitor: str, rule: str, window: str) -> str:
    """The id of the alert rule ``rule`` of ``monitor`` fired on ``window`` (stable)."""
    digest = hashlib.sha256(f"{monitor}\x00{rule}\x00{window}".encode()).hexdigest()
    return digest[:32]


def check_alert(draft: AlertDraft) -> AlertDraft:
    """Raise ``InvalidArgumentError`` unless ``draft`` is a well-formed alert."""
    if not isinstance(draft, AlertDraft):
        raise InvalidArgumentError(f"an alert must be an AlertDraft, got {type(draft).__name__}")
    check_monitor_name(draft.rule, "alert rule")
    _window(draft.window)
    if draft.severity not in SEVERITIES:
        raise InvalidArgumentError(
            f"severity {str(draft.severity)[:40]!r} is unknown; severities are: "
            f"{', '.join(SEVERITIES)}"
        )
    if draft.action not in (None, "rollback"):
        raise InvalidArgumentError(
            f"alert action {str(draft.action)[:40]!r} is unknown; the action is 'rollback' or none"
        )
    if not _finite(draft.value):
        raise InvalidArgumentError(f"the alert's value must be a number, got {draft.value!r}")
    for what, text, limit in (
        ("metric", draft.metric, 200),
        ("condition", draft.condition, 200),
        ("message", draft.message, 2000),
    ):
        if not isinstance(text, str) or not text or len(text) > limit:
            raise InvalidArgumentError(f"the alert's {what} must be 1-{limit} characters")
    return draft


@dataclass(frozen=True, slots=True)
class MonitorAlert:
    """An alert as stored: a rule that fired on a window, and what became of it.

    Attributes:
        id: :func:`alert_id` of (monitor, rule, window).
        monitor: the monitor.
        rule, window, severity, metric, value, condition, message, action: as in
            :class:`AlertDraft`.
        fired_at: when it was stored, in ms since the epoch.
        fired_by: who ran the monitor that fired it.
        action_status: ``None`` without an action; else one of :data:`ACTION_STATUSES`.
        action_by: who claimed the action.
        action_at: when the action was claimed or finished.
        action_detail: what the action did (or why it failed), in words.
        resolved_at: when a later window found the rule no longer holding (``None``
            while it fires).
        resolved_window: that window.
    """

    id: str
    monitor: str
    rule: str
    window: str
    severity: str
    metric: str
    value: float
    condition: str
    message: str
    fired_at: int
    fired_by: str
    action: str | None = None
    action_status: str | None = None
    action_by: str | None = None
    action_at: int | None = None
    action_detail: str | None = None
    resolved_at: int | None = None
    resolved_window: str | None = None

    @property
    def active(self) -> bool:
        """Whether it still fires (not resolved)."""
        return self.resolved_at is None


class MonitorStore(abc.ABC):
    """A project's monitors, their results and their alerts.

    Changes of a monitor (create, update, delete) take the ``actor``, write the new
    revision and its audit event (``monitor.create``, ...) in one transaction, and are
    serialised by optimistic concurrency on the revision; a change sent twice is stored
    once (as :class:`~keel.store.EndpointStore` does). Results and alerts are recorded
    with an audit event in the same transaction too.
    """

    @abc.abstractmethod
    def create_monitor(
        self,
        name: str,
        endpoint: str,
        spec: Mapping[str, Any],
        actor: str,
        reason: str | None = None,
    ) -> Monitor:
        """Create a monitor of ``endpoint``; its revision is one more than the name's last.

        Raises:
            ConflictError: a monitor of that name exists.
            InvalidArgumentError: the name, endpoint name or spec is malformed.
        """

    @abc.abstractmethod
    def update_monitor(
        self,
        name: str,
        endpoint: str,
        spec: Mapping[str, Any],
        expected_revision: int,
        actor: str,
        reason: str | None = None,
    ) -> Monitor:
        """Replace a monitor's endpoint and spec if its revision is still ``expected_revision``.

        Raises:
            NotFoundError: no monitor of that name exists (lists those that do).
            ConflictError: it changed since it was read.
        """

    @abc.abstractmethod
    def delete_monitor(
        self, name: str, expected_revision: int, actor: str, reason: str | None = None
    ) -> None:
        """Delete a monitor if its revision is still ``expected_revision``.

        Its revisions, results and alerts stay; a later create continues the numbering
        and finds the results already computed.

        Raises:
            NotFoundError: no monitor of that name exists.
            ConflictError: it changed since it was read.
        """

    @abc.abstractmethod
    def get_monitor(self, name: str) -> Monitor:
        """The monitor called ``name``; ``NotFoundError`` listing the monitors that exist."""

    @abc.abstractmethod
    def list_monitors(self, endpoint: str | None = None) -> list[Monitor]:
        """Every monitor of the project (of one endpoint when given), by name."""

    @abc.abstractmethod
    def list_monitor_revisions(self, name: str) -> list[MonitorRevision]:
        """Every revision of a monitor, oldest first, deletes included.

        Raises:
            NotFoundError: no monitor of that name ever existed.
        """

    @abc.abstractmethod
    def record_results(
        self, name: str, results: Sequence[MonitorResult], actor: str
    ) -> list[MonitorResult]:
        """Store results of monitor ``name`` (at most 1,000 per call) in one transaction.

        A result whose (window, check) is stored already is not stored again: the
        stored one is returned in its place, unchanged. ``computed_at`` and
        ``computed_by`` are set here. One ``monitor.results`` audit event lists the
        results stored (none when every one was there already).

        Returns:
            The stored result of each given one, in the given order.

        Raises:
            NotFoundError: no monitor of that name exists.
            InvalidArgumentError: a result is malformed (nothing is stored).
        """

    @abc.abstractmethod
    def list_results(
        self, name: str, check: str | None = None, since: int | None = None
    ) -> list[MonitorResult]:
        """Results of a monitor (of one check; of windows ending after ``since``), by window.

        Raises:
            NotFoundError: no monitor of that name ever existed.
        """

    @abc.abstractmethod
    def record_alert(self, name: str, draft: AlertDraft, actor: str) -> tuple[MonitorAlert, bool]:
        """Store an alert of monitor ``name`` with its ``monitor_alert.fire`` audit event.

        Keyed by (monitor, rule, window): an alert stored already is returned as it is.
        With an action, the alert's ``action_status`` starts as ``pending``.

        Returns:
            The stored alert and whether this call stored it (``False``: it was there).

        Raises:
            NotFoundError: no monitor of that name exists.
            InvalidArgumentError: the draft is malformed.
        """

    @abc.abstractmethod
    def claim_alert_action(self, name: str, alert_id: str, actor: str) -> bool:
        """Take the right to carry out an alert's action: ``True`` for exactly one caller.

        Moves ``action_status`` from ``pending`` to ``claimed`` (audited as
        ``monitor_alert.claim``); every other call, before or after, gets ``False``.

        Raises:
            NotFoundError: no such alert.
            InvalidArgumentError: the alert has no action.
        """

    @abc.abstractmethod
    def finish_alert_action(
        self, name: str, alert_id: str, status: str, detail: str, actor: str
    ) -> MonitorAlert:
        """Record how a claimed action ended (``done``, ``failed`` or ``skipped``), audited.

        Raises:
            NotFoundError: no such alert.
            ConflictError: the action was not claimed, or has finished already.
        """

    @abc.abstractmethod
    def resolve_alert(self, name: str, alert_id: str, window: str, actor: str) -> MonitorAlert:
        """Mark an alert resolved on ``window`` (the rule holds no more), audited.

        Resolving a resolved alert returns it unchanged.

        Raises:
            NotFoundError: no such alert.
        """

    @abc.abstractmethod
    def list_alerts(self, name: str, active_only: bool = False) -> list[MonitorAlert]:
        """Alerts of a monitor, oldest first (only those still firing when asked).

        Raises:
            NotFoundError: no monitor of that name ever existed.
        """

    @abc.abstractmethod
    def audited_state(self) -> list[AuditedObject]:
        """Every monitor, revision, result and alert row, in audit-event terms
        (``keel audit verify``)."""
