"""Alert rules on monitor values, and the pure function that says when they fire.

A rule compares one value of every window (a value path, see
:mod:`keel.monitoring._values`) with a threshold; it **fires** when the comparison holds
for ``for_windows`` consecutive windows and **resolves** at the first window after that
where it no longer holds. Windows without the value (no labels yet, a column not tested)
are skipped: they neither extend nor break a streak.

:func:`evaluate_alerts` is deterministic and has no side effects: the same rules over the
same windows give the same events, whether the windows come all at once or in pieces
with the previous call's ``states`` handed back in. Delivering events (log, webhook,
Prometheus) and acting on them (rollback) is the caller's business.

Example::

    >>> rule = AlertRule(name="inputs-drift", value="drift.share_drifted", operator=">=",
    ...                  threshold=0.5, for_windows=2, severity="critical")
    >>> result = evaluate_alerts([rule], windows)
    >>> [(e.status, e.window) for e in result.events]
    [('firing', '2026-12-01T10:00:00'), ('resolved', '2026-12-01T14:00:00')]
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from keel.errors import InvalidArgumentError, show_input
from keel.monitoring._values import ValuePath, parse_value_path

__all__ = [
    "AlertEvaluation",
    "AlertEvent",
    "AlertRule",
    "AlertRuleError",
    "AlertState",
    "AlertWindow",
    "evaluate_alerts",
    "parse_alert_rules",
]

Operator = Literal[">", ">=", "<", "<="]
Severity = Literal["info", "warning", "critical"]

_COMPARE = {
    ">": lambda v, t: v > t,
    ">=": lambda v, t: v >= t,
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
}


class AlertRuleError(InvalidArgumentError):
    """An alert rule is malformed, or rules and windows cannot be evaluated together."""

    code = "INVALID_ALERT_RULE"
    http_status = 400


class AlertRule(BaseModel):
    """One alert rule on a monitor value.

    Attributes:
        name: unique among a monitor's rules; letters, digits, ``_``, ``-``, ``.``.
        value: the value path, e.g. ``drift.share_drifted``,
            ``drift.columns.age.statistic``, ``performance.accuracy``,
            ``estimated.accuracy``.
        operator: ``>``, ``>=``, ``<`` or ``<=``: the rule breaches when
            ``value OPERATOR threshold``.
        threshold: a finite number.
        for_windows: fire only after this many consecutive breaching windows (>= 1).
        severity: ``info``, ``warning`` or ``critical``.
        action: ``rollback`` to roll the endpoint's alias back when the alert fires;
            ``None`` to only notify.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
    value: str
    operator: Operator
    threshold: float = Field(allow_inf_nan=False)
    for_windows: int = Field(default=1, ge=1, le=10_000)
    severity: Severity = "warning"
    action: Literal["rollback"] | None = None

    @field_validator("value")
    @classmethod
    def _check_path(cls, value: str) -> str:
        parse_value_path(value)  # its ValueError says which forms exist
        return value

    @property
    def path(self) -> ValuePath:
        """The parsed value path."""
        return parse_value_path(self.value)

    def breaches(self, value: float) -> bool:
        """Whether ``value`` breaches the rule (``value OPERATOR threshold``)."""
        return bool(_COMPARE[self.operator](value, self.threshold))

    @property
    def fingerprint(self) -> str:
        """A short hash of everything that decides when the rule fires.

        A state saved under another fingerprint (the rule was edited) is not carried on.
        """
        text = json.dumps(
            [self.value, self.operator, self.threshold, self.for_windows], separators=(",", ":")
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self) -> str:
        """``drift.share_drifted >= 0.5 for 2 windows``."""
        windows = "" if self.for_windows == 1 else f" for {self.for_windows} windows"
        return f"{self.value} {self.operator} {self.threshold:g}{windows}"


def parse_alert_rules(data: Iterable[Mapping[str, Any] | AlertRule]) -> tuple[AlertRule, ...]:
    """Validate alert rules given as mappings (from YAML, JSON or the CLI).

    Raises:
        AlertRuleError: a rule is malformed (the message names the rule and the field)
            or two rules share a name.

    Example::

        >>> parse_alert_rules([{"name": "acc", "value": "performance.accuracy",
        ...                     "operator": "<", "threshold": 0.8}])
    """
    rules: list[AlertRule] = []
    for index, item in enumerate(data):
        if isinstance(item, AlertRule):
            rules.append(item)
            continue
        if not isinstance(item, Mapping):
            raise AlertRuleError(
                f"alert rule {index + 1} must be a mapping of fields "
                f"(name, value, operator, threshold, ...), not {show_input(item)}"
            )
        try:
            rules.append(AlertRule.model_validate(dict(item)))
        except ValidationError as exc:
            label = item.get("name")
            which = f"alert rule {show_input(label)}" if label else f"alert rule {index + 1}"
            problems = "; ".join(_problem(e) for e in exc.errors()[:5])
            raise AlertRuleError(f"{which} is invalid: {problems}") from None
    _check_unique(rules)
    return tuple(rules)


def _problem(error: Mapping[str, Any]) -> str:
    field = ".".join(str(p) for p in error["loc"]) or "rule"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        known = ", ".join(AlertRule.model_fields)
        return f"{field}: unknown field; the fields are {known}"
    if error["type"] == "missing":
        return f"{field}: required"
    if "input" in error and error["type"] != "value_error":
        return f"{field}: {message} (got {show_input(error['input'])})"
    return f"{field}: {message}"


def _check_unique(rules: Sequence[AlertRule]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise AlertRuleError(
                f"two alert rules are named {rule.name!r}; give each rule its own name"
            )
        seen.add(rule.name)


@dataclass(frozen=True)
class AlertWindow:
    """One window of a monitor, as the evaluator sees it.

    Attributes:
        key: the window's stable identity (its start as ISO text, or its number); alert
            ids are built from it, so the same window must keep the same key.
        values: the window's values (see :mod:`keel.monitoring._values`).
        start: where the window starts (shown in events; optional).
        end: where it ends.
    """

    key: str
    values: Mapping[str, Any]
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class AlertEvent:
    """An alert fired or resolved at a window.

    Attributes:
        alert_id: the alert's identity, ``RULE@KEY`` with KEY the first breaching window
            of the streak that fired it; its ``resolved`` event has the same id.
        rule: the rule's name.
        status: ``firing`` or ``resolved``.
        severity: the rule's severity.
        value_path: the value the rule reads.
        operator: the rule's operator.
        threshold: the rule's threshold.
        for_windows: the rule's consecutive windows.
        value: the value at ``window``.
        window: the key of the window where it fired or resolved.
        since: the key of the first breaching window of the streak.
        window_start: ``window``'s start (ISO text), when known.
        window_end: ``window``'s end (ISO text), when known.
        action: the rule's action (firing events only).
    """

    alert_id: str
    rule: str
    status: Literal["firing", "resolved"]
    severity: Severity
    value_path: str
    operator: Operator
    threshold: float
    for_windows: int
    value: float
    window: str
    since: str
    window_start: str | None = None
    window_end: str | None = None
    action: str | None = None

    @property
    def message(self) -> str:
        """One line for people: what fired or resolved, with the value and the rule."""
        rule = f"{self.value_path} {self.operator} {self.threshold:g}"
        if self.status == "firing":
            streak = f" for {self.for_windows} windows" if self.for_windows > 1 else ""
            return (
                f"[{self.severity}] alert {self.rule} firing: {self.value_path} = "
                f"{self.value:.6g} ({rule}{streak}, since window {self.since})"
            )
        return (
            f"[{self.severity}] alert {self.rule} resolved at window {self.window}: "
            f"{self.value_path} = {self.value:.6g} (rule {rule})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (what a webhook receives), ``message`` included."""
        data = asdict(self)
        if not math.isfinite(self.value):  # strict JSON has no infinities
            data["value"] = "inf" if self.value > 0 else "-inf"
        data["message"] = self.message
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvent:
        """The event :meth:`to_dict` described."""
        names = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in names}
        if isinstance(values.get("value"), str):
            values["value"] = float(values["value"])
        return cls(**values)


@dataclass(frozen=True)
class AlertState:
    """Where one rule stands after the last window it was evaluated on.

    Attributes:
        rule: the rule's name.
        fingerprint: the rule's :attr:`AlertRule.fingerprint` when the state was made.
        streak: consecutive breaching windows so far.
        since: key of the first window of the streak (``None`` when no streak).
        firing: whether the rule's alert is firing.
        alert_id: the firing alert's id.
        last_window: key of the last window that had the rule's value.
    """

    rule: str
    fingerprint: str
    streak: int = 0
    since: str | None = None
    firing: bool = False
    alert_id: str | None = None
    last_window: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, to store between runs."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertState:
        """The state :meth:`to_dict` described."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class AlertEvaluation:
    """What :func:`evaluate_alerts` found.

    Attributes:
        events: fired and resolved alerts, in window order, then rule order.
        states: per rule name, where it stands after the last window; hand them to the
            next call to continue with later windows.
    """

    events: tuple[AlertEvent, ...]
    states: Mapping[str, AlertState]

    @property
    def firing(self) -> tuple[str, ...]:
        """Ids of the alerts firing after the last window."""
        return tuple(s.alert_id for s in self.states.values() if s.firing and s.alert_id)


def evaluate_alerts(
    rules: Sequence[AlertRule],
    windows: Sequence[AlertWindow],
    states: Mapping[str, AlertState] | None = None,
) -> AlertEvaluation:
    """Which alerts fire and resolve over ``windows`` (ordered oldest first).

    Args:
        rules: the monitor's rules (unique names).
        windows: the windows to evaluate, oldest first, with unique keys.
        states: the ``states`` of an earlier call over the windows just before these
            ones, to continue from there; a state whose rule was edited since
            (another fingerprint) or removed is dropped, and that rule starts afresh.

    Returns:
        The events and each rule's state after the last window. Evaluating windows in
        pieces, each call handed the previous ``states``, gives the same events as one
        call over them all.

    Raises:
        AlertRuleError: two rules share a name, or two windows share a key.
        TypeError: a window's values hold something other than a number where a rule
            reads one.
    """
    _check_unique(rules)
    keys: set[str] = set()
    for window in windows:
        if window.key in keys:
            raise AlertRuleError(
                f"two windows have the key {window.key!r}; each window needs its own key"
            )
        keys.add(window.key)
    current: dict[str, AlertState] = {}
    for rule in rules:
        previous = (states or {}).get(rule.name)
        if previous is not None and previous.fingerprint == rule.fingerprint:
            current[rule.name] = previous
        else:
            current[rule.name] = AlertState(rule=rule.name, fingerprint=rule.fingerprint)
    paths = {rule.name: rule.path for rule in rules}
    events: list[AlertEvent] = []
    for window in windows:
        for rule in rules:
            value = paths[rule.name].read(window.values)
            if value is None:
                continue
            state, event = _step(rule, current[rule.name], window, value)
            current[rule.name] = state
            if event is not None:
                events.append(event)
    return AlertEvaluation(events=tuple(events), states=current)


def _step(
    rule: AlertRule, state: AlertState, window: AlertWindow, value: float
) -> tuple[AlertState, AlertEvent | None]:
    # +-inf compare as numbers do: an infinite distance breaches a '>' rule
    if rule.breaches(value) and not math.isnan(value):
        since = state.since if state.streak and state.since else window.key
        streak = state.streak + 1
        if not state.firing and streak >= rule.for_windows:
            alert_id = f"{rule.name}@{since}"
            new = AlertState(rule.name, rule.fingerprint, streak, since, True, alert_id, window.key)
            return new, _event(rule, "firing", alert_id, window, value, since)
        new = AlertState(
            rule.name, rule.fingerprint, streak, since, state.firing, state.alert_id, window.key
        )
        return new, None
    cleared = AlertState(rule.name, rule.fingerprint, last_window=window.key)
    if state.firing and state.alert_id is not None:
        event = _event(rule, "resolved", state.alert_id, window, value, state.since or window.key)
        return cleared, event
    return cleared, None


def _event(
    rule: AlertRule,
    status: Literal["firing", "resolved"],
    alert_id: str,
    window: AlertWindow,
    value: float,
    since: str,
) -> AlertEvent:
    return AlertEvent(
        alert_id=alert_id,
        rule=rule.name,
        status=status,
        severity=rule.severity,
        value_path=rule.value,
        operator=rule.operator,
        threshold=rule.threshold,
        for_windows=rule.for_windows,
        value=value,
        window=window.key,
        since=since,
        window_start=window.start.isoformat() if window.start else None,
        window_end=window.end.isoformat() if window.end else None,
        action=rule.action if status == "firing" else None,
    )
