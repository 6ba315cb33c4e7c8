"""What an endpoint serves and how: :class:`EndpointSpec`, validated.

``keel serve iris@champion`` builds an implicit one-target spec; ``keel serve
endpoint.yaml`` reads one (or a list under ``endpoints:``) from YAML; ``keel serve
NAME`` reads a stored endpoint (``keel endpoints create``, :mod:`keel.serving._endpoints`),
whose spec the metadata store keeps as this model's JSON. Unknown keys are errors, so a
typo never becomes a silent default.

Example::

    >>> spec = EndpointSpec.model_validate({
    ...     "name": "iris",
    ...     "targets": [{"model": "iris@champion", "weight": 90},
    ...                 {"model": "iris@challenger", "weight": 10}],
    ...     "shadow": {"model": "iris/5"},
    ... })
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from keel.errors import InvalidArgumentError

__all__ = [
    "BatchingSpec",
    "EndpointSpec",
    "LimitsSpec",
    "ShadowSpec",
    "TargetSpec",
    "endpoint_from_ref",
    "load_endpoint_specs",
    "spec_from_mapping",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def _check_ref(ref: str) -> str:
    from keel.registry import parse_model_ref

    parse_model_ref(ref)  # raises InvalidArgumentError naming the expected forms
    return ref.strip().removeprefix("models:/")


class TargetSpec(BaseModel):
    """One served model: a reference (``iris@champion`` follows the alias, ``iris/4`` is
    pinned) and its share of the traffic (weights are relative, need not sum to 100)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    weight: float = Field(default=1.0, ge=0, le=1_000_000)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return _check_ref(value)


class ShadowSpec(BaseModel):
    """A model that sees a copy of (a sample of) the traffic; its answers are logged and
    compared, never returned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    sample_rate: float = Field(default=1.0, ge=0, le=1)
    max_in_flight: int = Field(default=64, ge=1, le=100_000)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return _check_ref(value)


class LimitsSpec(BaseModel):
    """What one request may ask for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=64, le=1024**3)
    max_rows: int = Field(default=10_000, ge=1, le=10_000_000)
    timeout_s: float = Field(default=30.0, gt=0, le=3600)


class BatchingSpec(BaseModel):
    """Adaptive micro-batching: requests are grouped in arrival order up to
    ``max_batch_rows`` rows, waiting at most ``max_wait_ms`` for more, and never waiting
    when no other request is on its way. ``max_queue_rows`` bounds the queue (beyond it
    a request is answered 429 with Retry-After)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    max_batch_rows: int = Field(default=64, ge=1, le=1_000_000)
    max_wait_ms: float = Field(default=2.0, ge=0, le=10_000)
    max_queue_rows: int = Field(default=8192, ge=1, le=10_000_000)


class EndpointSpec(BaseModel):
    """An endpoint: targets with weights, an optional shadow, stickiness, limits,
    batching and prediction-log sampling.

    Attributes:
        name: the endpoint's name (the OIP model name, ``/v1/endpoints/{name}``).
        targets: the served models and their traffic weights.
        shadow: a model mirrored a copy of the traffic, or ``None``.
        sticky_header: a request header whose value pins a caller to one target
            (the same value always reaches the same target while weights are unchanged).
        limits: body size, rows per request, timeout.
        batching: micro-batching settings.
        log_sample_rate: the share of requests written to the prediction log.
        allow_missing: input columns that may be null (NaN); ``True`` for all.
        poll_interval_s: how often aliases are re-read to follow promotions.
        feature_service: a registered feature service: requests then carry entity keys
            and the model's features are looked up online (docs/guides/features.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    targets: list[TargetSpec] = Field(min_length=1, max_length=16)
    shadow: ShadowSpec | None = None
    sticky_header: str | None = None
    limits: LimitsSpec = LimitsSpec()
    batching: BatchingSpec = BatchingSpec()
    log_sample_rate: float = Field(default=1.0, ge=0, le=1)
    allow_missing: bool | list[str] = False
    poll_interval_s: float = Field(default=5.0, gt=0, le=86_400)
    feature_service: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("feature_service")
    @classmethod
    def _service(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$", value):
            raise ValueError("a feature service name: letters, digits, '_', '.', '-'")
        return value

    @field_validator("sticky_header")
    @classmethod
    def _sticky(cls, value: str | None) -> str | None:
        if value is not None and not _HEADER.match(value):
            raise ValueError("a header name: 1-64 letters, digits or '-' (e.g. X-User-Id)")
        return None if value is None else value.lower()

    @model_validator(mode="after")
    def _weights(self) -> EndpointSpec:
        if sum(t.weight for t in self.targets) <= 0:
            raise ValueError("at least one target needs a weight above 0")
        refs = [t.model for t in self.targets]
        if len(set(refs)) != len(refs):
            raise ValueError(f"targets name the same model twice: {', '.join(refs)}")
        return self

    def missing_allowed(self, column: str) -> bool:
        """Whether ``column`` may be null."""
        if isinstance(self.allow_missing, bool):
            return self.allow_missing
        return column in self.allow_missing


def _describe(exc: ValidationError, where: str) -> str:
    problems = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "endpoint"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        problems.append(f"{loc}: {msg}")
    return f"{where} is invalid: " + "; ".join(problems)


def spec_from_mapping(data: Any, where: str) -> EndpointSpec:
    """A validated spec from plain data; ``where`` names the source in the message.

    Raises:
        InvalidArgumentError: ``data`` is not a mapping or a key is invalid (named).
    """
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{where} must be a mapping with name and targets")
    try:
        return EndpointSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidArgumentError(_describe(exc, where)) from None


def endpoint_from_ref(ref: str, **settings: Any) -> EndpointSpec:
    """The implicit endpoint of a model reference: ``iris@champion`` is served as
    endpoint ``iris`` with that one target.

    Example::

        >>> endpoint_from_ref("iris@champion").targets[0].model
        'iris@champion'
    """
    from keel.registry import parse_model_ref

    parsed = parse_model_ref(ref)
    return spec_from_mapping(
        {"name": parsed.name, "targets": [{"model": str(parsed)}], **settings},
        f"endpoint for {ref!r}",
    )


def load_endpoint_specs(
    source: str | Path | dict[str, Any], *, default_name: str | None = None
) -> list[EndpointSpec]:
    """Endpoint specs from a YAML file (one endpoint, or several under ``endpoints:``).

    ``default_name`` names a single endpoint whose file has no ``name`` key.

    Raises:
        InvalidArgumentError: the file is missing, not YAML, or a spec is invalid (the
            message names the key).
    """
    import yaml

    from keel._yaml import describe_yaml_error

    if isinstance(source, dict):
        data: Any = source
        where = "endpoint spec"
    else:
        path = Path(source)
        where = str(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidArgumentError(f"endpoint file {where} does not exist") from None
        except yaml.YAMLError as exc:
            raise InvalidArgumentError(f"{where}: {describe_yaml_error(exc)}") from None
    if isinstance(data, dict) and set(data) == {"endpoints"}:
        items = data["endpoints"]
        if not isinstance(items, list) or not items:
            raise InvalidArgumentError(f"{where}: endpoints must be a non-empty list")
        specs = [spec_from_mapping(item, f"{where} endpoints[{i}]") for i, item in enumerate(items)]
    else:
        if isinstance(data, dict) and default_name is not None:
            data = {"name": default_name, **data}
        specs = [spec_from_mapping(data, where)]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"{where}: endpoint names repeat: {', '.join(names)}")
    return specs
