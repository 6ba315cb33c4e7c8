"""The one error tree of keel.

Every error keel raises on purpose is a :class:`KeelError`. Each subclass declares a
stable ``code`` and the ``http_status`` the API answers it with (RFC 9457 problem
details); :func:`error_for_code` turns a code back into its class, whether or not the
module defining it was imported, so the REST client re-raises the same class.

Messages say what went wrong, with the offending value, and what to do about it::

    >>> raise NotFoundError("run 'ab12' does not exist; nearest: 'ab13cd...'")
"""

from __future__ import annotations

import importlib
from typing import ClassVar

__all__ = [
    "ArtifactCorruptedError",
    "ArtifactStoreUnavailableError",
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
    "error_codes",
    "error_for_code",
    "show_input",
]


class KeelError(Exception):
    """Base of every error keel raises on purpose.

    Every subclass declares two class attributes: ``code``, unique and stable (it
    crosses the wire), and ``http_status``, the status the API answers it with. A new
    subclass also goes into :data:`_CLASSES` below (a test checks every one is there).

    Args:
        message: what went wrong and what to do about it.
    """

    code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(KeelError):
    """A value given by the user is malformed or out of range."""

    code = "INVALID_ARGUMENT"
    http_status = 400


class InvalidPathError(InvalidArgumentError):
    """An artifact or file name tries to leave its root or is malformed."""

    code = "INVALID_PATH"
    http_status = 400


class NotFoundError(KeelError):
    """A named or identified object does not exist."""

    code = "NOT_FOUND"
    http_status = 404


class ConflictError(KeelError):
    """The change contradicts what is already stored (e.g. a param changing value)."""

    code = "CONFLICT"
    http_status = 409


class RunStateError(ConflictError):
    """The run is not in a state that allows the operation (e.g. it has finished)."""

    code = "RUN_STATE"
    http_status = 409


class ArtifactCorruptedError(KeelError):
    """Stored bytes no longer match the sha256 recorded when they were written."""

    code = "ARTIFACT_CORRUPTED"
    http_status = 422


class ConfigError(KeelError):
    """The configuration (environment or keel.toml) is invalid."""

    code = "CONFIG_ERROR"
    http_status = 400


class StoreError(KeelError):
    """The metadata store cannot be reached or is in an unusable state."""

    code = "STORE_UNAVAILABLE"
    http_status = 503


class ArtifactStoreUnavailableError(StoreError):
    """The artifact root (a bucket, a folder on another machine) cannot be read or written:
    it does not exist, or its endpoint or credentials are wrong."""

    code = "ARTIFACTS_UNAVAILABLE"
    http_status = 503


class AuthenticationError(KeelError):
    """A request to a keel server carried no token, or one that is not (or no longer) valid."""

    code = "UNAUTHENTICATED"
    http_status = 401


class RateLimitedError(KeelError):
    """Too many requests (or failed logins) from one client; try again after a pause.

    Args:
        message: what happened and what to do.
        retry_after: seconds to wait before trying again.
    """

    code = "RATE_LIMITED"
    http_status = 429

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLargeError(InvalidArgumentError):
    """A request body is larger than the server accepts."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class MissingExtraError(KeelError):
    """An optional dependency is not installed."""

    code = "MISSING_EXTRA"
    http_status = 501

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


#: code -> "module:Class" of every KeelError subclass keel defines, so
#: :func:`error_for_code` finds a class whose module was never imported (a REST client
#: that meets a server's ``PIPELINE_FAILED`` need not have imported keel.pipelines).
#: tests/test_errors.py imports every keel module and checks this table against the
#: subclasses it finds: each listed, with its own code, and every code unique.
_CLASSES: dict[str, str] = {
    "INTERNAL_ERROR": "keel.errors:KeelError",
    "INVALID_ARGUMENT": "keel.errors:InvalidArgumentError",
    "INVALID_PATH": "keel.errors:InvalidPathError",
    "NOT_FOUND": "keel.errors:NotFoundError",
    "CONFLICT": "keel.errors:ConflictError",
    "RUN_STATE": "keel.errors:RunStateError",
    "ARTIFACT_CORRUPTED": "keel.errors:ArtifactCorruptedError",
    "CONFIG_ERROR": "keel.errors:ConfigError",
    "STORE_UNAVAILABLE": "keel.errors:StoreError",
    "ARTIFACTS_UNAVAILABLE": "keel.errors:ArtifactStoreUnavailableError",
    "MISSING_EXTRA": "keel.errors:MissingExtraError",
    "UNAUTHENTICATED": "keel.errors:AuthenticationError",
    "RATE_LIMITED": "keel.errors:RateLimitedError",
    "PAYLOAD_TOO_LARGE": "keel.errors:PayloadTooLargeError",
    "AUDIT_CHAIN_BROKEN": "keel.governance._audit:AuditChainBrokenError",
    "AUDIT_MISMATCH": "keel.governance._guard:AuditMismatchError",
    "DATASET_VALIDATION_FAILED": "keel.data._errors:DatasetValidationError",
    "INVALID_DATASET_SOURCE": "keel.data._errors:DatasetSourceError",
    "INVALID_DRIFT_INPUT": "keel.monitoring._errors:DriftInputError",
    "INVALID_FEATURE_DEFINITION": "keel.features._errors:FeatureDefinitionError",
    "INVALID_FEATURE_REQUEST": "keel.features._errors:FeatureRequestError",
    "INVALID_FEATURE_SOURCE": "keel.features._errors:FeatureSourceError",
    "FEATURE_NOT_FOUND": "keel.features._errors:FeatureNotFoundError",
    "INVALID_SKETCH": "keel.monitoring._errors:SketchFormatError",
    "INVALID_MONITOR_SPEC": "keel.monitoring._monitor_spec:MonitorSpecError",
    "MONITOR_REFERENCE": "keel.monitoring._errors:MonitorReferenceError",
    "INVALID_LABELS": "keel.monitoring._errors:LabelError",
    "INVALID_ALERT_RULE": "keel.monitoring._alerts:AlertRuleError",
    "INVALID_ALERT_SINK": "keel.monitoring._sinks:AlertSinkError",
    "INVALID_POLICY": "keel.gates._policy:PolicyError",
    "INVALID_PRIVACY_CONFIG": "keel.responsible._privacy:PrivacyError",
    "INVALID_TRAINING_INPUT": "keel.training._errors:TrainingInputError",
    "ONLINE_SCHEMA_MISMATCH": "keel.features._online:OnlineSchemaMismatchError",
    "ONLINE_STORE_UNAVAILABLE": "keel.features._online:OnlineStoreUnavailableError",
    "METRICS_NOT_STORED": "keel.tracking._buffer:MetricsNotStoredError",
    "MODEL_NOT_STORED": "keel.training._errors:ModelNotStoredError",
    "MODEL_STATE": "keel.store._registry:ModelStateError",
    "PERMISSION_DENIED": "keel.governance._roles:PermissionDeniedError",
    "PIPELINE_FAILED": "keel.pipelines._runner:PipelineFailedError",
    "PROMOTION_REJECTED": "keel.gates._promote:PromotionRejectedError",
    "SEARCH_FAILED": "keel.training._errors:SearchFailedError",
    "STEP_OUTPUT_INVALID": "keel.pipelines._values:StepOutputError",
    "UNSAFE_FORMAT": "keel.registry._formats:UnsafeFormatError",
}


def error_codes() -> dict[str, str]:
    """Every known error code -> ``"module:Class"`` of its class (a copy)."""
    return dict(_CLASSES)


def error_for_code(code: str) -> type[KeelError]:
    """The error class whose ``code`` is ``code`` (``KeelError`` when none is).

    The class's module is imported if it was not yet, so a code survives a REST round
    trip whatever the client imported.

    Example::

        >>> error_for_code("NOT_FOUND") is NotFoundError
        True
        >>> error_for_code("PIPELINE_FAILED").http_status
        422
    """
    target = _CLASSES.get(code)
    if target is None:
        return KeelError
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, KeelError)):  # pragma: no cover
        raise TypeError(f"{target} is not a KeelError subclass; fix keel.errors._CLASSES")
    return cls
