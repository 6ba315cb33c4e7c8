"""After a run: evaluate the monitor's alert rules, store and deliver alerts, act on them.

The rules are evaluated over every stored window of the monitor, oldest first, with the
pure evaluator of :mod:`keel.monitoring._alerts` (so the outcome does not depend on how
windows were split between runs). Each firing is stored once (the store keys alerts by
monitor, rule and window); only a newly stored one is delivered to the sinks, so a
repeated run notifies nobody twice. A rule that stops holding resolves its alert.

``action: rollback`` moves the endpoint's alias back to its previous holder through
the gates' rollback service (audited, the alert as its reason). The store lets exactly
one caller claim an alert's action, so it runs at most once even with two monitor
processes; an alert already resolved when its action comes up is not acted on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from keel.errors import KeelError
from keel.store import AlertDraft
from keel.store._monitors import alert_id

if TYPE_CHECKING:
    from keel.context import Context
    from keel.monitoring._alerts import AlertEvent, AlertRule, AlertWindow
    from keel.monitoring._monitor_spec import MonitorSpec
    from keel.monitoring._run import MonitorRun
    from keel.store import Monitor, MonitorAlert, MonitorResult

__all__ = ["evaluate_and_act", "monitor_windows"]

logger = logging.getLogger("keel.monitoring")


def _time(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def monitor_windows(results: Sequence[MonitorResult]) -> list[AlertWindow]:
    """The stored results as the evaluator's windows, oldest first."""
    from keel.monitoring._alerts import AlertWindow
    from keel.monitoring._run import window_values

    grouped: dict[str, list[MonitorResult]] = {}
    for r in results:
        grouped.setdefault(r.window, []).append(r)
    out = []
    for key, items in sorted(grouped.items(), key=lambda kv: (kv[1][0].start, kv[1][0].end)):
        first = items[0]
        timed = key.startswith("time:")
        out.append(
            AlertWindow(
                key=key,
                values=window_values(items),
                start=_time(first.start) if timed else None,
                end=_time(first.end) if timed else None,
            )
        )
    return out


def _deliver(sinks: Iterable[Any], event: AlertEvent, run: MonitorRun) -> None:
    for sink in sinks:
        try:
            sink.deliver(event)
        except Exception as exc:  # one broken sink never stops the others or the run
            run.notes.append(f"alert sink {sink!r} failed: {type(exc).__name__}: {exc}")


def _draft(rule: AlertRule, event: AlertEvent) -> AlertDraft:
    import math

    value = event.value if math.isfinite(event.value) else math.nan
    return AlertDraft(
        rule=rule.name,
        window=event.window,
        severity=event.severity,
        metric=event.value_path,
        value=value,
        condition=rule.describe(),
        message=event.message[:2000],
        action=rule.action,
    )


def evaluate_and_act(
    context: Context,
    monitor: Monitor,
    spec: MonitorSpec,
    run: MonitorRun,
    sinks: Sequence[Any] | None = None,
    metrics: Any = None,
) -> None:
    """Evaluate the rules over the stored windows; store, deliver and act (see the module)."""
    from keel.monitoring._alerts import evaluate_alerts, parse_alert_rules

    rules = parse_alert_rules(spec.alerts)
    store = context.store.monitors
    results = store.list_results(monitor.name)
    windows = monitor_windows(results)
    evaluation = evaluate_alerts(rules, windows)
    if metrics is not None and windows:
        latest = windows[-1]
        metrics.set_window(monitor.endpoint, monitor.name, latest.values, window_end=latest.end)
        metrics.set_alerts(monitor.endpoint, monitor.name, rules, evaluation.states)
    if not rules:
        return
    if sinks is None:
        from keel.monitoring._sinks import LogSink

        sinks = [LogSink()]
    by_name = {r.name: r for r in rules}
    fired_at: dict[str, str] = {}  # rule -> the window its current streak fired on
    actor = context.actor
    for event in evaluation.events:
        rule = by_name[event.rule]
        if event.status == "firing":
            fired_at[rule.name] = event.window
            alert, new = store.record_alert(monitor.name, _draft(rule, event), actor)
            if new:
                run.alerts.append(alert)
                _deliver(sinks, event, run)
        else:
            window = fired_at.pop(rule.name, None)
            if window is None:
                continue
            ident = alert_id(monitor.name, rule.name, window)
            active = [a for a in store.list_alerts(monitor.name, True) if a.id == ident]
            if active:
                run.resolved.append(store.resolve_alert(monitor.name, ident, event.window, actor))
                _deliver(sinks, event, run)
    for alert in store.list_alerts(monitor.name):
        if alert.action == "rollback" and alert.action_status == "pending":
            run.actions.append(_act(context, monitor, alert, results))


def _alias_targets(spec: Any) -> list[str]:
    targets = spec.get("targets") or []
    refs = [str(t.get("model", "")) for t in targets if isinstance(t, dict)]
    return [r for r in refs if "@" in r]


def _act(
    context: Context, monitor: Monitor, alert: MonitorAlert, results: Sequence[MonitorResult]
) -> str:
    """Roll back the endpoint's alias for ``alert``, if this caller wins the claim."""
    from keel.governance import PermissionDeniedError

    store = context.store.monitors
    actor = context.actor
    try:
        claimed = store.claim_alert_action(monitor.name, alert.id, actor)
    except PermissionDeniedError as exc:  # an editor's run: the alert waits for a maintainer
        return f"alert {alert.rule}: its rollback waits for a run by a maintainer ({exc})"
    if not claimed:
        return f"alert {alert.rule}: its action was taken by another run"
    if not alert.active:
        detail = f"not rolled back: the alert resolved on {alert.resolved_window} first"
        store.finish_alert_action(monitor.name, alert.id, "skipped", detail, actor)
        return f"alert {alert.rule}: {detail}"
    try:
        detail, status = _rollback(context, monitor, alert, results), "done"
    except KeelError as exc:
        detail, status = f"rollback failed: {exc}", "failed"
    store.finish_alert_action(monitor.name, alert.id, status, detail, actor)
    if status == "failed":
        logger.error("monitor %s: alert %s: %s", monitor.name, alert.rule, detail)
    return f"alert {alert.rule}: {detail}"


def _rollback(
    context: Context, monitor: Monitor, alert: MonitorAlert, results: Sequence[MonitorResult]
) -> str:
    from keel.gates import rollback

    endpoint = context.store.endpoints.get_endpoint(monitor.endpoint)
    refs = _alias_targets(endpoint.spec)
    if not refs:
        raise _nothing(monitor.endpoint, endpoint.model_versions)
    answered = {v for r in results if r.window == alert.window for v in r.model_versions}
    chosen = []
    for ref in refs:
        name, _, alias = ref.partition("@")
        holder = context.store.registry.get_alias(name, alias)
        if f"{name}/{holder.version}" in answered:
            chosen.append(ref)
    reason = (
        f"monitor {monitor.name} alert {alert.rule} on window {alert.window}: "
        f"{alert.metric} = {alert.value:.6g} ({alert.condition})"
    )
    done = []
    for ref in chosen or refs[:1]:
        outcome = rollback(ref, reason=reason, context=context)
        done.append(outcome.message)
    return "; ".join(done)


def _nothing(endpoint: str, versions: Sequence[str]) -> KeelError:
    from keel.errors import InvalidArgumentError

    return InvalidArgumentError(
        f"endpoint {endpoint!r} serves pinned versions ({', '.join(versions) or 'none'}), not "
        "an alias; only an alias can be rolled back"
    )
