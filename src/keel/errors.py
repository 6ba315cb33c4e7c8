"""The one error tree of keel.

Every error keel raises on purpose is a :class:`KeelError`. Each subclass carries a
stable ``code``; :data:`HTTP_STATUS` maps codes to HTTP statuses so the API can answer
with RFC 9457 problem details and the REST client can re-raise the same class.

Messages say what went wrong, with the offending value, and what to do about it::

    >>> raise NotFoundError("run 'ab12' does not exist; nearest: 'ab13cd...'")
"""

from __future__ import annotations

__all__ = [
    "HTTP_STATUS",
    "ArtifactCorruptedError",
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "InvalidArgumentError",
    "InvalidPathError",
    "KeelDeprecationWarning",
    "KeelError",
    "MissingExtraError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "RunStateError",
    "StoreError",
    "error_for_code",
    "show_input",
]


class KeelError(Exception):
    """Base of every error keel raises on purpose.

    Args:
        message: what went wrong and what to do about it.
    """

    code: str = "INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(KeelError):
    """A value given by the user is malformed or out of range."""

    code = "INVALID_ARGUMENT"


class InvalidPathError(InvalidArgumentError):
    """An artifact or file name tries to leave its root or is malformed."""

    code = "INVALID_PATH"


class NotFoundError(KeelError):
    """A named or identified object does not exist."""

    code = "NOT_FOUND"


class ConflictError(KeelError):
    """The change contradicts what is already stored (e.g. a param changing value)."""

    code = "CONFLICT"


class RunStateError(ConflictError):
    """The run is not in a state that allows the operation (e.g. it has finished)."""

    code = "RUN_STATE"


class ArtifactCorruptedError(KeelError):
    """Stored bytes no longer match the sha256 recorded when they were written."""

    code = "ARTIFACT_CORRUPTED"


class ConfigError(KeelError):
    """The configuration (environment or keel.toml) is invalid."""

    code = "CONFIG_ERROR"


class StoreError(KeelError):
    """The metadata store cannot be reached or is in an unusable state."""

    code = "STORE_UNAVAILABLE"


class AuthenticationError(KeelError):
    """A request to a keel server carried no token, or one that is not (or no longer) valid."""

    code = "UNAUTHENTICATED"


class RateLimitedError(KeelError):
    """Too many requests (or failed logins) from one client; try again after a pause.

    Args:
        message: what happened and what to do.
        retry_after: seconds to wait before trying again.
    """

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLargeError(InvalidArgumentError):
    """A request body is larger than the server accepts."""

    code = "PAYLOAD_TOO_LARGE"


class MissingExtraError(KeelError):
    """An optional dependency is not installed."""

    code = "MISSING_EXTRA"

    @classmethod
    def for_extra(cls, package: str, extra: str) -> MissingExtraError:
        """Build the error for a missing optional package.

        Args:
            package: the import name that failed.
            extra: the keel extra that provides it.
        """
        return cls(
            f"this feature needs the optional package '{package}'; "
            f"install it with: pip install 'keel[{extra}]'"
        )


class KeelDeprecationWarning(FutureWarning):
    """A form or name keel still accepts but will drop; the message says what to write instead.

    A :class:`FutureWarning`, so users see it by default (Python hides plain
    ``DeprecationWarning`` outside ``__main__``); the CLI shows it as one line on stderr.
    """


def show_input(value: object, limit: int = 60) -> str:
    """``value`` as it should be echoed in a message: its ``repr``, cut to about ``limit``.

    Error messages name the offending input, but a 10,000-character name echoed in full
    (twice) buries the message. Long text keeps its start and says how long it was.

    Args:
        value: the user's input.
        limit: the most characters of ``repr(value)`` to keep (at least 10).

    Example::

        >>> show_input("iris")
        "'iris'"
        >>> show_input("x" * 10_000, limit=12)
        "'xxxxxxxx... (10000 characters)"
    """
    text = repr(value)
    limit = max(10, limit)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, (str, bytes)) else ""
    return f"{text[: limit - 3]}...{size}"


#: HTTP status for each error code (used by the API and the REST client).
HTTP_STATUS: dict[str, int] = {
    KeelError.code: 500,
    InvalidArgumentError.code: 400,
    InvalidPathError.code: 400,
    NotFoundError.code: 404,
    ConflictError.code: 409,
    RunStateError.code: 409,
    ArtifactCorruptedError.code: 422,
    ConfigError.code: 400,
    StoreError.code: 503,
    MissingExtraError.code: 501,
    AuthenticationError.code: 401,
    RateLimitedError.code: 429,
    PayloadTooLargeError.code: 413,
    "INVALID_TRAINING_INPUT": 400,  # keel.training.TrainingInputError
    "SEARCH_FAILED": 422,  # keel.training.SearchFailedError (every trial failed)
    "MODEL_NOT_STORED": 422,  # keel.training.ModelNotStoredError (trained, not stored)
    "MODEL_STATE": 409,  # keel.store.ModelStateError (archived version)
    "INVALID_POLICY": 400,  # keel.gates.PolicyError
    "UNSAFE_FORMAT": 400,  # keel.registry.UnsafeFormatError (pickle without allow_pickle)
    "PERMISSION_DENIED": 403,  # keel.governance.PermissionDeniedError
    "PROMOTION_REJECTED": 409,  # keel.gates.PromotionRejectedError
    "AUDIT_CHAIN_BROKEN": 500,  # keel.governance.AuditChainBrokenError
    "AUDIT_MISMATCH": 409,  # keel.governance.AuditMismatchError (row changed beside the chain)
    "PIPELINE_FAILED": 422,  # keel.pipelines.PipelineFailedError (a step failed)
    "STEP_OUTPUT_INVALID": 400,  # keel.pipelines.StepOutputError (unsafe output type)
    "INVALID_DATASET_SOURCE": 400,  # keel.data.DatasetSourceError (unreadable file or frame)
    "DATASET_VALIDATION_FAILED": 422,  # keel.data.DatasetValidationError (expectations failed)
}


def error_for_code(code: str) -> type[KeelError]:
    """Return the error class whose ``code`` is ``code`` (``KeelError`` if unknown).

    Subclasses defined anywhere in keel are found, so a code survives a REST round trip.
    """
    pending: list[type[KeelError]] = [KeelError]
    while pending:
        cls = pending.pop(0)
        if cls.code == code:
            return cls
        pending.extend(cls.__subclasses__())
    return KeelError
