"""Endpoint entities and interface: what a project serves, versioned by revision.

An endpoint names what is served and how: its targets, shadow, limits, batching and
log sampling, kept here as a JSON object (``spec``) whose shape the serving layer
defines and checks (``keel.serving.EndpointSpec``); the store checks only that it is a
JSON object of reasonable size. Every change (create, update, delete) is one call that
writes the new revision, its audit event and a lineage edge model version -> endpoint
for each model version its targets resolved to, in one transaction. Revisions of a name
grow by one on every change and keep growing across a delete and a re-create, so a
server following an endpoint sees every change as a larger number.
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
    "ENDPOINT_ACTIONS",
    "MAX_SPEC_BYTES",
    "Endpoint",
    "EndpointRevision",
    "EndpointStore",
    "check_endpoint_name",
    "check_endpoint_spec",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}/[1-9][0-9]{0,9}$")

#: what a revision records: the endpoint was created, changed or deleted
ENDPOINT_ACTIONS: tuple[str, ...] = ("create", "update", "delete")

#: the largest spec, as canonical JSON (an endpoint's spec is a few hundred bytes)
MAX_SPEC_BYTES = 64 * 1024

#: the most model versions one revision may name (16 targets and a shadow fit)
MAX_MODEL_VERSIONS = 64


def check_endpoint_name(name: str) -> str:
    """Return ``name`` if it is a valid endpoint name, else raise ``InvalidArgumentError``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgumentError(
            f"endpoint name {str(name)[:80]!r} is invalid: use 1-128 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return name


def check_endpoint_spec(
    name: str, spec: Mapping[str, Any], model_versions: Sequence[str]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The spec as plain JSON data and the model versions, sorted and without repeats.

    Raises:
        InvalidArgumentError: the spec is not a JSON object, is larger than
            :data:`MAX_SPEC_BYTES`, holds a ``name`` other than the endpoint's, or a
            model version is not ``NAME/N``.
    """
    import json

    if not isinstance(spec, Mapping):
        raise InvalidArgumentError(
            f"the spec of endpoint {name!r} must be a mapping (targets, limits, ...), "
            f"got {type(spec).__name__}"
        )
    text = canonical_json(dict(spec))
    if len(text.encode("utf-8")) > MAX_SPEC_BYTES:
        raise InvalidArgumentError(
            f"the spec of endpoint {name!r} is {len(text.encode('utf-8'))} bytes as JSON; "
            f"at most {MAX_SPEC_BYTES} are stored"
        )
    data: dict[str, Any] = json.loads(text)  # what is stored, exactly (no tuples, no enums)
    if "name" in data and data["name"] != name:
        raise InvalidArgumentError(
            f"the spec of endpoint {name!r} names another endpoint, {str(data['name'])[:80]!r}"
        )
    data.pop("name", None)
    if isinstance(model_versions, str) or not isinstance(model_versions, Sequence):
        raise InvalidArgumentError(
            f"the model versions of endpoint {name!r} must be a list such as ['iris/3']"
        )
    versions = tuple(sorted(set(model_versions)))
    bad = [v for v in versions if not isinstance(v, str) or not _VERSION.match(v)]
    if bad:
        raise InvalidArgumentError(
            f"endpoint {name!r}: {str(bad[0])[:80]!r} is not a model version; give the "
            "versions its targets resolve to, as NAME/N (iris/3)"
        )
    if len(versions) > MAX_MODEL_VERSIONS:
        raise InvalidArgumentError(
            f"endpoint {name!r} names {len(versions)} model versions; at most "
            f"{MAX_MODEL_VERSIONS} are allowed"
        )
    return data, versions


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An endpoint as stored: its current revision.

    Attributes:
        name: the endpoint's name, unique in its project.
        revision: 1 when first created; one more on every change (never reused, even
            after a delete and a re-create).
        spec: targets, shadow, limits, batching, ... as JSON data (see
            ``keel.serving.EndpointSpec``); without ``name``.
        model_versions: the versions (``iris/3``) its targets and shadow resolved to
            when this revision was written (aliases move later; a serving process
            follows them).
        created_at: when the endpoint was (last) created, in ms since the epoch.
        created_by: who created it.
        updated_at: when this revision was written.
        updated_by: who wrote it.
        reason: why, when the actor gave a reason.
    """

    name: str
    revision: int
    spec: Mapping[str, Any]
    model_versions: tuple[str, ...]
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str
    reason: str | None = None

    def digest(self) -> str:
        """SHA-256 of the spec and the model versions (what the audit event records)."""
        return spec_digest(self.spec, self.model_versions)

    def lineage_node(self) -> Any:
        """This endpoint as a lineage node (kind ``endpoint``, id its name)."""
        from keel.store._lineage import LineageNode

        return LineageNode("endpoint", self.name, self.name)


@dataclass(frozen=True, slots=True)
class EndpointRevision:
    """One change of an endpoint, kept for its history (``keel endpoints show --history``).

    Attributes:
        name: the endpoint.
        revision: the revision this change made.
        action: ``create``, ``update`` or ``delete``.
        spec: the spec it set (``None`` for a delete).
        model_versions: the model versions it resolved to (empty for a delete).
        actor: who made the change.
        time: when, in ms since the epoch.
        reason: why, when given.
    """

    name: str
    revision: int
    action: str
    spec: Mapping[str, Any] | None
    model_versions: tuple[str, ...]
    actor: str
    time: int
    reason: str | None = None

    def digest(self) -> str:
        """SHA-256 of the spec and model versions (``""`` for a delete)."""
        return "" if self.spec is None else spec_digest(self.spec, self.model_versions)


def spec_digest(spec: Mapping[str, Any], model_versions: Sequence[str]) -> str:
    """The digest an endpoint's audit event records for a spec and its model versions."""
    return content_digest({"spec": dict(spec), "model_versions": sorted(model_versions)})


class EndpointStore(abc.ABC):
    """A project's endpoints and their revisions.

    Every change takes the ``actor``, writes the new revision, its audit event
    (``endpoint.create``, ``endpoint.update``, ``endpoint.delete``) and the lineage edges
    model version -[served_by]-> endpoint in one transaction. Changes of one endpoint are
    serialised by optimistic concurrency on its revision.

    A change sent twice (a retry after its answer was lost) changes nothing the second
    time: when the endpoint's latest revision is that very change (same action, actor,
    spec and model versions, one after the expected revision), it is returned as is.
    """

    @abc.abstractmethod
    def create_endpoint(
        self,
        name: str,
        spec: Mapping[str, Any],
        model_versions: Sequence[str],
        actor: str,
        reason: str | None = None,
    ) -> Endpoint:
        """Create an endpoint; its revision is one more than the name's last (1 if new).

        Raises:
            ConflictError: an endpoint of that name exists.
            InvalidArgumentError: the name, spec or a model version is malformed.
        """

    @abc.abstractmethod
    def update_endpoint(
        self,
        name: str,
        spec: Mapping[str, Any],
        model_versions: Sequence[str],
        expected_revision: int,
        actor: str,
        reason: str | None = None,
    ) -> Endpoint:
        """Replace an endpoint's spec if its revision is still ``expected_revision``.

        Raises:
            NotFoundError: no endpoint of that name exists (lists those that do).
            ConflictError: it changed since it was read (names the revision and who).
        """

    @abc.abstractmethod
    def delete_endpoint(
        self, name: str, expected_revision: int, actor: str, reason: str | None = None
    ) -> None:
        """Delete an endpoint if its revision is still ``expected_revision``.

        Its revisions stay in its history; a later create continues their numbering.

        Raises:
            NotFoundError: no endpoint of that name exists.
            ConflictError: it changed since it was read.
        """

    @abc.abstractmethod
    def get_endpoint(self, name: str) -> Endpoint:
        """The endpoint called ``name``; ``NotFoundError`` listing the endpoints that exist."""

    @abc.abstractmethod
    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint of the project, by name."""

    @abc.abstractmethod
    def list_revisions(self, name: str) -> list[EndpointRevision]:
        """Every change of an endpoint (deleted ones too), oldest first.

        Raises:
            NotFoundError: no endpoint of that name ever existed.
        """

    @abc.abstractmethod
    def audited_state(self) -> list[AuditedObject]:
        """Every endpoint and revision row, in audit-event terms (``keel audit verify``)."""
