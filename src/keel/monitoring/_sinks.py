"""Where alert events go: the interface every sink keeps, the log sink, and sinks as data.

A sink takes :class:`~keel.monitoring._alerts.AlertEvent` objects one at a time and must
not block its caller for long; :class:`~keel.monitoring._webhook.WebhookSink` queues
and sends from a thread, :class:`LogSink` writes one log record. A monitor's definition
holds its sinks as data (:func:`parse_sinks`), opened where the monitor runs
(:func:`open_sink`), so secrets stay in that process's environment.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from keel.errors import InvalidArgumentError, show_input

if TYPE_CHECKING:
    from keel.monitoring._alerts import AlertEvent

__all__ = [
    "AlertSink",
    "AlertSinkError",
    "LogSink",
    "LogSinkSpec",
    "SinkSpec",
    "WebhookSinkSpec",
    "open_sink",
    "parse_sinks",
]

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


@runtime_checkable
class AlertSink(Protocol):
    """Something alert events are delivered to."""

    def deliver(self, event: AlertEvent) -> None:
        """Take one event; return quickly (queue it if delivering is slow)."""

    def close(self, timeout: float | None = 10.0) -> object:
        """Finish delivering what was taken, within ``timeout`` seconds."""


class LogSink:
    """Write each alert event as one log record.

    A firing alert is logged at its severity's level (``info`` -> INFO, ``warning`` ->
    WARNING, ``critical`` -> CRITICAL); a resolved one at INFO. The record's
    ``keel_alert`` attribute holds the event as plain data, for structured log handlers.

    Args:
        logger: where to log (default: the ``keel.monitoring.alerts`` logger).

    Example::

        >>> sink = LogSink()
        >>> sink.deliver(event)   # WARNING keel.monitoring.alerts [warning] alert drift firing: ...
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("keel.monitoring.alerts")

    def deliver(self, event: AlertEvent) -> None:
        level = _LEVELS[event.severity] if event.status == "firing" else logging.INFO
        self.logger.log(level, "%s", event.message, extra={"keel_alert": event.to_dict()})

    def close(self, timeout: float | None = 10.0) -> None:
        """Nothing to finish: every record was written when delivered."""

    def __repr__(self) -> str:
        return f"LogSink({self.logger.name!r})"


# -- sinks described as data (a monitor's definition, YAML, the CLI) -------------------


class AlertSinkError(InvalidArgumentError):
    """An alert sink's description is malformed, or names an unset environment variable."""

    code = "INVALID_ALERT_SINK"
    http_status = 400


class LogSinkSpec(BaseModel):
    """``{type: log}``: alert events to a logger (``keel.monitoring.alerts`` by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["log"] = "log"
    logger: str | None = None


class WebhookSinkSpec(BaseModel):
    """``{type: webhook, url: ...}``: alert events POSTed as JSON (see ``WebhookSink``).

    ``url`` and header values may name environment variables as ``${NAME}``; they are
    read when the sink is opened, so a token is never stored with the monitor.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook"] = "webhook"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    max_attempts: int = Field(default=5, ge=1, le=100)
    backoff: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    max_backoff: float = Field(default=30.0, ge=0, allow_inf_nan=False)
    queue_size: int = Field(default=1000, ge=1)

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        shape = _VARIABLE.sub("x", url)  # ${HOOK_HOST} stands for some text
        if not shape.startswith(("http://", "https://")) or len(shape.split("/")[2]) == 0:
            raise ValueError(
                f"{show_input(url)} is not an http(s) URL; give one such as "
                "'https://hooks.example.com/keel' (${NAME} reads an environment variable)"
            )
        return url


SinkSpec = Annotated[LogSinkSpec | WebhookSinkSpec, Field(discriminator="type")]
_SPEC: TypeAdapter[LogSinkSpec | WebhookSinkSpec] = TypeAdapter(SinkSpec)


def parse_sinks(data: Iterable[Mapping[str, Any]]) -> tuple[LogSinkSpec | WebhookSinkSpec, ...]:
    """Validate sink descriptions such as ``{"type": "webhook", "url": "https://..."}``.

    Raises:
        AlertSinkError: a description is malformed (the message names which and why).

    Example::

        >>> parse_sinks([{"type": "log"},
        ...              {"type": "webhook", "url": "https://hooks.example.com/keel",
        ...               "headers": {"Authorization": "Bearer ${ALERT_TOKEN}"}}])
    """
    specs = []
    for index, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise AlertSinkError(
                f"alert sink {index + 1} must be a mapping such as "
                f"{{type: webhook, url: ...}}, not {show_input(item)}"
            )
        try:
            specs.append(_SPEC.validate_python(dict(item)))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'][1:]) or 'type'}: {e['msg']}"
                for e in exc.errors()[:5]
            )
            raise AlertSinkError(
                f"alert sink {index + 1} is invalid: {problems} (types: log, webhook)"
            ) from None
    return tuple(specs)


def open_sink(
    spec: LogSinkSpec | WebhookSinkSpec, environ: Mapping[str, str] | None = None
) -> AlertSink:
    """The sink a description stands for, ``${NAME}`` read from ``environ`` (the process's).

    Raises:
        AlertSinkError: a ``${NAME}`` it uses is not set.
        InvalidArgumentError: the webhook URL or a number is invalid.
    """
    import os

    from keel.monitoring._webhook import WebhookSink

    if isinstance(spec, LogSinkSpec):
        return LogSink(logging.getLogger(spec.logger) if spec.logger else None)
    env = os.environ if environ is None else environ

    def expand(text: str, where: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise AlertSinkError(
                    f"webhook {where} uses ${{{name}}}, which is not set; "
                    f"export {name}=... where the monitor runs"
                )
            return env[name]

        return _VARIABLE.sub(value, text)

    return WebhookSink(
        expand(spec.url, "url"),
        headers={k: expand(v, f"header {k!r}") for k, v in spec.headers.items()},
        timeout=spec.timeout,
        max_attempts=spec.max_attempts,
        backoff=spec.backoff,
        max_backoff=spec.max_backoff,
        queue_size=spec.queue_size,
    )
