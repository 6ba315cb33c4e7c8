"""Feature definitions on a keel server, as a FeatureStore."""

from __future__ import annotations

from collections.abc import Sequence

from keel.store._audit import AuditedObject
from keel.store._features import (
    FeatureChange,
    FeatureDefinition,
    FeatureStore,
    check_feature_changes,
    check_feature_kind,
    check_feature_name,
)
from keel.store.rest._domains import _Domain

__all__ = ["RestFeatureStore"]


class RestFeatureStore(_Domain, FeatureStore):
    """Entities, feature views and feature services on a keel server.

    Changes are checked here as the SQL store checks them (the server checks them
    again), so a malformed one gets the same message on every backend.
    """

    _domain = "features"

    def apply_changes(
        self, changes: Sequence[FeatureChange], actor: str, reason: str | None = None
    ) -> list[FeatureDefinition]:
        checked = check_feature_changes(changes)
        if not checked:
            return []
        result: list[FeatureDefinition] = self._call(
            "apply_changes", changes=checked, actor=actor, reason=reason
        )
        return result

    def get_definition(self, kind: str, name: str, version: int | None = None) -> FeatureDefinition:
        check_feature_kind(kind)
        check_feature_name(kind, name)
        result: FeatureDefinition = self._call(
            "get_definition", kind=kind, name=name, version=version
        )
        return result

    def list_definitions(self, kind: str | None = None) -> list[FeatureDefinition]:
        if kind is not None:
            check_feature_kind(kind)
        result: list[FeatureDefinition] = self._call("list_definitions", kind=kind)
        return result

    def list_definition_versions(self, kind: str, name: str) -> list[FeatureDefinition]:
        check_feature_kind(kind)
        check_feature_name(kind, name)
        result: list[FeatureDefinition] = self._call(
            "list_definition_versions", kind=kind, name=name
        )
        return result

    def audited_state(self) -> list[AuditedObject]:
        result: list[AuditedObject] = self._call("audited_state")
        return result
