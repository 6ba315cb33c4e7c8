"""What a monitor is told to do: :class:`MonitorSpec`, checked strictly.

A spec is plain data (YAML, JSON, keyword arguments); unknown keys are errors, so a typo
is reported instead of silently ignored::

    window: {rows: 500}            # or {every: 5m}: tumbling windows of the log
    checks: [data_drift, prediction_drift, performance]
    reference: auto                # or {dataset: iris-train/3, target: species}
    lateness: 1h                   # labels may arrive this long after a prediction
    alerts:
      - {name: inputs-drift, value: drift.share_drifted, operator: ">=", threshold: 0.5}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keel.errors import InvalidArgumentError

__all__ = [
    "CHECK_NAMES",
    "MonitorSpec",
    "MonitorSpecError",
    "ReferenceSpec",
    "WindowSpec",
    "open_sinks",
    "parse_duration_ms",
    "parse_monitor_spec",
]

#: the checks a spec may name (``performance`` brings CBPE's estimate along for classifiers)
CHECK_NAMES: tuple[str, ...] = ("data_drift", "prediction_drift", "performance")

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


class MonitorSpecError(InvalidArgumentError):
    """A monitor's spec is malformed (the message names the field and what it takes)."""

    code = "INVALID_MONITOR_SPEC"
    http_status = 400


def parse_duration_ms(text: str, what: str = "duration") -> int:
    """``"5m"`` -> 300000. Units: ``ms``, ``s``, ``m``, ``h``, ``d``.

    Raises:
        MonitorSpecError: not a duration, or not positive.
    """
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise MonitorSpecError(
            f"{what} {str(text)[:40]!r} is not a duration; write a number and a unit: "
            "30s, 5m, 1h, 7d"
        )
    value = int(float(match[1]) * _UNIT_MS[match[2]])
    if value <= 0:
        raise MonitorSpecError(f"{what} must be longer than 0, got {text!r}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowSpec(_Strict):
    """Tumbling windows of the prediction log: by row count or by time.

    Attributes:
        rows: each window holds this many logged rows (a request of 10 rows is 10).
        every: each window spans this much time (``5m``, ``1h``), aligned on the epoch
            (a 1h window starts on the hour, UTC).
    """

    rows: int | None = Field(default=None, ge=1, le=10_000_000)
    every: str | None = None

    @model_validator(mode="after")
    def _one(self) -> WindowSpec:
        if (self.rows is None) == (self.every is None):
            raise ValueError("give exactly one of rows (a count) or every (a duration)")
        if self.every is not None:
            parse_duration_ms(self.every, "window.every")
        return self

    @property
    def kind(self) -> str:
        """``rows`` or ``time``."""
        return "rows" if self.rows is not None else "time"

    @property
    def size(self) -> int:
        """Rows per window, or milliseconds per window."""
        if self.rows is not None:
            return self.rows
        assert self.every is not None
        return parse_duration_ms(self.every, "window.every")


class ReferenceSpec(_Strict):
    """An explicit reference: a dataset version (with its target column) or a stored sketch.

    Attributes:
        dataset: a dataset reference (``iris-train/3``).
        sketch: the sha256 of a reference sketch stored as an artifact, or a
            ``.keelsketch`` file.
        target: the label column of ``dataset`` (for CBPE's calibration; default: the
            ``target`` the training run recorded).
    """

    dataset: str | None = None
    sketch: str | None = None
    target: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ReferenceSpec:
        if (self.dataset is None) == (self.sketch is None):
            raise ValueError("give exactly one of dataset or sketch")
        return self


class MonitorSpec(_Strict):
    """What a monitor computes, on which windows, against what, and when it alerts.

    Attributes:
        window: how the log is cut (:class:`WindowSpec`).
        checks: ``data_drift`` (inputs), ``prediction_drift`` (outputs), ``performance``
            (metrics once labels arrive, and CBPE's estimate before for classifiers).
        reference: ``auto`` (the training dataset of the model version that answered,
            through lineage) or a :class:`ReferenceSpec`.
        columns: the input columns to test (default: every input column).
        tests: drift test per column (``{"age": "psi", "*": "ks"}``), as
            :func:`keel.monitoring.drift` takes them.
        drift_share: the share of drifted columns from which the window drifts.
        lateness: how long after a prediction its label may arrive; a window's
            performance is computed once this much time has passed after its end.
        grace: how long after a window's end it is considered complete (the log is
            written every second or so).
        start: ignore predictions before this time (ISO 8601).
        alerts: alert rules (see ``docs/guides/monitoring.md``).
        sinks: where alerts go (``{type: log}``, ``{type: webhook, url: ...}``; ``${NAME}``
            in a URL or header is read from the environment where the monitor runs, so
            no token is stored); the log when none is given.
    """

    window: WindowSpec
    checks: tuple[Literal["data_drift", "prediction_drift", "performance"], ...] = CHECK_NAMES  # type: ignore[assignment]
    reference: Literal["auto"] | ReferenceSpec = "auto"
    columns: tuple[str, ...] | None = None
    tests: dict[str, str] | None = None
    drift_share: float = Field(default=0.5, gt=0, le=1)
    lateness: str = "1h"
    grace: str = "5s"
    start: str | None = None
    alerts: tuple[dict[str, Any], ...] = ()
    sinks: tuple[dict[str, Any], ...] = ()

    @model_validator(mode="after")
    def _check(self) -> MonitorSpec:
        if not self.checks:
            raise ValueError("checks must name at least one of " + ", ".join(CHECK_NAMES))
        if len(set(self.checks)) != len(self.checks):
            raise ValueError("checks name a check twice")
        parse_duration_ms(self.lateness, "lateness")
        parse_duration_ms(self.grace, "grace")
        if self.start is not None:
            _parse_time(self.start)
        return self

    @property
    def lateness_ms(self) -> int:
        return parse_duration_ms(self.lateness, "lateness")

    @property
    def grace_ms(self) -> int:
        return parse_duration_ms(self.grace, "grace")

    @property
    def start_ms(self) -> int | None:
        return None if self.start is None else _parse_time(self.start)

    def to_data(self) -> dict[str, Any]:
        """Plain JSON data (what the store keeps), defaults left out."""
        return self.model_dump(mode="json", exclude_defaults=True)


def _parse_time(text: str) -> int:
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise MonitorSpecError(
            f"start {str(text)[:40]!r} is not an ISO 8601 time, such as 2026-12-06T10:00:00Z"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def parse_monitor_spec(data: Mapping[str, Any] | MonitorSpec) -> MonitorSpec:
    """Validate a spec given as data.

    Raises:
        MonitorSpecError: a field is unknown or malformed (named in the message), or an
            alert rule is malformed.

    Example::

        >>> parse_monitor_spec({"window": {"rows": 500}}).checks
        ('data_drift', 'prediction_drift', 'performance')
    """
    if isinstance(data, MonitorSpec):
        spec = data
    else:
        if not isinstance(data, Mapping):
            raise MonitorSpecError(
                f"a monitor spec is a mapping (window, checks, ...), not {type(data).__name__}"
            )
        try:
            spec = MonitorSpec.model_validate(dict(data))
        except ValidationError as exc:
            problems = "; ".join(_problem(e) for e in exc.errors()[:5])
            raise MonitorSpecError(f"the monitor spec is invalid: {problems}") from None
    from keel.monitoring._alerts import AlertRuleError, parse_alert_rules
    from keel.monitoring._sinks import AlertSinkError, parse_sinks

    try:
        parse_alert_rules(spec.alerts)
        parse_sinks(spec.sinks)
    except (AlertRuleError, AlertSinkError) as exc:
        raise MonitorSpecError(f"the monitor spec is invalid: {exc}") from None
    return spec


def _problem(error: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-")) or "spec"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    if error["type"] == "missing":
        return f"{where}: required"
    return f"{where}: {message}"


def open_sinks(spec: MonitorSpec) -> list[Any]:
    """The spec's alert sinks, opened (``${NAME}`` read now); the log when it names none.

    Raises:
        AlertSinkError: a sink names an environment variable that is not set.
    """
    from keel.monitoring._sinks import LogSink, open_sink, parse_sinks

    specs = parse_sinks(spec.sinks)
    return [open_sink(s) for s in specs] if specs else [LogSink()]
