"""A real HTTP receiver for webhooks on 127.0.0.1, in a thread, for the tests that need one.

It records every POST (headers, JSON body, arrival time) and can misbehave on purpose:
fail the first N requests with a status, answer slowly, or hold requests until released.

Example::

    with WebhookReceiver(fail_first=2) as receiver:
        sink = WebhookSink(receiver.url, backoff=0.01)
        ...
        assert receiver.wait_for(1)
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float
    status: int


@dataclass
class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records POSTs.

    Args:
        fail_first: answer the first N requests with ``fail_status``.
        fail_status: the failing answer's status.
        retry_after: a ``Retry-After`` header (seconds) on failing answers.
        delay: seconds to wait before answering each of the first ``slow_first`` requests.
        slow_first: how many requests are slow (all when ``None``).
        hold: when set, every request waits until :meth:`release` (or 30 s).
        port: the port (0: any free one).
    """

    fail_first: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    slow_first: int | None = None
    hold: bool = False
    port: int = 0
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._released = threading.Event()
        self._count = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/keel"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size)
                with receiver._lock:
                    receiver._count += 1
                    number = receiver._count
                if receiver.hold:
                    receiver._released.wait(30)
                slow = receiver.slow_first is None or number <= receiver.slow_first
                if receiver.delay and slow:
                    time.sleep(receiver.delay)
                status = receiver.fail_status if number <= receiver.fail_first else 200
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=json.loads(raw) if raw else None,
                            at=time.monotonic(),
                            status=status,
                        )
                    )
                    receiver._lock.notify_all()
                try:
                    self.send_response(status)
                    if status != 200 and receiver.retry_after is not None:
                        self.send_header("Retry-After", receiver.retry_after)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def release(self) -> None:
        """Let held requests answer."""
        self._released.set()

    def accepted(self) -> list[Received]:
        """Requests answered 200."""
        with self._lock:
            return [r for r in self.requests if r.status == 200]

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``count`` requests were answered (whatever the status)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
