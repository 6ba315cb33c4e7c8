"""Running a monitor: the windows not computed yet, each check once, results stored.

A run reads the endpoint's log from the first window some check still lacks, cuts it
into windows, and for each complete window computes what is missing:

- ``data_drift``: the inputs against the reference sketch (:func:`keel.monitoring.drift`);
- ``prediction_drift``: the outputs against the model's predictions on the reference;
- ``estimated_performance``: CBPE's estimate (classifiers with probabilities and a
  calibration), as soon as the window is complete;
- ``performance``: the metrics on the labels that arrived within ``lateness``, once
  ``lateness`` has passed after the window closed (results are immutable: a window's
  performance is computed once, when every label it may get is in).

Results are stored in batches; a run repeated, or two racing, store each result once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.errors import KeelError
from keel.monitoring._errors import DriftInputError
from keel.store import MonitorResult

if TYPE_CHECKING:
    from keel.context import Context
    from keel.monitoring._monitor_spec import MonitorSpec
    from keel.monitoring._reference import Reference
    from keel.monitoring._windows import LoggedRows, Window
    from keel.store import ModelVersion, Monitor, MonitorAlert

__all__ = ["MonitorRun", "compute_windows", "flatten_drift", "window_values"]

logger = logging.getLogger("keel.monitoring")

#: check name -> the section of window values it fills (what alert rules read)
SECTIONS: dict[str, str] = {
    "data_drift": "drift",
    "prediction_drift": "prediction_drift",
    "performance": "performance",
    "estimated_performance": "estimated",
}
_BATCH = 500
#: results are stored once their details reach about this size (a keel server takes
#: request bodies of 32 MB by default)
_BATCH_CHARS = 8 * 1024 * 1024
#: a drift report's distributions are left out of a stored result past this size
_MAX_REPORT_CHARS = 512 * 1024


@dataclass
class MonitorRun:
    """What one run of a monitor did.

    Attributes:
        monitor: the monitor's name.
        computed: the results this run stored.
        waiting: windows whose performance waits for labels (``lateness`` not over).
        unknown_feedback: feedback rows for request ids the log does not hold.
        alerts: alerts this run fired (new ones only).
        resolved: alerts this run resolved.
        actions: what alert actions did (``"rollback iris@champion: ..."``).
        notes: anything else worth saying (sink failures, ...).
    """

    monitor: str
    computed: list[MonitorResult] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    unknown_feedback: int = 0
    alerts: list[MonitorAlert] = field(default_factory=list)
    resolved: list[MonitorAlert] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        windows = len({r.window for r in self.computed})
        parts = [f"monitor {self.monitor}: {len(self.computed)} result(s) in {windows} window(s)"]
        drifted = sorted({r.window for r in self.computed if r.status == "drift"})
        if drifted:
            parts.append(f"drift in {len(drifted)} window(s)")
        if self.waiting:
            parts.append(f"{len(self.waiting)} window(s) wait for labels")
        if self.alerts:
            parts.append(f"{len(self.alerts)} alert(s) fired")
        if self.resolved:
            parts.append(f"{len(self.resolved)} resolved")
        return "; ".join(parts)


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return float(value)


def flatten_drift(report: Any) -> dict[str, float]:
    """A drift report's numbers as flat values (``columns.<column>.<field>``)."""
    values = {
        "share_drifted": float(report.drift_share),
        "dataset_drift": 1.0 if report.dataset_drift else 0.0,
        "drifted_columns": float(len(report.drifted_columns)),
        "tested_columns": float(len(report.tested_columns)),
    }
    for c in report.columns:
        if not c.tested:
            continue
        for name in ("statistic", "p_value", "score", "drifted"):
            values[f"columns.{c.column}.{name}"] = _number(getattr(c, name))
    return values


def window_values(results: Sequence[MonitorResult]) -> dict[str, Any]:
    """One window's results as the nested values alert rules read.

    ``{"rows": n, "drift": {...,"columns": {c: {...}}}, "prediction_drift": {...},
    "performance": {...}, "estimated": {...}}``; NaN values are left out.
    """
    out: dict[str, Any] = {}
    for r in results:
        section = SECTIONS[r.check]
        if r.check in ("data_drift", "prediction_drift"):
            out["rows"] = r.rows
        if r.status in ("empty", "error"):
            continue
        part: dict[str, Any] = {}
        for key, value in r.values.items():
            if isinstance(value, float) and math.isnan(value):
                continue
            if key.startswith("columns."):
                column, _, name = key[len("columns.") :].rpartition(".")
                part.setdefault("columns", {}).setdefault(column, {})[name] = value
            else:
                part[key] = value
        out[section] = part
    return out


def _sanitise(data: Any) -> Any:
    """JSON data with NaN and infinities as text (a result's details must be strict JSON)."""
    if isinstance(data, float) and not math.isfinite(data):
        return "nan" if math.isnan(data) else ("inf" if data > 0 else "-inf")
    if isinstance(data, Mapping):
        return {str(k): _sanitise(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_sanitise(v) for v in data]
    if hasattr(data, "item") and getattr(data, "ndim", None) == 0:
        return _sanitise(data.item())
    return data


@dataclass
class _Task:
    """What the answering model is: its task, classes and input names."""

    task: str
    classes: tuple[Any, ...] | None
    inputs: tuple[str, ...]


def _task_of(version: ModelVersion) -> _Task:
    outputs = version.signature.get("outputs") or {}
    names = tuple(str(i["name"]) for i in version.signature.get("inputs", ()) if "name" in i)
    if outputs.get("type") == "label":
        return _Task("classification", tuple(outputs.get("classes") or ()), names)
    return _Task("regression", None, names)


class _Computer:
    """Computes one monitor's checks on windows (references loaded once per version)."""

    def __init__(self, context: Context, monitor: Monitor, spec: MonitorSpec) -> None:
        self.context = context
        self.monitor = monitor
        self.spec = spec
        self._references: dict[str, Reference] = {}
        self._tasks: dict[str, _Task] = {}
        self._models: dict[str, Any] = {}
        self._counted: tuple[LoggedRows | None, dict[str, int]] = (None, {})

    def model(self, version: str) -> Any:
        """The loaded model of a version (verified, loaded once per run)."""
        if version not in self._models:
            from keel.monitoring._reference import _model_version
            from keel.registry import load_version

            self._models[version] = load_version(
                _model_version(self.context, version), context=self.context, serve=False
            )
        return self._models[version]

    def reference(self, version: str) -> Reference:
        if version not in self._references:
            from keel.monitoring._reference import resolve_reference

            self._references[version] = resolve_reference(self.context, self.spec, version)
        return self._references[version]

    def task(self, version: str) -> _Task:
        if version not in self._tasks:
            from keel.monitoring._reference import _model_version

            self._tasks[version] = _task_of(_model_version(self.context, version))
        return self._tasks[version]

    def result(
        self,
        window: Window,
        check: str,
        status: str,
        rows: int,
        values: Mapping[str, float] | None = None,
        details: Mapping[str, Any] | None = None,
        reference: str | None = None,
        message: str | None = None,
    ) -> MonitorResult:
        versions = tuple(sorted(self.versions(window.rows))) if len(window.rows) else ()
        details = dict(details or {})
        if len(window.rows):  # when the window's rows were logged (row windows have no clock)
            times = window.rows.meta["time_ms"]
            details["logged"] = [int(times.iloc[0]), int(times.iloc[-1])]
        return MonitorResult(
            monitor=self.monitor.name,
            window=window.id,
            check=check,
            status=status,
            rows=rows,
            values=dict(values or {}),
            details=_sanitise(details),
            model_versions=versions,
            reference=reference,
            message=message,
        )

    def versions(self, rows: LoggedRows) -> dict[str, int]:
        """Rows answered per model version (counted once per window)."""
        if self._counted[0] is not rows:  # the rows are held, so their identity is stable
            counts = rows.meta["model_version"].value_counts(sort=False)
            self._counted = (rows, {str(k): int(v) for k, v in counts.items()})
        return self._counted[1]

    def majority(self, rows: LoggedRows) -> str:
        counts = self.versions(rows)
        return max(sorted(counts), key=lambda v: counts[v])

    # -- the checks --------------------------------------------------------------------

    def _drift_report(self, reference: Any, current: Any, columns: list[str]) -> Any:
        from keel.monitoring._drift import drift

        return drift(
            reference,
            current,
            columns,
            self.spec.tests,
            drift_share=self.spec.drift_share,
        )

    def _drift_result(self, window: Window, check: str, report: Any, label: str) -> MonitorResult:
        if not report.tested_columns:
            ref_cols = list(report.missing_columns) + [c.column for c in report.columns]
            return self.result(
                window,
                check,
                "error",
                len(window.rows),
                details=report.to_dict(),
                reference=label,
                message=(
                    "no column could be tested: the window has "
                    f"{sorted(report.new_columns) or 'none of the reference columns'}, the "
                    f"reference {label} has {ref_cols}; check the endpoint's inputs against "
                    "the reference"
                ),
            )
        details = report.to_dict()
        if len(str(details)) > _MAX_REPORT_CHARS:
            details["distributions"] = []
        return self.result(
            window,
            check,
            "drift" if report.dataset_drift else "ok",
            len(window.rows),
            values=flatten_drift(report),
            details=details,
            reference=label,
        )

    def data_drift(self, window: Window) -> MonitorResult:
        if not len(window.rows):
            return self.result(window, "data_drift", "empty", 0, message="no predictions")
        ref = self.reference(self.majority(window.rows))
        inputs = window.rows.inputs
        columns = list(self.spec.columns or inputs.columns)
        try:
            report = self._drift_report(ref.sketch, inputs, columns)
        except DriftInputError as exc:
            return self.result(
                window,
                "data_drift",
                "error",
                len(window.rows),
                reference=ref.label,
                message=str(exc),
            )
        return self._drift_result(window, "data_drift", report, ref.label)

    def prediction_drift(self, window: Window) -> MonitorResult:
        import pandas as pd

        if not len(window.rows):
            return self.result(window, "prediction_drift", "empty", 0, message="no predictions")
        ref = self.reference(self.majority(window.rows))
        if ref.outputs is None:
            return self.result(
                window,
                "prediction_drift",
                "empty",
                len(window.rows),
                reference=ref.label,
                message=ref.no_outputs or "the reference holds no predictions",
            )
        current = pd.DataFrame({"prediction": list(window.rows.meta["prediction"])})
        try:
            report = self._drift_report(ref.outputs.predictions, current, ["prediction"])
        except DriftInputError as exc:
            return self.result(
                window,
                "prediction_drift",
                "error",
                len(window.rows),
                reference=ref.label,
                message=str(exc),
            )
        return self._drift_result(window, "prediction_drift", report, f"{ref.label} predictions")

    def estimated(self, window: Window) -> MonitorResult:
        import numpy as np

        check = "estimated_performance"
        if not len(window.rows):
            return self.result(window, check, "empty", 0, message="no predictions")
        ref = self.reference(self.majority(window.rows))
        outputs = ref.outputs
        if outputs is None or outputs.task != "classification" or outputs.calibration is None:
            if outputs is None:
                why = f"no calibration: {ref.no_outputs or 'the reference has no predictions'}"
            elif outputs.task != "classification":
                why = "CBPE estimates classifiers only"
            else:
                why = (
                    "no calibration: the reference has no target column with labels (give "
                    "reference: {dataset: NAME/N, target: COLUMN}) or the model no "
                    "probabilities"
                )
            return self.result(window, check, "empty", len(window.rows), message=why)
        meta = window.rows.meta
        probas = meta["proba"].tolist()
        logged = [isinstance(p, list) for p in probas]
        if all(logged):
            proba = np.asarray(probas, dtype=float)
        else:
            # requests that did not ask for probabilities: the monitor asks the model
            version = self.majority(window.rows)
            names = list(self.task(version).inputs) or list(window.rows.inputs.columns)
            model = self.model(version)
            if not hasattr(model, "predict_proba"):
                return self.result(
                    window,
                    check,
                    "empty",
                    len(window.rows),
                    message="the model gives no probabilities",
                )
            proba = np.asarray(model.predict_proba(window.rows.inputs[names]), dtype=float)
            given = [i for i, ok in enumerate(logged) if ok]
            if given and len(probas[given[0]]) == proba.shape[1]:
                proba[given] = np.asarray([probas[i] for i in given], dtype=float)
        if proba.ndim != 2 or proba.shape[1] != len(outputs.calibration.classes):
            return self.result(
                window,
                check,
                "error",
                len(window.rows),
                message=f"the log holds {proba.shape[-1]} probabilities per row; the model has "
                f"{len(outputs.calibration.classes)} classes",
            )
        predicted = meta["prediction"].tolist()
        values = outputs.calibration.estimate(proba, predicted)
        return self.result(
            window,
            check,
            "ok",
            len(predicted),
            values=values,
            details={
                "calibrated_on": outputs.calibration.source,
                "reference_metrics": outputs.reference_metrics,
            },
            reference=outputs.calibration.source,
        )

    def performance(self, window: Window) -> MonitorResult:
        from keel.monitoring._cbpe import classification_metrics, regression_metrics
        from keel.monitoring._labels import check_labels, joined_labels

        check = "performance"
        meta = window.rows.meta
        if not len(meta):
            return self.result(window, check, "empty", 0, message="no predictions")
        labels, late = joined_labels(
            self.context,
            self.monitor.endpoint,
            meta[["request_id", "time_ms"]],
            self.spec.lateness_ms,
        )
        task = self.task(self.majority(window.rows))
        checked = check_labels(
            list(meta["request_id"]), list(meta["row"]), labels, task.task, task.classes
        )
        counts = {
            "labelled_rows": float(checked.labelled),
            "labelled_share": checked.labelled / len(meta),
            "invalid_labels": float(checked.invalid),
            "late_labels": float(late),
        }
        details: dict[str, Any] = {"task": task.task, "lateness": self.spec.lateness}
        if checked.examples:
            details["invalid_examples"] = checked.examples
        if not checked.labelled:
            if checked.invalid:
                kind = (
                    f"the model's classes are {list(task.classes or ())[:10]}"
                    if task.task == "classification"
                    else "a regression model takes numbers"
                )
                return self.result(
                    window,
                    check,
                    "error",
                    0,
                    values=counts,
                    details=details,
                    message=f"{checked.invalid} label(s) do not fit the model's outputs "
                    f"({kind}; got e.g. {', '.join(checked.examples[:3])}); none was used",
                )
            return self.result(
                window,
                check,
                "empty",
                0,
                values=counts,
                details=details,
                message=f"no label arrived within {self.spec.lateness} of these predictions",
            )
        pairs = [
            (t, p) for t, p in zip(checked.truth, meta["prediction"], strict=True) if t is not None
        ]
        truth = [t for t, _ in pairs]
        pred = [p for _, p in pairs]
        try:
            metrics = (
                classification_metrics(truth, pred)
                if task.task == "classification"
                else regression_metrics(truth, pred)
            )
        except (TypeError, ValueError) as exc:
            return self.result(
                window,
                check,
                "error",
                checked.labelled,
                values=counts,
                details=details,
                message=f"the labels cannot be compared with the predictions: {exc}",
            )
        return self.result(
            window, check, "ok", checked.labelled, values={**metrics, **counts}, details=details
        )


def compute_windows(
    context: Context,
    monitor: Monitor,
    spec: MonitorSpec,
    now_ms: int,
    store_results: Callable[[list[MonitorResult]], list[MonitorResult]],
) -> MonitorRun:
    """Compute and store what the monitor's windows lack (see the module's docstring)."""
    from keel.monitoring._windows import read_rows, row_offset, row_windows, time_windows

    run = MonitorRun(monitor.name)
    wanted: list[str] = [c for c in ("data_drift", "prediction_drift") if c in spec.checks]
    if "performance" in spec.checks:
        wanted += ["estimated_performance", "performance"]
    existing = context.store.monitors.list_results(monitor.name)
    done = {(r.window, r.check) for r in existing}
    kind = spec.window.kind
    ends: dict[str, int] = {}
    for r in existing:
        if r.window.startswith(kind + ":"):
            ends[r.check] = max(ends.get(r.check, r.end), r.end)
    until = now_ms - spec.grace_ms
    resume = min(ends.get(c, -1) for c in wanted)
    computer = _Computer(context, monitor, spec)
    if kind == "time":
        first = resume if resume >= 0 else spec.start_ms
        rows = read_rows(context, monitor.endpoint, first, until)
        windows = time_windows(rows, spec.window.size, first, until)
    else:
        first_row = max(resume, 0)
        since, offset = row_offset(context, monitor.endpoint, spec.start_ms, until, first_row)
        rows = read_rows(context, monitor.endpoint, since, until)
        windows = row_windows(rows, spec.window.size, first_row, offset)
    pending: list[MonitorResult] = []
    size = 0
    labels_ready = True
    for window in windows:
        for check in wanted:
            if (window.id, check) in done:
                continue
            if check == "performance" and (
                not labels_ready or window.closed_at + spec.lateness_ms + spec.grace_ms > now_ms
            ):
                labels_ready = False  # later windows' labels cannot be complete either
                run.waiting.append(window.id)
                continue
            pending.append(_compute(computer, window, check))
            size += len(str(pending[-1].details))
        if len(pending) >= _BATCH or size >= _BATCH_CHARS:
            run.computed += store_results(pending)
            pending, size = [], 0
    if pending:
        run.computed += store_results(pending)
    if "performance" in spec.checks:
        try:
            from keel.monitoring._labels import unknown_feedback

            run.unknown_feedback = unknown_feedback(context, monitor.endpoint)
        except Exception as exc:  # counting is a courtesy; it never fails a run
            run.notes.append(f"unknown feedback not counted: {type(exc).__name__}: {exc}")
        if run.unknown_feedback:
            run.notes.append(
                f"{run.unknown_feedback} feedback row(s) name request ids that are not in the "
                f"prediction log of {monitor.endpoint!r}; they were not used"
            )
    return run


def _compute(computer: _Computer, window: Window, check: str) -> MonitorResult:
    method = {
        "data_drift": computer.data_drift,
        "prediction_drift": computer.prediction_drift,
        "estimated_performance": computer.estimated,
        "performance": computer.performance,
    }[check]
    try:
        return method(window)
    except KeelError:
        raise  # a reference that cannot be found: the whole run stops, nothing half-stored
    except Exception as exc:  # a window the checks cannot handle: said in its result
        logger.exception("monitor %s: %s on %s failed", computer.monitor.name, check, window.id)
        return computer.result(
            window,
            check,
            "error",
            len(window.rows),
            message=f"{check} could not be computed: {type(exc).__name__}: {exc}",
        )
