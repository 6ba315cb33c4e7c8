"""A webhook sink: alerts POSTed as JSON by a background thread, with retries.

:meth:`WebhookSink.send` never blocks the caller on the network: the payload is
serialised, put on a bounded in-memory queue, and one sender thread delivers the queue
in order. A delivery that fails for a reason that may pass (the receiver is down or
slow, answers 5xx, 408 or 429) is retried with exponential backoff up to
``max_attempts``; a 4xx answer is final. When the queue is full the oldest payload is
dropped, counted in :attr:`WebhookSink.stats` and logged. :meth:`WebhookSink.close`
delivers what is queued, within a deadline, then stops the thread.

Every payload carries an ``Idempotency-Key`` header that stays the same across its
retries (an alert's id and status for alerts), so a receiver can ignore a repeat.

Example::

    >>> sink = WebhookSink("https://hooks.example.com/keel", headers={"Authorization": "..."})
    >>> sink.deliver(event)            # an AlertEvent; returns at once
    >>> sink.close(timeout=10)         # flush, then stop the sender thread
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidArgumentError, show_input

if TYPE_CHECKING:
    import httpx

    from keel.monitoring._alerts import AlertEvent

__all__ = ["WebhookSink", "WebhookStats"]

logger = logging.getLogger("keel.monitoring.webhook")

# answers worth another try: the receiver timed out, is rate limiting or is in trouble
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class WebhookStats:
    """What a webhook sink did so far.

    Attributes:
        delivered: payloads the receiver accepted (a 2xx answer).
        failed: payloads given up on (a final 4xx, or every attempt failed).
        dropped: payloads never sent: pushed out of a full queue, or still queued when
            :meth:`WebhookSink.close` ran out of time.
        retries: attempts after the first, over all payloads.
        pending: payloads queued or being sent now.
    """

    delivered: int
    failed: int
    dropped: int
    retries: int
    pending: int


@dataclass(frozen=True)
class _Item:
    body: bytes
    key: str


class WebhookSink:
    """Deliver JSON payloads to one URL from a background thread.

    Args:
        url: where to POST (``http://`` or ``https://``).
        headers: extra request headers (an ``Authorization`` token, say); never logged.
        timeout: seconds allowed for each attempt (connect, send, wait for the answer).
        max_attempts: attempts per payload, the first included (>= 1).
        backoff: seconds before the first retry; doubled for each next one.
        max_backoff: the longest wait between attempts (a ``Retry-After`` answer is
            honoured up to it).
        queue_size: payloads held at most; when full, the oldest is dropped.

    Raises:
        InvalidArgumentError: the URL is not an http(s) URL or a number is out of range.

    The constructor does no I/O: the sender thread starts with the first payload.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        queue_size: int = 1000,
    ) -> None:
        try:
            parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
            _ = parsed.port if parsed is not None else None  # a bad port raises here
        except ValueError:
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidArgumentError(
                f"webhook url {show_input(url)} is not an http(s) URL; "
                "give one such as 'https://hooks.example.com/keel'"
            )
        _check_number("timeout", timeout, low=0.001)
        _check_number("backoff", backoff, low=0.0)
        _check_number("max_backoff", max_backoff, low=0.0)
        if not isinstance(max_attempts, int) or not 1 <= max_attempts <= 100:
            raise InvalidArgumentError(
                f"webhook max_attempts must be a whole number from 1 to 100, not "
                f"{show_input(max_attempts)}"
            )
        if not isinstance(queue_size, int) or queue_size < 1:
            raise InvalidArgumentError(
                f"webhook queue_size must be a whole number >= 1, not {show_input(queue_size)}"
            )
        self.url = url
        self.timeout = float(timeout)
        self.max_attempts = max_attempts
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.queue_size = queue_size
        self._headers = {"Content-Type": "application/json", **dict(headers or {})}
        self._shown = _origin(parsed)
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._abort = threading.Event()  # close() ran out of time: stop retrying
        self._thread: threading.Thread | None = None
        self._closed = False
        self._in_flight = 0
        self._delivered = self._failed = self._dropped = self._retries = 0

    # -- the caller's side ---------------------------------------------------------

    def deliver(self, event: AlertEvent) -> None:
        """Queue an alert event (:meth:`AlertEvent.to_dict` as the JSON body).

        Its idempotency key is ``ALERT_ID:STATUS``, the same on every retry and every
        later run that delivers the same event again.
        """
        self.send(event.to_dict(), key=f"{event.alert_id}:{event.status}")

    def send(self, payload: Mapping[str, Any], *, key: str | None = None) -> None:
        """Queue one JSON payload; returns at once.

        Args:
            payload: JSON-ready data (strict JSON: no NaN or infinities).
            key: the ``Idempotency-Key`` header (a fresh random one by default).

        Raises:
            ValueError: the payload is not strict JSON.
            RuntimeError: the sink was closed.
        """
        body = json.dumps(payload, allow_nan=False, separators=(",", ":")).encode("utf-8")
        item = _Item(body=body, key=key or uuid.uuid4().hex)
        with self._cond:
            if self._closed:
                raise RuntimeError(f"the webhook sink for {self._shown} is closed")
            if len(self._queue) >= self.queue_size:
                self._queue.popleft()
                self._dropped += 1
                if self._dropped & (self._dropped - 1) == 0:  # 1, 2, 4, 8, ...: bounded noise
                    logger.warning(
                        "webhook %s: queue full (%d payloads), dropped the oldest; "
                        "%d dropped so far",
                        self._shown,
                        self.queue_size,
                        self._dropped,
                    )
            self._queue.append(item)
            self._start()
            self._cond.notify_all()

    @property
    def stats(self) -> WebhookStats:
        """Counts of delivered, failed, dropped and pending payloads."""
        with self._cond:
            return WebhookStats(
                delivered=self._delivered,
                failed=self._failed,
                dropped=self._dropped,
                retries=self._retries,
                pending=len(self._queue) + self._in_flight,
            )

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued payload was delivered or given up on.

        Returns:
            ``True`` when nothing is pending any more, ``False`` when ``timeout``
            seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float | None = 10.0) -> WebhookStats:
        """Stop taking payloads, deliver what is queued within ``timeout`` seconds, stop.

        What is still queued at the deadline is dropped (counted and logged); an
        attempt in flight then ends within the request ``timeout``. Closing twice is
        harmless.

        Returns:
            The final :attr:`stats`.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if not self.flush(timeout):
            with self._cond:
                busy = self._in_flight
                self._abort.set()
                left = len(self._queue)
                self._queue.clear()
                self._dropped += left
                self._cond.notify_all()
            logger.warning(
                "webhook %s: close timed out after %ss; %d queued payload(s) dropped%s",
                self._shown,
                timeout,
                left,
                ", the one in flight gets no more retries" if busy else "",
            )
        thread = self._thread
        if thread is not None:
            thread.join(self.timeout + 5.0)
        return self.stats

    def __enter__(self) -> WebhookSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"WebhookSink({self._shown!r})"

    # -- the sender thread ---------------------------------------------------------

    def _start(self) -> None:
        # called under the lock
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"keel-webhook {self._shown}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=httpx.Timeout(self.timeout), follow_redirects=False) as client:
            while True:
                with self._cond:
                    while not self._queue and not self._closed:
                        self._cond.wait()
                    if not self._queue:
                        return  # closed and drained
                    item = self._queue.popleft()
                    self._in_flight = 1
                try:
                    outcome = self._send(client, item)
                except Exception:  # a bug must not kill the sender and strand the queue
                    logger.exception("webhook %s: unexpected error while sending", self._shown)
                    outcome = "failed"
                with self._cond:
                    self._in_flight = 0
                    if outcome == "delivered":
                        self._delivered += 1
                    elif outcome == "failed":
                        self._failed += 1
                    else:
                        self._dropped += 1
                    self._cond.notify_all()

    def _send(self, client: httpx.Client, item: _Item) -> str:
        import httpx

        headers = {**self._headers, "Idempotency-Key": item.key}
        reason = ""
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                with self._cond:
                    self._retries += 1
            retry_after: float | None = None
            try:
                answer = client.post(self.url, content=item.body, headers=headers)
            except httpx.TimeoutException:
                reason = f"no answer within {self.timeout:g}s"
            except httpx.TransportError as exc:
                reason = f"cannot connect ({type(exc).__name__})"
            else:
                if 200 <= answer.status_code < 300:
                    return "delivered"
                reason = f"HTTP {answer.status_code}"
                if answer.status_code not in _RETRY_STATUSES:
                    logger.error(
                        "webhook %s: receiver refused the payload (%s); not retried",
                        self._shown,
                        reason,
                    )
                    return "failed"
                retry_after = _retry_after(answer.headers.get("Retry-After"))
            if attempt == self.max_attempts:
                break
            delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            if retry_after is not None:
                delay = min(self.max_backoff, max(delay, retry_after))
            logger.info(
                "webhook %s: attempt %d of %d failed (%s); retrying in %.3gs",
                self._shown,
                attempt,
                self.max_attempts,
                reason,
                delay,
            )
            if self._abort.wait(delay):
                logger.warning(
                    "webhook %s: closing, gave up retrying a payload (%s)", self._shown, reason
                )
                return "dropped"
        logger.error(
            "webhook %s: gave up after %d attempts (%s)", self._shown, self.max_attempts, reason
        )
        return "failed"


def _check_number(name: str, value: object, *, low: float) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (low <= float(value) < float("inf")):  # type: ignore[arg-type]
        raise InvalidArgumentError(
            f"webhook {name} must be a finite number >= {low:g}, not {show_input(value)}"
        )


def _origin(parsed: urllib.parse.SplitResult) -> str:
    """``scheme://host[:port]/...``: where it goes, without credentials a path may hold."""
    host = parsed.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parsed.port}" if parsed.port else ""
    path = "/..." if parsed.path not in ("", "/") or parsed.query else ""
    return f"{parsed.scheme}://{host}{port}{path}"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (a date is ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None
