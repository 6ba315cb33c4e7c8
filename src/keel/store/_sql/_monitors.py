"""Monitors on SQL: revisions audited with lineage; immutable results; alerts claimed once.

Every governed write locks the project's audit chain head first (as endpoints and
aliases do), so concurrent changes queue in one place; then it checks, writes its rows
and its audit event, and commits once.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel._clock import now_ms
from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.store._audit import AuditedObject, AuditEntry
from keel.store._lineage import LineageEdge, LineageNode
from keel.store._monitors import (
    CHECKS,
    MAX_RESULTS_PER_CALL,
    AlertDraft,
    Monitor,
    MonitorAlert,
    MonitorResult,
    MonitorRevision,
    MonitorStore,
    alert_id,
    check_alert,
    check_monitor_name,
    check_monitor_spec,
    check_result,
    monitor_digest,
)
from keel.store._sql._audit import append_event, lock_chain
from keel.store._sql._database import Database
from keel.store._sql._lineage import write_edges
from keel.store._sql._monitors_rows import (
    monitor_alerts as _alerts,
    monitor_results as _results,
    monitor_revisions as _revisions,
    monitors as _monitors,
)

__all__ = ["SqlMonitorStore"]

#: the relation of the lineage edge endpoint -> monitor
MONITORED_BY = "monitored_by"


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _monitor(row: Any) -> Monitor:
    return Monitor(
        name=row.name,
        endpoint=row.endpoint,
        revision=int(row.revision),
        spec=json.loads(row.spec),
        created_at=int(row.created_at),
        created_by=row.created_by,
        updated_at=int(row.updated_at),
        updated_by=row.updated_by,
        reason=row.reason,
    )


def _revision(row: Any) -> MonitorRevision:
    return MonitorRevision(
        name=row.name,
        revision=int(row.revision),
        action=row.action,
        endpoint=row.endpoint,
        spec=None if row.spec is None else json.loads(row.spec),
        actor=row.actor,
        time=int(row.time),
        reason=row.reason,
    )


def _result(row: Any) -> MonitorResult:
    return MonitorResult(
        monitor=row.monitor,
        window=row.window,
        check=row.check,
        status=row.status,
        rows=int(row.rows),
        values={k: float(v) for k, v in json.loads(row.values).items()},
        details=json.loads(row.details),
        model_versions=tuple(json.loads(row.model_versions)),
        reference=row.reference,
        message=row.message,
        computed_at=int(row.computed_at),
        computed_by=row.computed_by,
    )


def _alert(row: Any) -> MonitorAlert:
    return MonitorAlert(
        id=row.id,
        monitor=row.monitor,
        rule=row.rule,
        window=row.window,
        severity=row.severity,
        metric=row.metric,
        value=math.nan if row.value is None else float(row.value),
        condition=row.condition,
        message=row.message,
        fired_at=int(row.fired_at),
        fired_by=row.fired_by,
        action=row.action,
        action_status=row.action_status,
        action_by=row.action_by,
        action_at=None if row.action_at is None else int(row.action_at),
        action_detail=row.action_detail,
        resolved_at=None if row.resolved_at is None else int(row.resolved_at),
        resolved_window=row.resolved_window,
    )


class SqlMonitorStore(MonitorStore):
    """:class:`MonitorStore` over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, project: str) -> None:
        self._db = db
        self._project = project

    def _of(self, table: sa.Table, **equal: Any) -> sa.ColumnElement[bool]:
        return sa.and_(
            table.c.project == self._project, *(table.c[k] == v for k, v in equal.items())
        )

    # -- reading helpers -----------------------------------------------------------

    def _row(self, conn: Connection, name: str) -> Any:
        return conn.execute(sa.select(_monitors).where(self._of(_monitors, name=name))).first()

    def _last_revision(self, conn: Connection, name: str) -> Any:
        return conn.execute(
            sa.select(_revisions)
            .where(self._of(_revisions, name=name))
            .order_by(_revisions.c.revision.desc())
            .limit(1)
        ).first()

    def _missing(self, conn: Connection, name: str) -> NotFoundError:
        last = self._last_revision(conn, name)
        if last is not None and last.action == "delete":
            return NotFoundError(
                f"monitor {name!r} was deleted (revision {last.revision}, by {last.actor}); "
                f"its history: keel monitors show {name} --history"
            )
        names = [
            r.name
            for r in conn.execute(
                sa.select(_monitors.c.name)
                .where(_monitors.c.project == self._project)
                .order_by(_monitors.c.name)
            )
        ]
        if not names:
            return NotFoundError(
                f"monitor {name!r} does not exist; project {self._project!r} has no monitors "
                "(keel monitors create makes one)"
            )
        near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        listed = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
        hint = f"did you mean {', '.join(near)}? " if near else ""
        return NotFoundError(f"monitor {name!r} does not exist; {hint}monitors are: {listed}")

    def _existing(self, conn: Connection, name: str) -> Any:
        """The monitor's row; ``NotFoundError`` when it does not exist (now)."""
        row = self._row(conn, name)
        if row is None:
            raise self._missing(conn, name)
        return row

    def _ever(self, conn: Connection, name: str) -> None:
        """``NotFoundError`` unless a monitor of that name exists or once did."""
        if self._last_revision(conn, name) is None:
            raise self._missing(conn, name)

    @staticmethod
    def _is_retry(
        last: Any, action: str, actor: str, endpoint: str | None, spec: str | None
    ) -> bool:
        return (
            last is not None
            and last.action == action
            and last.actor == actor
            and last.endpoint == endpoint
            and last.spec == spec
        )

    # -- changes --------------------------------------------------------------------

    def _write(
        self,
        conn: Connection,
        action: str,
        name: str,
        revision: int,
        endpoint: str | None,
        spec: dict[str, Any] | None,
        actor: str,
        reason: str | None,
        before: Any,
    ) -> int:
        now = now_ms()
        conn.execute(
            _revisions.insert(),
            {
                "project": self._project,
                "name": name,
                "revision": revision,
                "action": action,
                "endpoint": endpoint,
                "spec": None if spec is None else _dumps(spec),
                "actor": actor,
                "time": now,
                "reason": reason,
            },
        )
        after = None
        if spec is not None and endpoint is not None:
            after = {
                "revision": revision,
                "endpoint": endpoint,
                "spec": spec,
                "digest": monitor_digest(endpoint, spec),
            }
        append_event(
            conn,
            AuditEntry(
                actor=actor,
                action=f"monitor.{action}",
                object_type="monitor",
                object_id=name,
                before=None
                if before is None
                else {"revision": int(before.revision), "digest": _monitor(before).digest()},
                after=after,
                reason=reason,
            ),
            self._project,
        )
        if endpoint is not None:
            write_edges(
                self._db,
                conn,
                [
                    LineageEdge(
                        LineageNode("endpoint", endpoint, endpoint),
                        LineageNode("monitor", name, name),
                        MONITORED_BY,
                        now,
                    )
                ],
                self._project,
            )
        return now

    def create_monitor(
        self,
        name: str,
        endpoint: str,
        spec: Mapping[str, Any],
        actor: str,
        reason: str | None = None,
    ) -> Monitor:
        check_monitor_name(name)
        check_monitor_name(endpoint, "endpoint")
        data = check_monitor_spec(name, spec)
        text = _dumps(data)
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            row = self._row(conn, name)
            last = self._last_revision(conn, name)
            if row is not None:
                if int(row.revision) == int(last.revision) and self._is_retry(
                    last, "create", actor, endpoint, text
                ):
                    return _monitor(row)
                raise ConflictError(
                    f"monitor {name!r} exists (revision {row.revision}, written by "
                    f"{row.updated_by}); change it with keel monitors create {name} --replace, "
                    "or delete it first"
                )
            revision = 1 if last is None else int(last.revision) + 1
            now = self._write(conn, "create", name, revision, endpoint, data, actor, reason, None)
            conn.execute(
                _monitors.insert(),
                {
                    "project": self._project,
                    "name": name,
                    "endpoint": endpoint,
                    "revision": revision,
                    "spec": text,
                    "created_at": now,
                    "created_by": actor,
                    "updated_at": now,
                    "updated_by": actor,
                    "reason": reason,
                },
            )
            return _monitor(self._row(conn, name))

    def _check_revision(self, row: Any, name: str, expected: int) -> None:
        if int(row.revision) != expected:
            raise ConflictError(
                f"monitor {name!r} changed while this change was being prepared: it is at "
                f"revision {row.revision} (written by {row.updated_by}), not {expected}. Read "
                f"it again (keel monitors show {name}) and repeat the change"
            )

    def update_monitor(
        self,
        name: str,
        endpoint: str,
        spec: Mapping[str, Any],
        expected_revision: int,
        actor: str,
        reason: str | None = None,
    ) -> Monitor:
        check_monitor_name(name)
        check_monitor_name(endpoint, "endpoint")
        data = check_monitor_spec(name, spec)
        text = _dumps(data)
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            row = self._existing(conn, name)
            if int(row.revision) == expected_revision + 1 and self._is_retry(
                self._last_revision(conn, name), "update", actor, endpoint, text
            ):
                return _monitor(row)
            self._check_revision(row, name, expected_revision)
            revision = int(row.revision) + 1
            now = self._write(conn, "update", name, revision, endpoint, data, actor, reason, row)
            conn.execute(
                _monitors.update()
                .where(self._of(_monitors, name=name))
                .values(
                    endpoint=endpoint,
                    revision=revision,
                    spec=text,
                    updated_at=now,
                    updated_by=actor,
                    reason=reason,
                )
            )
            return _monitor(self._row(conn, name))

    def delete_monitor(
        self, name: str, expected_revision: int, actor: str, reason: str | None = None
    ) -> None:
        check_monitor_name(name)
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            row = self._row(conn, name)
            if row is None:
                last = self._last_revision(conn, name)
                if (
                    last is not None
                    and int(last.revision) == expected_revision + 1
                    and self._is_retry(last, "delete", actor, None, None)
                ):
                    return
                raise self._missing(conn, name)
            self._check_revision(row, name, expected_revision)
            self._write(conn, "delete", name, int(row.revision) + 1, None, None, actor, reason, row)
            conn.execute(_monitors.delete().where(self._of(_monitors, name=name)))

    # -- reading --------------------------------------------------------------------

    def get_monitor(self, name: str) -> Monitor:
        check_monitor_name(name)
        with self._db.read() as conn:
            return _monitor(self._existing(conn, name))

    def list_monitors(self, endpoint: str | None = None) -> list[Monitor]:
        where = _monitors.c.project == self._project
        if endpoint is not None:
            where = sa.and_(where, _monitors.c.endpoint == endpoint)
        with self._db.read() as conn:
            return [
                _monitor(r)
                for r in conn.execute(sa.select(_monitors).where(where).order_by(_monitors.c.name))
            ]

    def list_monitor_revisions(self, name: str) -> list[MonitorRevision]:
        check_monitor_name(name)
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_revisions)
                .where(self._of(_revisions, name=name))
                .order_by(_revisions.c.revision)
            ).all()
            if not rows:
                raise self._missing(conn, name)
            return [_revision(r) for r in rows]

    # -- results --------------------------------------------------------------------

    def record_results(
        self, name: str, results: Sequence[MonitorResult], actor: str
    ) -> list[MonitorResult]:
        check_monitor_name(name)
        if isinstance(results, MonitorResult) or not isinstance(results, Sequence):
            raise InvalidArgumentError("results must be a list of MonitorResult")
        if len(results) > MAX_RESULTS_PER_CALL:
            raise InvalidArgumentError(
                f"at most {MAX_RESULTS_PER_CALL} results are recorded per call; got {len(results)}"
            )
        for r in results:
            check_result(r, name)
        keys = [(r.window, r.check) for r in results]
        if len(set(keys)) != len(keys):
            raise InvalidArgumentError("the results name one (window, check) twice; give each once")
        if not results:
            return []
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            self._existing(conn, name)
            windows = sorted({r.window for r in results})
            stored = {
                (row.window, row.check): _result(row)
                for row in conn.execute(
                    sa.select(_results).where(
                        self._of(_results, monitor=name), _results.c.window.in_(windows)
                    )
                )
            }
            now = now_ms()
            new = [r for r in results if (r.window, r.check) not in stored]
            if new:
                conn.execute(
                    _results.insert(),
                    [
                        {
                            "project": self._project,
                            "monitor": name,
                            "window": r.window,
                            "check": r.check,
                            "window_start": r.start,
                            "window_end": r.end,
                            "status": r.status,
                            "rows": r.rows,
                            "values": _dumps({k: float(v) for k, v in r.values.items()}),
                            "details": _dumps(dict(r.details)),
                            "model_versions": _dumps(list(r.model_versions)),
                            "reference": r.reference,
                            "message": r.message,
                            "computed_at": now,
                            "computed_by": actor,
                        }
                        for r in new
                    ],
                )
                append_event(
                    conn,
                    AuditEntry(
                        actor=actor,
                        action="monitor.results",
                        object_type="monitor_results",
                        object_id=name,
                        before=None,
                        after={
                            "results": [
                                {
                                    "window": r.window,
                                    "check": r.check,
                                    "status": r.status,
                                    "digest": r.digest(),
                                }
                                for r in new
                            ]
                        },
                    ),
                    self._project,
                )
                for row in conn.execute(
                    sa.select(_results).where(
                        self._of(_results, monitor=name), _results.c.window.in_(windows)
                    )
                ):
                    stored[(row.window, row.check)] = _result(row)
            return [stored[k] for k in keys]

    def list_results(
        self, name: str, check: str | None = None, since: int | None = None
    ) -> list[MonitorResult]:
        check_monitor_name(name)
        if check is not None and check not in CHECKS:
            raise InvalidArgumentError(
                f"check {check[:40]!r} is unknown; checks are: {', '.join(CHECKS)}"
            )
        where = [self._of(_results, monitor=name)]
        if check is not None:
            where.append(_results.c.check == check)
        if since is not None:
            where.append(_results.c.window_end > since)
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_results)
                .where(*where)
                .order_by(_results.c.window_start, _results.c.window_end, _results.c.check)
            ).all()
            if not rows:
                self._ever(conn, name)
            return [_result(r) for r in rows]

    # -- alerts ---------------------------------------------------------------------

    def _alert_row(self, conn: Connection, name: str, ident: str) -> Any:
        row = conn.execute(
            sa.select(_alerts).where(self._of(_alerts, monitor=name, id=ident))
        ).first()
        if row is None:
            self._ever(conn, name)
            raise NotFoundError(
                f"monitor {name!r} has no alert {str(ident)[:40]!r}; its alerts: "
                f"keel monitors show {name}"
            )
        return row

    def _alert_event(
        self, conn: Connection, action: str, row: Any, actor: str, after: dict[str, Any]
    ) -> None:
        append_event(
            conn,
            AuditEntry(
                actor=actor,
                action=f"monitor_alert.{action}",
                object_type="monitor_alert",
                object_id=row.id,
                before=None,
                after={"monitor": row.monitor, "rule": row.rule, "window": row.window, **after},
                reason=row.message if action == "claim" else None,
            ),
            self._project,
        )

    def record_alert(self, name: str, draft: AlertDraft, actor: str) -> tuple[MonitorAlert, bool]:
        check_monitor_name(name)
        check_alert(draft)
        ident = alert_id(name, draft.rule, draft.window)
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            found = conn.execute(sa.select(_alerts).where(self._of(_alerts, id=ident))).first()
            if found is not None:
                return _alert(found), False
            self._existing(conn, name)
            conn.execute(
                _alerts.insert(),
                {
                    "project": self._project,
                    "id": ident,
                    "monitor": name,
                    "rule": draft.rule,
                    "window": draft.window,
                    "severity": draft.severity,
                    "metric": draft.metric,
                    "value": None if math.isnan(draft.value) else float(draft.value),
                    "condition": draft.condition,
                    "message": draft.message,
                    "fired_at": now_ms(),
                    "fired_by": actor,
                    "action": draft.action,
                    "action_status": None if draft.action is None else "pending",
                },
            )
            row = self._alert_row(conn, name, ident)
            self._alert_event(
                conn,
                "fire",
                row,
                actor,
                {
                    "severity": draft.severity,
                    "metric": draft.metric,
                    "value": None if math.isnan(draft.value) else draft.value,
                    "condition": draft.condition,
                    "action": draft.action,
                },
            )
            return _alert(row), True

    def claim_alert_action(self, name: str, alert_id: str, actor: str) -> bool:
        check_monitor_name(name)
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            row = self._alert_row(conn, name, alert_id)
            if row.action is None:
                raise InvalidArgumentError(
                    f"alert {alert_id} of monitor {name!r} (rule {row.rule!r}) has no action"
                )
            now = now_ms()
            claimed = conn.execute(
                _alerts.update()
                .where(self._of(_alerts, id=alert_id), _alerts.c.action_status == "pending")
                .values(action_status="claimed", action_by=actor, action_at=now)
            ).rowcount
            if claimed != 1:
                return False
            self._alert_event(conn, "claim", row, actor, {"action": row.action})
            return True

    def finish_alert_action(
        self, name: str, alert_id: str, status: str, detail: str, actor: str
    ) -> MonitorAlert:
        check_monitor_name(name)
        if status not in ("done", "failed", "skipped"):
            raise InvalidArgumentError(
                f"an action ends done, failed or skipped, not {str(status)[:40]!r}"
            )
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            row = self._alert_row(conn, name, alert_id)
            if row.action_status != "claimed":
                raise ConflictError(
                    f"the action of alert {alert_id} is {row.action_status or 'absent'}, not "
                    "claimed; claim it first (claim_alert_action), once"
                )
            conn.execute(
                _alerts.update()
                .where(self._of(_alerts, id=alert_id))
                .values(
                    action_status=status,
                    action_detail=str(detail)[:2000],
                    action_at=now_ms(),
                )
            )
            self._alert_event(
                conn,
                "action",
                row,
                actor,
                {"action": row.action, "status": status, "detail": str(detail)[:2000]},
            )
            return _alert(self._alert_row(conn, name, alert_id))

    def resolve_alert(self, name: str, alert_id: str, window: str, actor: str) -> MonitorAlert:
        check_monitor_name(name)
        with self._db.write() as conn:
            lock_chain(conn, self._project)
            row = self._alert_row(conn, name, alert_id)
            if row.resolved_at is not None:
                return _alert(row)
            conn.execute(
                _alerts.update()
                .where(self._of(_alerts, id=alert_id))
                .values(resolved_at=now_ms(), resolved_window=window)
            )
            self._alert_event(conn, "resolve", row, actor, {"resolved_window": window})
            return _alert(self._alert_row(conn, name, alert_id))

    def list_alerts(self, name: str, active_only: bool = False) -> list[MonitorAlert]:
        check_monitor_name(name)
        where = [self._of(_alerts, monitor=name)]
        if active_only:
            where.append(_alerts.c.resolved_at.is_(None))
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_alerts).where(*where).order_by(_alerts.c.fired_at, _alerts.c.id)
            ).all()
            if not rows:
                self._ever(conn, name)
            return [_alert(r) for r in rows]

    def audited_state(self) -> list[AuditedObject]:
        with self._db.read() as conn:
            current = [
                _monitor(r)
                for r in conn.execute(
                    sa.select(_monitors)
                    .where(_monitors.c.project == self._project)
                    .order_by(_monitors.c.name)
                )
            ]
            revisions = [
                _revision(r)
                for r in conn.execute(
                    sa.select(_revisions)
                    .where(_revisions.c.project == self._project)
                    .order_by(_revisions.c.name, _revisions.c.revision)
                )
            ]
            results = [
                _result(r)
                for r in conn.execute(
                    sa.select(_results)
                    .where(_results.c.project == self._project)
                    .order_by(_results.c.monitor, _results.c.window_start, _results.c.check)
                )
            ]
            alerts = [
                _alert(r)
                for r in conn.execute(
                    sa.select(_alerts)
                    .where(_alerts.c.project == self._project)
                    .order_by(_alerts.c.id)
                )
            ]
        out = [
            AuditedObject("monitor", m.name, {"revision": m.revision, "digest": m.digest()})
            for m in current
        ]
        out += [
            AuditedObject(
                "monitor_result",
                f"{r.monitor}@{r.window}#{r.check}",
                {"status": r.status, "digest": r.digest()},
            )
            for r in results
        ]
        out += [
            AuditedObject(
                "monitor_alert",
                a.id,
                {
                    "rule": a.rule,
                    "window": a.window,
                    "action_status": a.action_status,
                    "resolved": a.resolved_at is not None,
                },
            )
            for a in alerts
        ]
        out += [
            AuditedObject(
                "monitor_revision",
                f"{r.name}#{r.revision}",
                {"action": r.action, "actor": r.actor, "digest": r.digest()},
            )
            for r in revisions
        ]
        return out
