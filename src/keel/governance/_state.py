"""Replaying the audit chain into the state it describes, and comparing that with the store.

The chain proves that its events were not changed; it says nothing by itself about
rows changed *beside* it (``UPDATE model_aliases SET version = 2``). Replaying every
event gives what the governed tables must hold — every model, version (status, files,
digest of its immutable fields), alias, alias move, gate result, role grant, endpoint,
endpoint revision, monitor, monitor revision, monitor result and alert, and feature
definition version — and
each difference from what they do hold is a :class:`StateMismatch`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from keel.store import AuditEvent
from keel.store._audit import AuditedObject

__all__ = ["TABLES", "StateMismatch", "StateReplay", "changed_paths", "cite"]

#: the table that holds each kind of governed object (named in messages)
TABLES: dict[str, str] = {
    "registered_model": "registered_models",
    "model_version": "model_versions",
    "alias": "model_aliases",
    "alias_history": "model_alias_history",
    "gate_result": "gate_results",
    "role": "roles",
    "endpoint": "endpoints",
    "endpoint_revision": "endpoint_revisions",
    "monitor": "monitors",
    "monitor_revision": "monitor_revisions",
    "monitor_result": "monitor_results",
    "monitor_alert": "monitor_alerts",
    "feature_definition": "feature_definitions",
}

#: the object types of feature definitions' audit events
_FEATURE_KINDS = ("entity", "feature_view", "feature_service")

_WHAT_DIGEST_COVERS = {
    "model_version": "its metrics, signature, description, details or files",
    "gate_result": "its checks, values, bounds, policy or reason",
    "endpoint": "its spec (targets, shadow, limits, batching, ...) or model versions",
    "endpoint_revision": "its spec (targets, shadow, limits, batching, ...) or model versions",
    "monitor": "its endpoint or spec (window, checks, reference, alert rules)",
    "monitor_revision": "its endpoint or spec (window, checks, reference, alert rules)",
    "monitor_result": "its status, rows, values, details, model versions, reference or message",
    "feature_definition": "its spec (entities, source, features, TTL, ...)",
}


@dataclass(frozen=True, slots=True)
class StateMismatch:
    """A governed row that the audit chain does not explain, or an event missing from the state.

    Attributes:
        table: the table the row lives in (``model_aliases``).
        object_id: the object (``iris@champion``).
        problem: what differs, naming the table's value, the chain's and the event.
    """

    table: str
    object_id: str
    problem: str

    def __str__(self) -> str:
        return self.problem


def cite(event: AuditEvent) -> str:
    """``event #7 alias.promote by alice``."""
    return f"event #{event.seq} {event.action} by {event.actor}"


def changed_paths(recorded: Mapping[str, str], stored: Mapping[str, str]) -> str:
    """The paths whose sha256 differs between two ``{path: sha256}`` maps, comma-separated."""
    changed = set(recorded.items()) ^ set(stored.items())
    return ", ".join(sorted({path for path, _ in changed}))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# Each object is (fields -> (value, the event that set it)); None once an event removed it.
_Fields = dict[str, tuple[Any, AuditEvent]]


class StateReplay:
    """Feed events in ``seq`` order; then :meth:`compare` with the store's audited state."""

    def __init__(self) -> None:
        self._objects: dict[tuple[str, str], _Fields | None] = {}
        self._removed_by: dict[tuple[str, str], AuditEvent] = {}
        self._moves: dict[str, list[tuple[list[Any], AuditEvent]]] = {}

    def _set(self, kind: str, object_id: str, event: AuditEvent, **fields: Any) -> None:
        current = self._objects.get((kind, object_id)) or {}
        current.update({k: (v, event) for k, v in fields.items()})
        self._objects[(kind, object_id)] = current

    def _remove(self, kind: str, object_id: str, event: AuditEvent) -> None:
        self._objects[(kind, object_id)] = None
        self._removed_by[(kind, object_id)] = event

    def feed(self, event: AuditEvent) -> None:
        """Apply one event's effect (events that change no governed row are ignored)."""
        after: Mapping[str, Any] = event.after or {}
        before: Mapping[str, Any] = event.before or {}
        oid, action = event.object_id, event.action
        if action == "registered_model.create":
            self._set("registered_model", oid, event, created_by=event.actor)
        elif action == "model_version.register":
            fields = {k: after[k] for k in ("run_id", "flavor", "format", "files") if k in after}
            fields.update({k: after[k] for k in ("datasets", "digest") if k in after})
            self._set("model_version", oid, event, status="READY", **fields)
        elif action == "model_version.archive":
            self._set("model_version", oid, event, status=after.get("status", "ARCHIVED"))
        elif action.startswith("alias.") and event.object_type == "alias":
            self._alias(event, before, after)
        elif action == "promotion.reject":
            name, _, alias = oid.partition("@")
            gate = {"model": name, "alias": alias, "passed": False, "forced": False}
            gate.update(version=after.get("version"), failed=sorted(set(after.get("failed", []))))
            if "gate_digest" in after:
                gate["digest"] = after["gate_digest"]
            self._set("gate_result", str(after.get("gate_result")), event, **gate)
        elif action == "role.grant":
            self._set("role", oid, event, granted_by=event.actor)
        elif action == "role.revoke":
            self._remove("role", oid, event)
        elif action.startswith("endpoint.") and event.object_type == "endpoint":
            self._revised("endpoint", event, before, after)
        elif action.startswith("monitor.") and event.object_type == "monitor":
            self._revised("monitor", event, before, after)
        elif action == "monitor.results" and event.object_type == "monitor_results":
            for r in after.get("results", ()):
                rid = f"{oid}@{r.get('window')}#{r.get('check')}"
                self._set(
                    "monitor_result", rid, event, status=r.get("status"), digest=r.get("digest")
                )
        elif action.startswith("monitor_alert.") and event.object_type == "monitor_alert":
            self._alert(event, after)
        elif event.object_type in _FEATURE_KINDS and action in (
            f"{event.object_type}.register",
            f"{event.object_type}.retire",
        ):
            self._set(
                "feature_definition",
                f"{event.object_type}:{oid}",
                event,
                created_by=event.actor,
                retired=action.endswith(".retire"),
                digest=after.get("digest"),
            )

    def _alert(self, event: AuditEvent, after: Mapping[str, Any]) -> None:
        oid, verb = event.object_id, event.action.removeprefix("monitor_alert.")
        if verb == "fire":
            status = None if after.get("action") is None else "pending"
            fields = {"rule": after.get("rule"), "window": after.get("window")}
            self._set("monitor_alert", oid, event, action_status=status, resolved=False, **fields)
        elif verb == "claim":
            self._set("monitor_alert", oid, event, action_status="claimed")
        elif verb == "action":
            self._set("monitor_alert", oid, event, action_status=after.get("status"))
        elif verb == "resolve":
            self._set("monitor_alert", oid, event, resolved=True)

    def _revised(
        self, kind: str, event: AuditEvent, before: Mapping[str, Any], after: Mapping[str, Any]
    ) -> None:
        """An endpoint or monitor change: the object and its revision row."""
        oid, verb = event.object_id, event.action.removeprefix(f"{kind}.")
        revision: Any
        digest: Any
        if event.after is None:  # deleted: the delete itself is the revision after the last
            self._remove(kind, oid, event)
            revision, digest = (before.get("revision") or 0) + 1, ""
        else:
            revision, digest = after.get("revision"), after.get("digest")
            self._set(kind, oid, event, revision=revision, digest=digest)
        self._set(
            f"{kind}_revision",
            f"{oid}#{revision}",
            event,
            action=verb,
            actor=event.actor,
            digest=digest,
        )

    def _alias(
        self, event: AuditEvent, before: Mapping[str, Any], after: Mapping[str, Any]
    ) -> None:
        oid, verb = event.object_id, event.action.removeprefix("alias.")
        if event.after is None:
            self._remove("alias", oid, event)
        else:
            self._set("alias", oid, event, version=after.get("version"))
        gate_id = after.get("gate_result")
        move = [
            verb,
            before.get("version"),
            after.get("version"),
            event.actor,
            event.reason,
            gate_id,
        ]
        self._moves.setdefault(oid, []).append((move, event))
        if gate_id is not None:
            name, _, alias = oid.partition("@")
            gate: dict[str, Any] = {"model": name, "version": after.get("version"), "alias": alias}
            gate["forced"] = verb == "force_promote"
            if verb == "promote":
                gate["passed"] = True
            if "gate_digest" in after:
                gate["digest"] = after["gate_digest"]
            self._set("gate_result", str(gate_id), event, **gate)

    def compare(self, objects: Iterable[AuditedObject]) -> list[StateMismatch]:
        """Every difference between the replayed state and the store's ``objects``."""
        actual = {(o.object_type, o.object_id): o.state for o in objects}
        problems: list[StateMismatch] = []
        keys = set(self._objects) | {k for k in actual if k[0] != "alias_history"}
        for kind, oid in sorted(keys):
            problems += self._compare_one(kind, oid, actual.get((kind, oid)))
        history_keys = set(self._moves) | {k[1] for k in actual if k[0] == "alias_history"}
        for oid in sorted(history_keys):
            rows = list((actual.get(("alias_history", oid)) or {}).get("moves", []))
            problems += self._compare_moves(oid, rows)
        return problems

    def _compare_one(
        self, kind: str, oid: str, state: Mapping[str, Any] | None
    ) -> list[StateMismatch]:
        table = TABLES[kind]
        key = (kind, oid)
        expected = self._objects.get(key)
        if key not in self._objects or expected is None:
            if state is None:
                return []
            text = (
                "is not explained by any audit event: it was written behind keel's back"
                if key not in self._objects
                else f"exists, but {cite(self._removed_by[key])} removed it: it was restored "
                "behind keel's back"
            )
            return [StateMismatch(table, oid, f"{table} row {oid} ({_brief(state)}) {text}")]
        if state is None:
            first = min((e for _, e in expected.values()), key=lambda e: e.seq)
            shown = {k: v for k, (v, _) in expected.items() if k not in ("digest", "files")}
            return [
                StateMismatch(
                    table,
                    oid,
                    f"{table} has no row {oid}, but {cite(first)} recorded it "
                    f"({_brief(shown)}): it was deleted behind keel's back",
                )
            ]
        out: list[StateMismatch] = []
        for field, (value, event) in expected.items():
            if field not in state or state[field] == value:
                continue
            if field == "digest" and out:
                continue  # a named field already differs; the digest adds nothing
            if field == "digest":
                text = (
                    f"{table} row {oid}: {_WHAT_DIGEST_COVERS[kind]} differ from what "
                    f"{cite(event)} recorded: the row was changed behind keel's back"
                )
            elif field == "files":
                paths = changed_paths(value, state[field])
                text = (
                    f"{table} row {oid}: the sha256 of {paths} differs from what {cite(event)} "
                    "registered: the files were changed behind keel's back"
                )
            else:
                text = (
                    f"{table} row {oid}: {field} is {_show(state[field])} in the table, but the "
                    f"audit chain says {_show(value)} ({cite(event)}): it was changed behind "
                    "keel's back"
                )
            out.append(StateMismatch(table, oid, text))
        return out

    def _compare_moves(self, oid: str, rows: list[list[Any]]) -> list[StateMismatch]:
        table = TABLES["alias_history"]
        expected = self._moves.get(oid, [])
        out = []
        for i in range(max(len(rows), len(expected))):
            row = rows[i] if i < len(rows) else None
            move, event = expected[i] if i < len(expected) else (None, None)
            if row == move:
                continue
            where = f"{table} of {oid}, move {i + 1}"
            if move is None or event is None:
                text = f"{where} ({_move(row)}) is not explained by any audit event"
            elif row is None:
                text = f"{where} is missing; {cite(event)} recorded {_move(move)}"
            else:
                text = f"{where}: the table has {_move(row)}, the audit chain has {_move(move)} ({cite(event)})"
            out.append(StateMismatch(table, oid, text + ": changed behind keel's back"))
            break  # after the first difference every later move is shifted; one is enough
        return out


def _brief(state: Mapping[str, Any]) -> str:
    parts = [f"{k} {_show(v)}" for k, v in state.items() if k not in ("digest", "files", "moves")]
    return ", ".join(parts) or "no fields"


def _move(move: list[Any] | None) -> str:
    if move is None:
        return "nothing"
    verb, source, target, actor, reason, _ = move
    arrow = f"{source if source is not None else '-'} -> {target if target is not None else '-'}"
    return f"{verb} {arrow} by {actor}" + (f" ({reason})" if reason else "")
