"""Who is calling: bearer tokens, and a brake on guessing them.

Every request but the public ones (health, the API description) must carry
``Authorization: Bearer keel_...``. The token is checked against its stored hash by the
access store (constant-time comparison, expiry, revocation, disabled users); the
result is the request's :class:`Principal`, and every write is recorded under that
user: a client cannot name another actor.

Successful checks are reused for a moment (:class:`AccessCache`): a revocation made
through another process takes up to :data:`ACCESS_CACHE_SECONDS` to reach this one.

A client that keeps sending bad tokens is answered 429 for a while
(:class:`FailedLogins`): at most ``limit`` failures per ``window`` seconds per client
address, counted in a bounded table so that a flood of addresses cannot grow memory.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from keel._clock import now_ms
from keel.store import Identity

__all__ = ["ACCESS_CACHE_SECONDS", "AccessCache", "FailedLogins", "Principal"]

#: how long a server process reuses a token check or a role it looked up (seconds)
ACCESS_CACHE_SECONDS = 2.0


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


class AccessCache:
    """Tokens and roles the server checked a moment ago, reused for ``ttl`` seconds.

    Checking a token and the caller's role are two database reads on every request;
    for the requests that follow each other within a second (a training loop, a sweep)
    the answers are reused instead. What that costs: a token revoked, a user disabled or
    a role changed *through another process* (another ``--workers`` process of the same
    server, or ``keel`` run where the database is) is still honoured by this process for
    up to ``ttl`` seconds. Changes made through this process clear the cache at once, a
    token is never honoured past its expiry, and failed checks are never remembered
    (they go to the database, and count towards the failed-login brake).

    Args:
        ttl: seconds an answer is reused; 0 turns the cache off.
        max_entries: the most tokens (and, separately, user/project pairs) remembered;
            past it the cache is emptied and fills again.
    """

    def __init__(self, ttl: float = ACCESS_CACHE_SECONDS, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        # sha256(token) -> (identity, monotonic deadline); the token itself is not kept
        self._identities: dict[bytes, tuple[Identity, float]] = {}
        self._roles: dict[tuple[str, str], tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(secret: str) -> bytes:
        return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()

    def identity(self, secret: str) -> Identity | None:
        """Whom ``secret`` authenticated a moment ago, or ``None`` (ask the store)."""
        if self.ttl <= 0:
            return None
        found = self._identities.get(self._key(secret))
        if found is None:
            return None
        identity, deadline = found
        if time.monotonic() >= deadline or (
            identity.expires_at is not None and now_ms() >= identity.expires_at
        ):
            return None
        return identity

    def remember_identity(self, secret: str, identity: Identity) -> None:
        """Keep a successful check of ``secret`` for ``ttl`` seconds."""
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._identities) >= self.max_entries:
                self._identities.clear()
            self._identities[self._key(secret)] = (identity, time.monotonic() + self.ttl)

    def role(self, user: str, project: str) -> tuple[bool, str | None]:
        """``(True, role)`` when the role of ``user`` in ``project`` is known, else
        ``(False, None)``."""
        if self.ttl <= 0:
            return False, None
        found = self._roles.get((user, project))
        if found is None or time.monotonic() >= found[1]:
            return False, None
        return True, found[0]

    def remember_role(self, user: str, project: str, role: str | None) -> None:
        """Keep the role of ``user`` in ``project`` for ``ttl`` seconds."""
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._roles) >= self.max_entries:
                self._roles.clear()
            self._roles[(user, project)] = (role, time.monotonic() + self.ttl)

    def clear(self) -> None:
        """Forget everything (access changed through this process)."""
        with self._lock:
            self._identities.clear()
            self._roles.clear()
