"""Who is calling: bearer tokens, and a brake on guessing them.

Every request but the public ones (health, the API description) must carry
``Authorization: Bearer keel_...``. The token is checked against its stored hash by the
access store (constant-time comparison, expiry, revocation, disabled users); the
result is the request's :class:`Principal`, and every write is recorded under that
user: a client cannot name another actor.

A client that keeps sending bad tokens is answered 429 for a while
(:class:`FailedLogins`): at most ``limit`` failures per ``window`` seconds per client
address, counted in a bounded table so that a flood of addresses cannot grow memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["FailedLogins", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller.

    Attributes:
        user: the user's name (recorded as the actor of every change).
        admin: whether the user is a server administrator (every role everywhere).
        token_id: the id of the token used (``None`` when authentication is off).
    """

    user: str
    admin: bool = False
    token_id: str | None = None


class FailedLogins:
    """Failed authentications per client address, in a sliding window, bounded in size.

    Args:
        limit: failures allowed in one window; the next request is refused.
        window: the window, in seconds; a refused client waits until its oldest
            failure in the window is older than this.
        max_clients: how many addresses are remembered (the least recently failing
            are forgotten first).
    """

    def __init__(self, limit: int = 10, window: float = 60.0, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> list[float]:
        times = self._failures.get(client)
        if times is None:
            return []
        times[:] = [t for t in times if now - t < self.window]
        if not times:
            del self._failures[client]
        return times

    def retry_after(self, client: str) -> float | None:
        """Seconds this client must wait, or ``None`` when it may try."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.limit:
                return None
            return max(1.0, self.window - (now - times[0]))

    def failed(self, client: str) -> None:
        """Count one failed authentication of ``client``."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times[-self.limit :]
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)
