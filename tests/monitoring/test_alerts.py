"""Alert rules and their evaluator: parsing, firing after N windows, resolving, state."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from keel.errors import error_for_code
from keel.monitoring._alerts import (
    AlertEvent,
    AlertRule,
    AlertRuleError,
    AlertState,
    AlertWindow,
    evaluate_alerts,
    parse_alert_rules,
)
from keel.monitoring._values import drift_values, lookup_value, parse_value_path


def _windows(values: list[float | None], path: str = "drift.share_drifted") -> list[AlertWindow]:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    out = []
    for i, v in enumerate(values):
        section, _, name = path.partition(".")
        data: dict[str, Any] = {"rows": 100}
        if v is not None:
            data[section] = {name: v}
        out.append(
            AlertWindow(
                key=f"w{i:03d}",
                values=data,
                start=start + timedelta(hours=i),
                end=start + timedelta(hours=i + 1),
            )
        )
    return out


def _rule(**kw: Any) -> AlertRule:
    base: dict[str, Any] = {
        "name": "drift",
        "value": "drift.share_drifted",
        "operator": ">=",
        "threshold": 0.5,
    }
    base.update(kw)
    return AlertRule(**base)


# ---- value paths -------------------------------------------------------------------


def test_value_paths_read_every_section() -> None:
    values = {
        "rows": 120,
        "drift": {
            "share_drifted": 0.25,
            "dataset_drift": True,
            "columns": {"age": {"statistic": 0.3, "p_value": None, "drifted": False}},
        },
        "prediction_drift": {"columns": {"label.v2": {"score": 0.7}}},
        "performance": {"accuracy": 0.9},
        "estimated": {"accuracy": float("nan")},
    }
    assert lookup_value(values, "rows") == 120.0
    assert lookup_value(values, "drift.share_drifted") == 0.25
    assert lookup_value(values, "drift.dataset_drift") == 1.0
    assert lookup_value(values, "drift.columns.age.statistic") == 0.3
    assert lookup_value(values, "drift.columns.age.drifted") == 0.0
    assert lookup_value(values, "drift.columns.age.p_value") is None
    assert lookup_value(values, "drift.columns.nope.statistic") is None
    # a column name with dots: everything up to the last dot
    assert lookup_value(values, "prediction_drift.columns.label.v2.score") == 0.7
    assert lookup_value(values, "performance.accuracy") == 0.9
    assert lookup_value(values, "performance.f1") is None
    assert lookup_value(values, "estimated.accuracy") is None  # NaN: no value
    assert lookup_value({}, "drift.share_drifted") is None


@pytest.mark.parametrize(
    "path",
    [
        "",
        "rows.x",
        "drift",
        "drift.share",
        "drift.columns.age",
        "drift.columns..statistic",
        "drift.columns.age.mean",
        "performance",
        "performance.",
        "performance.bad-name",
        "latency.p99",
    ],
)
def test_bad_value_paths_list_the_forms(path: str) -> None:
    with pytest.raises(ValueError, match="is not a value path; use one of: rows"):
        parse_value_path(path)


def test_a_string_where_a_number_belongs_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"performance.accuracy must be a number, not 'high'"):
        lookup_value({"performance": {"accuracy": "high"}}, "performance.accuracy")
    with pytest.raises(TypeError, match="'drift' must be a mapping"):
        lookup_value({"drift": 3}, "drift.share_drifted")


def test_drift_values_from_a_real_report() -> None:
    import numpy as np
    import pandas as pd

    from keel.monitoring import drift

    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"a": rng.normal(0, 1, 500), "b": rng.normal(0, 1, 500)})
    cur = pd.DataFrame({"a": rng.normal(3, 1, 500), "b": rng.normal(0, 1, 500)})
    report = drift(ref, cur)
    values = {"drift": drift_values(report)}
    assert lookup_value(values, "drift.share_drifted") == 0.5
    assert lookup_value(values, "drift.columns.a.drifted") == 1.0
    assert lookup_value(values, "drift.columns.b.drifted") == 0.0
    assert lookup_value(values, "drift.columns.a.statistic") == report["a"].statistic
    json.dumps(values)  # plain JSON


# ---- rules -------------------------------------------------------------------------


def test_rules_parse_from_mappings_with_defaults() -> None:
    (rule,) = parse_alert_rules(
        [{"name": "acc", "value": "performance.accuracy", "operator": "<", "threshold": 0.8}]
    )
    assert (rule.for_windows, rule.severity, rule.action) == (1, "warning", None)
    assert rule.describe() == "performance.accuracy < 0.8"
    assert _rule(for_windows=3).describe() == "drift.share_drifted >= 0.5 for 3 windows"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "value": "drift.share_drifted", "operator": ">"}, "threshold: required"),
        (
            {"name": "x", "value": "drift.share", "operator": ">", "threshold": 1},
            "value: 'drift.share' is not a value path",
        ),
        (
            {"name": "x", "value": "rows", "operator": "=>", "threshold": 1},
            r"operator: Input should be '>', '>=', '<' or '<=' \(got '=>'\)",
        ),
        (
            {"name": "x", "value": "rows", "operator": ">", "threshold": 1, "for_window": 2},
            "for_window: unknown field; the fields are name, value, operator",
        ),
        (
            {"name": "x", "value": "rows", "operator": ">", "threshold": 1, "for_windows": 0},
            "for_windows: Input should be greater than or equal to 1",
        ),
        (
            {"name": "x", "value": "rows", "operator": ">", "threshold": float("nan")},
            "threshold: Input should be a finite number",
        ),
        (
            {"name": "x", "value": "rows", "operator": ">", "threshold": 1, "severity": "high"},
            "severity: Input should be 'info', 'warning' or 'critical'",
        ),
        (
            {"name": "x", "value": "rows", "operator": ">", "threshold": 1, "action": "page"},
            "action: Input should be 'rollback'",
        ),
        (
            {"name": "has space", "value": "rows", "operator": ">", "threshold": 1},
            "alert rule 'has space' is invalid: name: String should match pattern",
        ),
    ],
)
def test_bad_rules_are_clear_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(AlertRuleError, match=message) as info:
        parse_alert_rules([data])
    assert info.value.code == "INVALID_ALERT_RULE" and info.value.http_status == 400
    assert error_for_code("INVALID_ALERT_RULE") is AlertRuleError


def test_rules_must_be_mappings_with_unique_names() -> None:
    with pytest.raises(AlertRuleError, match="alert rule 1 must be a mapping"):
        parse_alert_rules(["drift > 0.5"])  # type: ignore[list-item]
    with pytest.raises(AlertRuleError, match="two alert rules are named 'drift'"):
        parse_alert_rules([_rule(), _rule(threshold=0.9)])
    with pytest.raises(AlertRuleError, match="two alert rules are named 'drift'"):
        evaluate_alerts([_rule(), _rule()], [])


def test_rules_are_frozen() -> None:
    rule = _rule()
    with pytest.raises(Exception, match="frozen"):
        rule.threshold = 3  # type: ignore[misc]


# ---- evaluation --------------------------------------------------------------------


def test_fires_after_n_consecutive_windows_and_resolves() -> None:
    rule = _rule(for_windows=2, severity="critical", action="rollback")
    windows = _windows([0.6, 0.1, 0.5, 0.7, 0.9, 0.2, 0.8])
    result = evaluate_alerts([rule], windows)
    assert [(e.status, e.window, e.since) for e in result.events] == [
        ("firing", "w003", "w002"),
        ("resolved", "w005", "w002"),
    ]
    fired, resolved = result.events
    assert fired.alert_id == resolved.alert_id == "drift@w002"
    assert fired.action == "rollback" and resolved.action is None
    assert fired.value == 0.7 and resolved.value == 0.2
    assert fired.severity == "critical"
    assert fired.window_start == "2026-12-01T03:00:00+00:00"
    assert "firing: drift.share_drifted = 0.7 (drift.share_drifted >= 0.5 for 2 windows" in (
        fired.message
    )
    # w006 breaches again: a new streak of 1, not yet firing
    assert result.states["drift"].streak == 1 and not result.states["drift"].firing
    assert result.firing == ()


def test_operators_at_the_boundary() -> None:
    values = [0.4, 0.5, 0.6]
    fired = {}
    for op in (">", ">=", "<", "<="):
        result = evaluate_alerts([_rule(operator=op)], _windows(values))
        fired[op] = [e.window for e in result.events if e.status == "firing"]
    assert fired == {">": ["w002"], ">=": ["w001"], "<": ["w000"], "<=": ["w000"]}


def test_missing_values_neither_extend_nor_break_a_streak() -> None:
    rule = _rule(value="performance.accuracy", operator="<", threshold=0.8, for_windows=3)
    windows = _windows([0.7, None, 0.75, None, None, 0.6, None, 0.9], "performance.accuracy")
    events = evaluate_alerts([rule], windows).events
    assert [(e.status, e.window, e.since) for e in events] == [
        ("firing", "w005", "w000"),
        ("resolved", "w007", "w000"),
    ]


def test_infinite_values_compare_as_numbers() -> None:
    result = evaluate_alerts([_rule(operator=">")], _windows([math.inf]))
    (event,) = result.events
    assert event.value == math.inf
    data = event.to_dict()
    assert data["value"] == "inf"
    json.dumps(data, allow_nan=False)
    assert AlertEvent.from_dict(data) == event


def test_events_come_in_window_then_rule_order() -> None:
    rules = [
        _rule(name="b-second", operator=">", threshold=0.0),
        _rule(name="a-first", operator=">", threshold=0.5),
    ]
    events = evaluate_alerts(rules, _windows([0.9, 0.1])).events
    assert [(e.rule, e.status, e.window) for e in events] == [
        ("b-second", "firing", "w000"),
        ("a-first", "firing", "w000"),
        ("a-first", "resolved", "w001"),
    ]


def test_duplicate_window_keys_are_refused() -> None:
    w = AlertWindow(key="k", values={})
    with pytest.raises(AlertRuleError, match="two windows have the key 'k'"):
        evaluate_alerts([_rule()], [w, w])


def test_state_round_trips_and_continues() -> None:
    rule = _rule(for_windows=3)
    first = evaluate_alerts([rule], _windows([0.9, 0.9]))
    assert first.events == ()
    saved = {k: AlertState.from_dict(json.loads(json.dumps(v.to_dict())))
             for k, v in first.states.items()}  # fmt: skip
    later = [AlertWindow(key="w002", values={"drift": {"share_drifted": 0.95}})]
    (event,) = evaluate_alerts([rule], later, saved).events
    assert (event.status, event.since, event.alert_id) == ("firing", "w000", "drift@w000")


def test_an_edited_rule_starts_afresh() -> None:
    first = evaluate_alerts([_rule(for_windows=2)], _windows([0.9]))
    assert first.states["drift"].streak == 1
    edited = _rule(for_windows=2, threshold=0.4)
    assert edited.fingerprint != _rule(for_windows=2).fingerprint
    later = [AlertWindow(key="w001", values={"drift": {"share_drifted": 0.95}})]
    assert evaluate_alerts([edited], later, first.states).events == ()
    # severity is not part of when it fires: same fingerprint, state carried on
    same = _rule(for_windows=2, severity="info")
    assert len(evaluate_alerts([same], later, first.states).events) == 1


def test_evaluation_is_deterministic_and_pure() -> None:
    rules = [_rule(for_windows=2), _rule(name="low", operator="<", threshold=0.2)]
    windows = _windows([0.1, 0.6, 0.7, 0.1, 0.8, 0.9])
    snapshot = [dict(w.values) for w in windows]
    a = evaluate_alerts(rules, windows)
    b = evaluate_alerts(rules, windows)
    assert a == b
    assert [dict(w.values) for w in windows] == snapshot


# ---- properties (hypothesis) ---------------------------------------------------------

_value = st.one_of(
    st.none(), st.floats(0, 1), st.just(float("nan")), st.sampled_from([0.5, 0.3, 0.7])
)
_rule_st = st.builds(
    lambda op, t, n: AlertRule(
        name="r", value="drift.share_drifted", operator=op, threshold=t, for_windows=n
    ),
    st.sampled_from([">", ">=", "<", "<="]),
    st.sampled_from([0.3, 0.5, 0.7]),
    st.integers(1, 4),
)


def _oracle(rule: AlertRule, values: list[float | None]) -> list[tuple[str, str, str]]:
    """Written independently of the evaluator: runs of breaching values among defined ones."""
    defined = [
        (f"w{i:03d}", v) for i, v in enumerate(values) if v is not None and not math.isnan(v)
    ]
    events = []
    run: list[str] = []
    fired = False
    for key, v in defined:
        ok = {">": v > rule.threshold, ">=": v >= rule.threshold,
              "<": v < rule.threshold, "<=": v <= rule.threshold}[rule.operator]  # fmt: skip
        if ok:
            run.append(key)
            if len(run) == rule.for_windows:
                events.append(("firing", key, run[0]))
                fired = True
        else:
            if fired:
                events.append(("resolved", key, run[0]))
            run, fired = [], False
    return events


@settings(max_examples=300, deadline=None)
@given(rule=_rule_st, values=st.lists(_value, max_size=30))
def test_evaluator_matches_an_independent_oracle(
    rule: AlertRule, values: list[float | None]
) -> None:
    events = evaluate_alerts([rule], _windows(values)).events
    assert [(e.status, e.window, e.since) for e in events] == _oracle(rule, values)
    # firing and resolved alternate, starting with firing
    statuses = [e.status for e in events]
    assert all(s == ("firing" if i % 2 == 0 else "resolved") for i, s in enumerate(statuses))


@settings(max_examples=200, deadline=None)
@given(
    rule=_rule_st,
    values=st.lists(_value, max_size=30),
    cuts=st.lists(st.integers(0, 30), max_size=4),
)
def test_evaluating_in_pieces_equals_evaluating_at_once(
    rule: AlertRule, values: list[float | None], cuts: list[int]
) -> None:
    windows = _windows(values)
    whole = evaluate_alerts([rule], windows)
    bounds = sorted({0, len(windows), *(min(c, len(windows)) for c in cuts)})
    events: list[AlertEvent] = []
    states = None
    for lo, hi in itertools.pairwise(bounds):
        part = evaluate_alerts([rule], windows[lo:hi], states)
        events.extend(part.events)
        states = part.states
    assert tuple(events) == whole.events
    if states is not None:
        assert dict(states) == dict(whole.states)
