"""Evaluating each kind of policy check against a candidate model version."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keel.context import Context
from keel.gates._policy import Check
from keel.store import CheckResult, ModelVersion

__all__ = ["GateContext", "dataset_label", "evaluate_check"]

_LOWER_IS_BETTER = ("loss", "error", "rmse", "mae", "mse", "mape", "latency", "brier")
_LATENCY_SAMPLES = 200
_LATENCY_WARMUP = 10


@dataclass
class GateContext:
    """What checks need: the context, the candidate, the alias's current holder, loaded models."""

    context: Context
    candidate: ModelVersion
    alias: str
    holder: ModelVersion | None = None
    _models: dict[str, Any] = field(default_factory=dict)

    def model(self, version: ModelVersion) -> Any:
        """The loaded model of a version (verified; loaded once)."""
        if version.uri not in self._models:
            from keel.registry import load_version

            self._models[version.uri] = load_version(version, context=self.context, serve=False)
        return self._models[version.uri]


def _lookup_metric(metrics: Any, name: str) -> tuple[str, float] | None:
    """A metric by name, also as the training helper logs it (test.X, then cv.X_mean)."""
    for key in (name, f"test.{name}", f"cv.{name}_mean", f"cv.{name}"):
        if key in metrics:
            return key, float(metrics[key])
    return None


def _metric_names(metrics: Any) -> str:
    names = sorted(metrics)
    return ", ".join(names[:25]) + (" ..." if len(names) > 25 else "") if names else "none"


def _check_metric(check: Check, ctx: GateContext) -> CheckResult:
    assert check.bound is not None
    found = _lookup_metric(ctx.candidate.metrics, check.bound.name)
    if found is None:
        return CheckResult(
            check.describe(),
            None,
            str(check.bound),
            False,
            f"the run has no metric {check.bound.name!r}; it has: "
            f"{_metric_names(ctx.candidate.metrics)}",
        )
    key, value = found
    ok = not math.isnan(value) and check.bound.holds(value)
    return CheckResult(
        check.describe(),
        value,
        str(check.bound),
        ok,
        f"{key} = {value:.6g}" + ("" if ok else f", needs {check.bound}"),
    )


def _check_fairness(check: Check, ctx: GateContext) -> CheckResult:
    assert check.bound is not None
    name = check.bound.name
    metrics = ctx.candidate.metrics
    keys = [k for k in (name, f"fairness.{name}") if k in metrics]
    if not keys:
        keys = [
            k
            for k in metrics
            if k.startswith("fairness.") and k.endswith("." + name) and ".mitigated." not in k
        ]
    if not keys:
        return CheckResult(
            check.describe(),
            None,
            str(check.bound),
            False,
            f"the run recorded no fairness metric {name!r} (train with "
            "sensitive_features=...); fairness metrics: "
            f"{', '.join(k for k in metrics if k.startswith('fairness.')) or 'none'}",
        )
    values = {k: float(metrics[k]) for k in keys}
    # Several sensitive features: the worst one decides.
    worst_key = (max if check.bound.op in ("<=", "<") else min)(values, key=lambda k: values[k])
    value = values[worst_key]
    ok = not math.isnan(value) and check.bound.holds(value)
    return CheckResult(
        check.describe(),
        value,
        str(check.bound),
        ok,
        f"{worst_key} = {value:.6g}" + ("" if ok else f", needs {check.bound}"),
    )


def dataset_label(context: Context, dataset_id: str) -> str:
    """A dataset version as users name it (``iris-test/1``), from its id.

    An id the store does not know (a lineage node logged by hand) is shown as it is.
    """
    from keel.errors import NotFoundError

    try:
        record = context.store.datasets.get_version_by_id(dataset_id)
    except NotFoundError:
        return dataset_id
    return f"{record.name}/{record.version}"


def _labels(context: Context, ids: Any) -> list[str]:
    return [dataset_label(context, i) for i in ids or ()]


def _read_table(ref: str, context: Context) -> tuple[Any, str]:
    """The table a ``dataset:`` option names, and how to show it (``iris-test/2``)."""
    import pandas as pd

    lower = ref.lower()
    if lower.endswith(".csv"):
        return pd.read_csv(ref), ref
    if lower.endswith(".parquet"):
        return pd.read_parquet(ref), ref
    from keel.data import get

    version = get(ref, context=context)
    return version.to_pandas(), f"{version.name}/{version.version}"


def _same_data_hint(ctx: GateContext, metric: str, tolerance: float, dataset: str) -> str:
    """The policy line that compares both versions on one dataset (target from the run)."""
    from keel.errors import KeelError

    try:
        run = ctx.context.store.tracking.get_run(ctx.candidate.run_id)
        target = run.params.get("target") or "COLUMN"
    except KeelError:  # a missing run only loses the hint's target
        target = "COLUMN"
    return (
        f"no_regression: {{metric: {metric}, tolerance: {tolerance:g}, dataset: {dataset}, "
        f"target: {target}}}"
    )


def _score(metric: str, y_true: Any, y_pred: Any) -> float:
    from sklearn import metrics as m

    scorers: dict[str, Callable[[Any, Any], float]] = {
        "accuracy": m.accuracy_score,
        "balanced_accuracy": m.balanced_accuracy_score,
        "f1_macro": lambda a, b: m.f1_score(a, b, average="macro"),
        "f1_micro": lambda a, b: m.f1_score(a, b, average="micro"),
        "f1_weighted": lambda a, b: m.f1_score(a, b, average="weighted"),
        "precision_macro": lambda a, b: m.precision_score(a, b, average="macro", zero_division=0),
        "recall_macro": lambda a, b: m.recall_score(a, b, average="macro", zero_division=0),
        "r2": m.r2_score,
        "mae": m.mean_absolute_error,
        "mse": m.mean_squared_error,
        "rmse": lambda a, b: float(m.mean_squared_error(a, b) ** 0.5),
    }
    if metric not in scorers:
        raise KeyError(
            f"cannot compute {metric!r} on a dataset; computable metrics: {', '.join(scorers)}"
        )
    return float(scorers[metric](y_true, y_pred))


def _check_no_regression(check: Check, ctx: GateContext) -> CheckResult:
    opts = check.options
    metric, tolerance = opts["metric"], float(opts["tolerance"])
    lower = opts.get("direction") == "lower" or (
        "direction" not in opts and any(t in metric.lower() for t in _LOWER_IS_BETTER)
    )
    if ctx.holder is None:
        return CheckResult(
            check.describe(),
            None,
            "no current holder",
            True,
            f"{ctx.candidate.name}@{ctx.alias} has no holder yet; nothing to regress against",
        )
    if ctx.holder.version == ctx.candidate.version:
        return CheckResult(check.describe(), None, "same version", True, "candidate is the holder")
    if "dataset" in opts:
        label = opts["dataset"]
        try:
            frame, label = _read_table(opts["dataset"], ctx.context)
            y = frame[opts["target"]]
            X = frame.drop(columns=[opts["target"]])
            new = _score(metric, y, ctx.model(ctx.candidate).predict(X))
            old = _score(metric, y, ctx.model(ctx.holder).predict(X))
        except Exception as exc:
            return CheckResult(
                check.describe(),
                None,
                f"{metric} vs holder",
                False,
                f"could not evaluate on {label}: {type(exc).__name__}: {exc}",
            )
        where = f"both evaluated on {label}"
    else:
        a = _labels(ctx.context, ctx.candidate.details.get("evaluated_on"))
        b = _labels(ctx.context, ctx.holder.details.get("evaluated_on"))
        if a and b and sorted(a) != sorted(b):
            hint = _same_data_hint(ctx, metric, tolerance, a[0])
            return CheckResult(
                check.describe(),
                None,
                f"{metric} vs holder",
                False,
                f"the versions were evaluated on different datasets (candidate "
                f"{ctx.candidate.uri} on {', '.join(a)}, holder {ctx.holder.uri} on "
                f"{', '.join(b)}), so their logged {metric} cannot be compared; evaluate both "
                f"on one dataset: {hint} (see docs/guides/registry.md)",
            )
        found_new = _lookup_metric(ctx.candidate.metrics, metric)
        found_old = _lookup_metric(ctx.holder.metrics, metric)
        if found_new is None or found_old is None or found_new[0] != found_old[0]:
            return CheckResult(
                check.describe(),
                None,
                f"{metric} vs holder",
                False,
                f"{metric!r} is not recorded the same way for both versions "
                f"(candidate: {found_new and found_new[0]}, holder "
                f"v{ctx.holder.version}: {found_old and found_old[0]})",
            )
        new, old = found_new[1], found_old[1]
        where = f"logged {found_new[0]}" + (f" on {', '.join(a)}" if a else "")
    if lower:
        limit, ok, op = old + tolerance, new <= old + tolerance, "<="
    else:
        limit, ok, op = old - tolerance, new >= old - tolerance, ">="
    return CheckResult(
        check.describe(),
        new,
        f"{metric} {op} {limit:.6g}",
        bool(ok),
        f"candidate {new:.6g} vs holder v{ctx.holder.version} {old:.6g} "
        f"(tolerance {tolerance:g}; {where})",
    )


def _check_latency(check: Check, ctx: GateContext) -> CheckResult:
    import numpy as np

    from keel.registry import load_input_example

    assert check.bound is not None
    example = load_input_example(ctx.candidate, context=ctx.context)
    if example is None or len(example) == 0:
        return CheckResult(
            check.describe(),
            None,
            str(check.bound),
            False,
            "the version has no input example to time predictions on; log the "
            "model with input_example=...",
        )
    model = ctx.model(ctx.candidate)
    rows = (
        [example.iloc[[i]] for i in range(len(example))]
        if hasattr(example, "iloc")
        else [example[i : i + 1] for i in range(len(example))]
    )
    predict = model.predict if hasattr(model, "predict") else model
    if ctx.candidate.flavor == "torch":
        import torch

        tensors = [torch.as_tensor(np.asarray(r, dtype=np.float32)) for r in rows]

        def predict(x: Any) -> Any:
            with torch.no_grad():
                return model(x)

        rows = tensors
    for i in range(_LATENCY_WARMUP):
        predict(rows[i % len(rows)])
    times = []
    for i in range(_LATENCY_SAMPLES):
        start = time.perf_counter()
        predict(rows[i % len(rows)])
        times.append((time.perf_counter() - start) * 1000)
    arr = np.asarray(times)
    stat = check.bound.name
    value = float(
        {"mean_ms": arr.mean(), "max_ms": arr.max()}.get(
            stat, np.percentile(arr, float(stat[1:-3])) if stat.startswith("p") else arr.mean()
        )
    )
    ok = check.bound.holds(value)
    return CheckResult(
        check.describe(),
        round(value, 4),
        str(check.bound),
        ok,
        f"{stat} = {value:.3f} ms over {_LATENCY_SAMPLES} single-row predictions in process",
    )


def _check_artifacts(check: Check, ctx: GateContext) -> CheckResult:
    run_files = list(ctx.candidate.details.get("run_artifacts") or [])
    present: list[str] = []
    missing: list[str] = []
    for item in check.options["artifacts"]:
        if item == "model_card":
            ok = ctx.candidate.file("model_card") is not None
        elif item == "onnx":
            ok = ctx.candidate.file("onnx") is not None
        elif item == "shap":
            ok = any("shap" in p.lower() for p in run_files)
        elif item == "input_example":
            ok = ctx.candidate.file("input_example") is not None
        else:
            ok = any(p == item or p.startswith(item.rstrip("/") + "/") for p in run_files)
        (present if ok else missing).append(item)
    ok = not missing
    detail = "all present" if ok else f"missing: {', '.join(missing)}"
    return CheckResult(check.describe(), present, ", ".join(check.options["artifacts"]), ok, detail)


def _check_training_data(check: Check, ctx: GateContext) -> CheckResult:
    ids = list(ctx.candidate.datasets)
    if not ids:
        return CheckResult(
            check.describe(),
            None,
            "valid",
            False,
            "no training dataset is recorded for this version (lineage has no "
            "dataset_version -trained_on-> run edge)",
        )
    from keel.data import get, get_by_id

    invalid, errors = [], []
    labels = {ref: dataset_label(ctx.context, ref) for ref in ids}
    for ref in ids:
        try:
            version = (
                get(ref, context=ctx.context)
                if "/" in ref or "@" in ref
                else get_by_id(ref, context=ctx.context)
            )
        except Exception as exc:
            errors.append(f"{labels[ref]}: {exc}")
            continue
        if not getattr(version, "valid", False):
            invalid.append(ref)
    ok = not invalid and not errors
    detail = (
        f"{len(ids)} dataset version(s) passed validation: {', '.join(labels.values())}"
        if ok
        else "; ".join([*(f"{labels[r]} failed validation" for r in invalid), *errors])
    )
    value = {labels[r]: r not in invalid for r in ids}
    return CheckResult(check.describe(), value, "valid", ok, detail)


def _check_onnx(check: Check, ctx: GateContext) -> CheckResult:
    assert check.bound is not None
    record = ctx.candidate.details.get("onnx") or {}
    if not record.get("kept"):
        return CheckResult(
            check.describe(),
            None,
            str(check.bound),
            False,
            f"no ONNX export was kept: {record.get('reason', 'not attempted')}",
        )
    value = float(record["max_abs_diff"])
    ok = check.bound.holds(value)
    return CheckResult(
        check.describe(),
        value,
        str(check.bound),
        ok,
        f"max abs difference {value:.3g} on {record.get('rows', '?')} example rows",
    )


def _check_monitor(check: Check, ctx: GateContext) -> CheckResult:
    """No alert of the monitor is firing (a monitor that does not exist fails the check)."""
    from keel.errors import NotFoundError

    name = check.options["monitor"]
    try:
        firing = ctx.context.store.monitors.list_alerts(name, active_only=True)
    except NotFoundError as exc:
        return CheckResult(check.describe(), None, "no firing alert", False, str(exc))
    if not firing:
        return CheckResult(
            check.describe(), 0, "no firing alert", True, f"monitor {name} has no firing alert"
        )
    shown = "; ".join(
        f"{a.rule} [{a.severity}] since window {a.window}: {a.metric} = {a.value:.4g} "
        f"({a.condition})"
        for a in firing[:5]
    )
    return CheckResult(
        check.describe(),
        len(firing),
        "no firing alert",
        False,
        f"monitor {name} has {len(firing)} firing alert(s): {shown}",
    )


_EVALUATORS: dict[str, Callable[[Check, GateContext], CheckResult]] = {
    "metric": _check_metric,
    "fairness": _check_fairness,
    "no_regression": _check_no_regression,
    "latency": _check_latency,
    "required_artifacts": _check_artifacts,
    "training_data_valid": _check_training_data,
    "onnx_parity": _check_onnx,
    "monitor_healthy": _check_monitor,
}


def evaluate_check(check: Check, ctx: GateContext) -> CheckResult:
    """Evaluate one check; an unexpected failure fails the check and says why."""
    try:
        return _EVALUATORS[check.kind](check, ctx)
    except Exception as exc:
        return CheckResult(
            check.describe(),
            None,
            str(check.bound or ""),
            False,
            f"the check could not run: {type(exc).__name__}: {exc}",
        )
