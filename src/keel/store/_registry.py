"""Model registry entities and interface: registered models, versions, aliases, gate results.

Model versions and gate results are immutable facts (a version can only be archived).
Aliases are the one pointer that moves; every move (and every registration, archive
and deletion) is written with its audit event in the same transaction, and moves of
one alias are serialised by optimistic concurrency on the alias's ``revision``.
"""

from __future__ import annotations

import abc
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keel.errors import ConflictError, InvalidArgumentError
from keel.store._audit import AuditedObject, content_digest

__all__ = [
    "Alias",
    "AliasMove",
    "CheckResult",
    "GateResult",
    "ModelFile",
    "ModelStateError",
    "ModelVersion",
    "ModelVersionDraft",
    "ModelVersionStatus",
    "RegisteredModel",
    "RegistryStore",
    "check_alias_name",
    "check_model_name",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
#: alias names keel computes itself and that cannot be set
RESERVED_ALIASES = ("latest",)
#: the largest version number (a 32-bit signed column on every backend)
MAX_VERSION = 2**31 - 1


class ModelStateError(ConflictError):
    """The version's state forbids the operation (e.g. promoting an archived version)."""

    code = "MODEL_STATE"
    http_status = 409


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise ``InvalidArgumentError``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgumentError(
            f"model name {name!r} is invalid: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (no '@' or '/')"
        )
    return name


def check_alias_name(alias: str) -> str:
    """Return ``alias`` if it is a settable alias name, else raise ``InvalidArgumentError``."""
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise InvalidArgumentError(
            f"alias {alias!r} is invalid: use 1-64 letters, digits, '_' or '-', starting with "
            "a letter (e.g. champion, challenger)"
        )
    if alias.lower() in RESERVED_ALIASES:
        raise InvalidArgumentError(
            f"alias {alias!r} is reserved: 'latest' always means the newest ready version"
        )
    return alias


class ModelVersionStatus(enum.StrEnum):
    """A version is ``READY`` until archived; archived versions cannot be promoted or served."""

    READY = "READY"
    ARCHIVED = "ARCHIVED"


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model: the sequence of its versions and its aliases."""

    name: str
    created_at: int
    created_by: str
    description: str = ""
    latest_version: int = 0
    aliases: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One file of a model version: its path (in the run's artifacts), sha256, size and role.

    Roles: ``descriptor``, ``model``, ``onnx``, ``input_example``, ``model_card``.
    """

    path: str
    sha256: str
    size: int
    role: str


@dataclass(frozen=True, slots=True)
class ModelVersionDraft:
    """What registration knows before the store numbers the version."""

    name: str
    run_id: str
    flavor: str
    format: str
    files: tuple[ModelFile, ...]
    signature: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """An immutable registered version of a model.

    Attributes:
        name: the model's name.
        version: its number, 1, 2, ... per name.
        run_id: the run that produced it.
        flavor: ``sklearn``, ``xgboost``, ``lightgbm``, ``torch`` or ``pickle``.
        format: the file format of the model (``skops``, ``xgboost_json``, ...).
        status: ``READY`` or ``ARCHIVED``.
        files: every file with its sha256.
        signature: input columns with types, output type and classes.
        metrics: the run's metrics when registered.
        datasets: ids of the dataset versions it was trained on.
        details: the rest of the descriptor (trusted types, ONNX parity, classes...).
    """

    name: str
    version: int
    run_id: str
    flavor: str
    format: str
    status: ModelVersionStatus
    created_at: int
    created_by: str
    files: tuple[ModelFile, ...]
    signature: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def uri(self) -> str:
        """``name/version``, usable wherever a model is named."""
        return f"{self.name}/{self.version}"

    @property
    def ref(self) -> str:
        """The version's reference, ``name/version`` (the same as :attr:`uri`)."""
        return self.uri

    def file(self, role: str) -> ModelFile | None:
        """The first file with this role, or ``None``."""
        return next((f for f in self.files if f.role == role), None)

    def digest(self) -> str:
        """SHA-256 of every immutable field (all but ``status``), as recorded at registration.

        The ``model_version.register`` audit event records it, so a stored version whose
        metrics, files or signature were changed later no longer matches.
        """
        return content_digest(
            {
                "name": self.name,
                "version": self.version,
                "run_id": self.run_id,
                "flavor": self.flavor,
                "format": self.format,
                "created_at": self.created_at,
                "created_by": self.created_by,
                "description": self.description,
                "signature": dict(self.signature),
                "metrics": dict(self.metrics),
                "datasets": list(self.datasets),
                "details": dict(self.details),
                "files": sorted([f.path, f.sha256, f.size, f.role] for f in self.files),
            }
        )

    def lineage_node(self) -> Any:
        """This version as a lineage node (kind ``model_version``, id ``name/version``)."""
        from keel.store._lineage import LineageNode

        return LineageNode("model_version", self.uri, f"{self.name} v{self.version}")


@dataclass(frozen=True, slots=True)
class Alias:
    """``name@alias`` points to one version; ``revision`` grows by one on every move."""

    name: str
    alias: str
    version: int
    revision: int
    updated_at: int
    updated_by: str


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One entry of an alias's history (``to_version`` is ``None`` when it was deleted)."""

    id: int
    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    action: str
    actor: str
    time: int
    reason: str | None = None
    gate_result_id: str | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one policy check: the measured value, the bound and the verdict."""

    check: str
    value: Any
    bound: str
    passed: bool
    detail: str = ""

    @property
    def verdict(self) -> str:
        """``pass`` or ``fail``."""
        return "pass" if self.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "check": self.check,
            "value": self.value,
            "bound": self.bound,
            "verdict": self.verdict,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class GateResult:
    """The recorded outcome of checking a version against a promotion policy."""

    id: str
    name: str
    version: int
    alias: str
    passed: bool
    checks: tuple[CheckResult, ...]
    policy: Mapping[str, Any]
    created_at: int
    actor: str
    forced: bool = False
    reason: str | None = None

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass."""
        return tuple(c for c in self.checks if not c.passed)

    def digest(self) -> str:
        """SHA-256 of every field, as the audit event that stored the result records it."""
        return content_digest(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "id": self.id,
            "model": self.name,
            "version": self.version,
            "alias": self.alias,
            "passed": self.passed,
            "forced": self.forced,
            "reason": self.reason,
            "actor": self.actor,
            "created_at": self.created_at,
            "checks": [c.to_dict() for c in self.checks],
            "policy": dict(self.policy),
        }


class RegistryStore(abc.ABC):
    """Registered models, their versions, aliases, alias history and gate results.

    Every mutating method takes the ``actor`` and writes an audit event in the same
    transaction as the change.
    """

    @abc.abstractmethod
    def create_version(self, draft: ModelVersionDraft, actor: str) -> ModelVersion:
        """Register a new version (numbered next for its name; the model is created if new)."""

    @abc.abstractmethod
    def get_model(self, name: str) -> RegisteredModel:
        """The model called ``name``; ``NotFoundError`` listing the models that exist."""

    @abc.abstractmethod
    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""

    @abc.abstractmethod
    def get_version(self, name: str, version: int) -> ModelVersion:
        """One version; ``NotFoundError`` listing the versions that exist."""

    @abc.abstractmethod
    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of a model, oldest first."""

    @abc.abstractmethod
    def archive_version(
        self, name: str, version: int, actor: str, reason: str | None = None
    ) -> ModelVersion:
        """Archive a version; refused while an alias points to it."""

    @abc.abstractmethod
    def get_alias(self, name: str, alias: str) -> Alias:
        """The alias; ``NotFoundError`` listing the model's aliases."""

    @abc.abstractmethod
    def list_aliases(self, name: str) -> list[Alias]:
        """Every alias of a model."""

    @abc.abstractmethod
    def move_alias(
        self,
        name: str,
        alias: str,
        version: int,
        expected_revision: int,
        action: str,
        actor: str,
        reason: str | None = None,
        gate_result: GateResult | None = None,
    ) -> Alias:
        """Point ``alias`` at ``version`` if its revision is still ``expected_revision``.

        ``expected_revision`` 0 means the alias must not exist yet. Stores the gate
        result, an alias-history entry and the audit event in the same transaction.

        Raises:
            ConflictError: the alias moved since it was read (another promotion won).
            RunStateError: the version is archived.
        """

    @abc.abstractmethod
    def delete_alias(
        self, name: str, alias: str, expected_revision: int, actor: str, reason: str | None = None
    ) -> None:
        """Delete an alias (recorded in its history and audited)."""

    @abc.abstractmethod
    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Moves of one alias (or all aliases of a model), oldest first."""

    @abc.abstractmethod
    def record_gate_result(self, result: GateResult) -> GateResult:
        """Store the result of a promotion that did not move the alias (audited)."""

    @abc.abstractmethod
    def audited_state(self) -> list[AuditedObject]:
        """Every model, version, alias, alias history and gate result, in audit-event terms.

        ``keel audit verify`` replays the audit chain and compares it with this, so a row
        changed behind keel's back (a direct ``UPDATE``) is named.
        """

    @abc.abstractmethod
    def get_gate_result(self, result_id: str) -> GateResult:
        """One gate result by id."""

    @abc.abstractmethod
    def list_gate_results(self, name: str, version: int | None = None) -> list[GateResult]:
        """Gate results of a model (or one version), oldest first."""
