"""Errors a serving request can get, each with its HTTP status and the field it names."""

from __future__ import annotations

__all__ = ["QueueFullError", "RequestError", "shown"]


class RequestError(Exception):
    """A request keel answers with a 4xx/5xx: what was wrong, where, and what was expected.

    Attributes:
        status: the HTTP status.
        message: one line naming the field and what was expected (never the whole input).
        field: the JSON path of the offending part (``inputs[3].sepal_length``) or ``None``.
        code: a stable machine-readable code.
        headers: extra response headers (``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        code: str = "INVALID_INPUT",
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code
        self.headers = headers


class QueueFullError(RequestError):
    """The model's queue holds as many rows as it may: 429 with Retry-After."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(
            429,
            message,
            code="QUEUE_FULL",
            headers=((b"retry-after", str(retry_after_s).encode()),),
        )


def shown(value: object, limit: int = 40) -> str:
    """A short ``repr`` of a user's value for a message (never the whole input)."""
    from keel.errors import show_input

    return show_input(value, limit)
