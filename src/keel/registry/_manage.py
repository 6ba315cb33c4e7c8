"""Listing and archiving registered models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.registry._uri import parse_model_ref
from keel.store import AliasMove, ModelVersion, RegisteredModel

if TYPE_CHECKING:
    from keel.tracking import Client

__all__ = ["alias_history", "archive", "list_models", "list_versions"]


def _client(client: Any) -> Client:
    if client is not None:
        return client  # type: ignore[no-any-return]
    from keel.tracking import get_client

    return get_client()


def list_models(*, client: Any = None) -> list[RegisteredModel]:
    """Every registered model with its latest version number and aliases."""
    return _client(client).store.registry.list_models()


def list_versions(name: str, *, client: Any = None) -> list[ModelVersion]:
    """Every version of a model, oldest first."""
    return _client(client).store.registry.list_versions(name)


def archive(uri: str, *, reason: str | None = None, client: Any = None) -> ModelVersion:
    """Archive a version (``iris/2``); archived versions cannot be promoted or served.

    Refused while an alias points to the version. Audited.

    Example::

        >>> keel.models.archive("iris/1", reason="superseded")
    """
    client = _client(client)
    ref = parse_model_ref(uri)
    if ref.version is None:
        from keel.registry._uri import resolve_version

        number = resolve_version(client.store, ref).version
    else:
        number = ref.version
    archived: ModelVersion = client.store.registry.archive_version(
        ref.name, number, client.settings.resolved_actor(), reason
    )
    return archived


def alias_history(name: str, alias: str | None = None, *, client: Any = None) -> list[AliasMove]:
    """Every move of one alias (or of all aliases of a model), oldest first."""
    return _client(client).store.registry.alias_history(name, alias)
