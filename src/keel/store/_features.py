"""Feature definitions: entities, feature views and feature services, versioned.

A definition is what a user declared (``keel.features.Entity``, ``FeatureView``,
``FeatureService``), kept as a JSON object (``spec``) whose shape the features layer
defines and checks; the store checks only that it is a JSON object of reasonable size.
Every version is immutable: a change registers the next version, and removing a
definition registers a *retirement* (a version without a spec), so a version number
never repeats and what a model was trained on can always be read back.

A set of changes (what ``keel features apply`` computed) is written in one
transaction with one audit event per change, or not at all.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keel.errors import InvalidArgumentError
from keel.store._audit import AuditedObject, canonical_json, content_digest

__all__ = [
    "FEATURE_KINDS",
    "MAX_FEATURE_SPEC_BYTES",
    "FeatureChange",
    "FeatureDefinition",
    "FeatureStore",
    "check_feature_change",
    "check_feature_changes",
    "check_feature_kind",
    "check_feature_name",
    "feature_spec_digest",
]

#: the kinds of definitions, in the order they depend on each other
FEATURE_KINDS: tuple[str, ...] = ("entity", "feature_view", "feature_service")

#: the largest spec, as canonical JSON (a view with a few hundred features fits)
MAX_FEATURE_SPEC_BYTES = 256 * 1024

#: the most changes one call may write
MAX_CHANGES = 1000

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")


def check_feature_kind(kind: str) -> str:
    """Return ``kind`` if it is one of :data:`FEATURE_KINDS`, else ``InvalidArgumentError``."""
    if kind not in FEATURE_KINDS:
        raise InvalidArgumentError(
            f"{str(kind)[:40]!r} is not a kind of feature definition; kinds are: "
            f"{', '.join(FEATURE_KINDS)}"
        )
    return kind


def check_feature_name(kind: str, name: str) -> str:
    """Return ``name`` if it is a valid name for a definition, else ``InvalidArgumentError``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgumentError(
            f"{kind.replace('_', ' ')} name {str(name)[:80]!r} is invalid: use 1-128 letters, "
            "digits, '_', '.' or '-', starting with a letter or '_'"
        )
    return name


def feature_spec_digest(spec: Mapping[str, Any] | None) -> str:
    """SHA-256 of a spec (``""`` for a retirement): what the audit event records."""
    return "" if spec is None else content_digest(dict(spec))


@dataclass(frozen=True, slots=True)
class FeatureChange:
    """One change to register: a new version of a definition, or its retirement.

    Attributes:
        kind: ``entity``, ``feature_view`` or ``feature_service``.
        name: the definition's name, unique per kind in a project.
        spec: the declaration as JSON data; ``None`` retires the definition.
        expected_version: the latest version the caller read (0: it believed there was
            none). The change is refused if another was registered since.
    """

    kind: str
    name: str
    spec: Mapping[str, Any] | None
    expected_version: int


@dataclass(frozen=True, slots=True)
class FeatureDefinition:
    """One immutable version of a definition.

    Attributes:
        kind: ``entity``, ``feature_view`` or ``feature_service``.
        name: its name.
        version: 1, 2, ... per (kind, name); never reused.
        spec: the declaration as JSON data; ``None`` when this version retired it.
        created_at: when this version was registered, in ms since the epoch.
        created_by: who registered it.
        reason: why, when given.
    """

    kind: str
    name: str
    version: int
    spec: Mapping[str, Any] | None
    created_at: int
    created_by: str
    reason: str | None = None

    @property
    def retired(self) -> bool:
        """Whether this version retired the definition."""
        return self.spec is None

    @property
    def ref(self) -> str:
        """``name/version`` (``customer_stats/3``)."""
        return f"{self.name}/{self.version}"

    def digest(self) -> str:
        """SHA-256 of the spec (``""`` for a retirement)."""
        return feature_spec_digest(self.spec)

    def lineage_node(self) -> Any:
        """This version as a lineage node (kind as the definition's, id ``name/version``)."""
        from keel.store._lineage import LineageNode

        return LineageNode(self.kind, self.ref, f"{self.name} v{self.version}")


def check_feature_change(change: FeatureChange) -> FeatureChange:
    """The change with its spec as plain JSON data (exactly what is stored).

    Raises:
        InvalidArgumentError: an unknown kind, an invalid name, a spec that is not a JSON
            object or is larger than :data:`MAX_FEATURE_SPEC_BYTES`, or a negative
            expected version.
    """
    import json

    check_feature_kind(change.kind)
    check_feature_name(change.kind, change.name)
    expected = change.expected_version
    if isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
        raise InvalidArgumentError(
            f"{change.kind} {change.name!r}: expected_version must be 0 (new) or the latest "
            f"version read, got {expected!r}"
        )
    if change.spec is None:
        return change
    if not isinstance(change.spec, Mapping):
        raise InvalidArgumentError(
            f"the spec of {change.kind} {change.name!r} must be a mapping, got "
            f"{type(change.spec).__name__}"
        )
    text = canonical_json(dict(change.spec))
    size = len(text.encode("utf-8"))
    if size > MAX_FEATURE_SPEC_BYTES:
        raise InvalidArgumentError(
            f"the spec of {change.kind} {change.name!r} is {size} bytes as JSON; at most "
            f"{MAX_FEATURE_SPEC_BYTES} are stored"
        )
    data: dict[str, Any] = json.loads(text)
    if "name" in data and data["name"] != change.name:
        raise InvalidArgumentError(
            f"the spec of {change.kind} {change.name!r} names another one, "
            f"{str(data['name'])[:80]!r}"
        )
    return FeatureChange(change.kind, change.name, data, expected)


def check_feature_changes(changes: Sequence[FeatureChange]) -> list[FeatureChange]:
    """Every change checked (:func:`check_feature_change`), each definition at most once."""
    if isinstance(changes, (str, bytes)) or not isinstance(changes, Sequence):
        raise InvalidArgumentError("changes must be a list of FeatureChange")
    if len(changes) > MAX_CHANGES:
        raise InvalidArgumentError(
            f"{len(changes)} changes in one call; at most {MAX_CHANGES} are written at once"
        )
    checked = [check_feature_change(c) for c in changes]
    seen: set[tuple[str, str]] = set()
    for c in checked:
        if (c.kind, c.name) in seen:
            raise InvalidArgumentError(
                f"{c.kind} {c.name!r} is changed twice in one call; send one change per definition"
            )
        seen.add((c.kind, c.name))
    return checked


class FeatureStore(abc.ABC):
    """A project's feature definitions and every version of each.

    :meth:`apply_changes` writes all its changes, one audit event each
    (``feature_view.register``, ``feature_view.retire``, ...), in one transaction, or
    none of them. A change whose spec equals the latest version's is not a change: the
    latest version is returned and nothing is written. A call sent twice (a retry after
    its answer was lost) writes nothing the second time: when a definition's latest
    version is that very change (same spec and actor, one after the expected version),
    it is returned as is.
    """

    @abc.abstractmethod
    def apply_changes(
        self, changes: Sequence[FeatureChange], actor: str, reason: str | None = None
    ) -> list[FeatureDefinition]:
        """Register new versions (or retirements) of definitions, all or none.

        Returns:
            For each change, in order, the version that holds it.

        Raises:
            ConflictError: a definition's latest version is not the expected one (names
                it and who registered it), or a retirement of one that is not registered
                or already retired; nothing is written.
            InvalidArgumentError: a kind, name or spec is malformed.
        """

    @abc.abstractmethod
    def get_definition(self, kind: str, name: str, version: int | None = None) -> FeatureDefinition:
        """A version of a definition (its latest one by default, which may be a retirement).

        Raises:
            NotFoundError: never registered (lists those of that kind that are), or no
                such version (names the versions there are).
        """

    @abc.abstractmethod
    def list_definitions(self, kind: str | None = None) -> list[FeatureDefinition]:
        """The latest version of every definition that is not retired, by kind then name."""

    @abc.abstractmethod
    def list_definition_versions(self, kind: str, name: str) -> list[FeatureDefinition]:
        """Every version of a definition, oldest first.

        Raises:
            NotFoundError: it was never registered.
        """

    @abc.abstractmethod
    def audited_state(self) -> list[AuditedObject]:
        """Every version row, in audit-event terms (``keel audit verify``)."""
