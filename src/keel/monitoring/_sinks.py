"""Where alert events go: the interface every sink keeps, and the log sink.

A sink takes :class:`~keel.monitoring._alerts.AlertEvent` objects one at a time and must
not block its caller for long; :class:`~keel.monitoring._webhook.WebhookSink` queues
and sends from a thread, :class:`LogSink` writes one log record.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from keel.monitoring._alerts import AlertEvent

__all__ = ["AlertSink", "LogSink"]

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
