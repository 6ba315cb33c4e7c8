"""HTTP calls to a keel server: authentication, retries, errors and pages.

One :class:`Transport` per REST store holds one ``httpx.Client`` (a connection pool,
thread-safe). A call that cannot reach the server, or gets a 5xx (or a 429) back, is
tried again with exponential backoff (capped) for a bounded total time, then fails with
a :class:`~keel.errors.StoreError` naming the server. Every mutating request carries an
``Idempotency-Key`` that stays the same across its retries, and the calls that would
otherwise apply twice (metric batches, run creation) are made idempotent by the store
itself, so a retry after a lost answer writes nothing new.

An error answer is RFC 9457 ``application/problem+json`` with keel's error ``code``;
it is raised here as the same :class:`~keel.errors.KeelError` subclass with the same
message, so code using a REST store sees what it would see with the SQL store.
"""

from __future__ import annotations

import base64
import random
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from keel import _json
from keel._redact import safe_uri
from keel.errors import KeelError, StoreError, error_for_code

if TYPE_CHECKING:
    import httpx

__all__ = ["RetryPolicy", "Transport"]

_USER_AGENT = "keel-rest-store"

# the error class for an answer without a problem body (a HEAD, a proxy's page)
_CODE_BY_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "INVALID_ARGUMENT",
    429: "RATE_LIMITED",
}


class RetryPolicy:
    """How long and how often a failed call is tried again.

    Args:
        attempts: at most this many tries in all.
        first_delay: seconds before the second try; doubles each time (with jitter).
        max_delay: the longest wait between two tries.
        deadline: give up once this many seconds have passed since the first try.
    """

    def __init__(
        self,
        attempts: int = 8,
        first_delay: float = 0.1,
        max_delay: float = 4.0,
        deadline: float = 60.0,
    ) -> None:
        self.attempts = attempts
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.deadline = deadline

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        base = min(self.max_delay, self.first_delay * 2.0 ** (attempt - 1))
        return float(base * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not security


class Transport:
    """Calls to one keel server for one project.

    Args:
        base_url: the server's URL (``http://host:port``).
        project: the project every project-bound call goes to.
        token: the API token (``keel_...``), sent as a bearer token.
        timeout: seconds to wait for a connection and for each read.
        retry: the retry policy.

    Nothing is opened until the first call.
    """

    def __init__(
        self,
        base_url: str,
        project: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.project = project
        self.token = token
        self._timeout = timeout
        self.retry = retry or RetryPolicy()
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def server(self) -> str:
        """The server's URL without credentials, for messages."""
        return safe_uri(self.base_url)

    @property
    def project_prefix(self) -> str:
        """``/api/v1/projects/<project>``."""
        return f"/api/v1/projects/{self.project}"

    def _http(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import httpx

                    headers = {"User-Agent": _USER_AGENT}
                    if self.token:
                        headers["Authorization"] = f"Bearer {self.token}"
                    self._client = httpx.Client(
                        base_url=self.base_url,
                        headers=headers,
                        timeout=httpx.Timeout(self._timeout, connect=min(10.0, self._timeout)),
                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                    )
        return self._client

    def close(self) -> None:
        """Close the connection pool. Idempotent."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- requests ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        stream: bool = False,
    ) -> httpx.Response:
        """Send one request (retrying as the policy says) and return a successful answer.

        Args:
            method: the HTTP verb.
            path: the path (``/api/v1/...``).
            params: query parameters (``None`` values are left out).
            json: a JSON body.
            content: a raw body (bytes, or a callable returning a fresh iterable of bytes
                for each try, so a streamed upload can be sent again).
            headers: extra headers.
            retry: whether a failure may be tried again (``False`` for bodies that can
                only be sent once).
            stream: return as soon as the headers arrive; the caller reads the body
                (``iter_bytes``) and closes the response.

        Raises:
            KeelError: the server answered with an error (the class its code names).
            StoreError: the server could not be reached, or kept failing, until the
                retry policy gave up.
        """
        import httpx

        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        sent_headers = dict(headers or {})
        if json is not None:
            # encoded once, with the fast encoder, for every try
            content, json = _json.encode(json), None
            sent_headers["Content-Type"] = "application/json"
        if method != "GET" and "Idempotency-Key" not in sent_headers:
            sent_headers["Idempotency-Key"] = uuid.uuid4().hex
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            self._local.attempts = attempt
            body = content() if callable(content) else content
            try:
                client = self._http()
                request = client.build_request(
                    method, path, params=query, json=json, content=body, headers=sent_headers
                )
                response = client.send(request, stream=stream)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if retry and self._may_retry(attempt, start):
                    time.sleep(self.retry.delay(attempt))
                    continue
                raise StoreError(
                    f"cannot reach the keel server at {self.server} ({problem}) after "
                    f"{attempt} tr{'y' if attempt == 1 else 'ies'}; check that it runs and "
                    "that KEEL_STORE_URI is right"
                ) from None
            if response.status_code < 300:
                return response
            if stream:
                response.read()
            if (
                retry
                and (response.status_code >= 500 or response.status_code == 429)
                and response.status_code != 501
                and self._may_retry(attempt, start)
            ):
                wait = _retry_after(response) or self.retry.delay(attempt)
                response.close()
                time.sleep(min(wait, self.retry.max_delay))
                continue
            raise self._error(response, attempt)

    def last_attempts(self) -> int:
        """How many tries this thread's last request took (more than 1: it was retried)."""
        return int(getattr(self._local, "attempts", 0))

    def _may_retry(self, attempt: int, start: float) -> bool:
        return attempt < self.retry.attempts and time.monotonic() - start < self.retry.deadline

    def _error(self, response: httpx.Response, attempt: int) -> KeelError:
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if isinstance(problem, dict) and isinstance(problem.get("code"), str):
            cls = error_for_code(problem["code"])
            detail = problem.get("detail") or problem.get("title") or ""
            error = cls.__new__(cls)
            KeelError.__init__(error, str(detail))
            return error
        text = response.text[:200] or response.reason_phrase
        if response.status_code >= 500:
            return StoreError(
                f"the keel server at {self.server} failed ({response.status_code}) after "
                f"{attempt} tr{'y' if attempt == 1 else 'ies'}: {text}"
            )
        code = _CODE_BY_STATUS.get(response.status_code, "INTERNAL_ERROR")
        return error_for_code(code)(
            f"the keel server at {self.server} answered {response.status_code}: {text}"
        )

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET`` a path and decode its JSON."""
        return self.json_of(self.request("GET", path, params=params))

    @staticmethod
    def json_of(response: httpx.Response) -> Any:
        """The decoded JSON body of a successful answer."""
        return _json.decode(response.content)

    def pages(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        page_size: int = 1000,
    ) -> Iterator[Any]:
        """Every item of a paged list, fetching the pages one after the other."""
        cursor: str | None = None
        while True:
            query = {**(params or {}), "limit": page_size, "cursor": cursor}
            page = self.json_of(self.request(method, path, params=query, json=json))
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return base64.urlsafe_b64encode(value).decode()
    return value


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
