"""Listing and archiving registered models."""

from __future__ import annotations

from keel.context import Context, current_context
from keel.registry._uri import parse_model_ref
from keel.store import AliasMove, ModelVersion, RegisteredModel

__all__ = ["alias_history", "archive", "list_models", "list_versions"]


def list_models(*, context: Context | None = None) -> list[RegisteredModel]:
    """Every registered model with its latest version number and aliases.

    Args:
        context: where to look (:func:`keel.context.current_context` by default).
    """
    return (context or current_context()).store.registry.list_models()


def list_versions(name: str, *, context: Context | None = None) -> list[ModelVersion]:
    """Every version of a model, oldest first.

    Args:
        name: the model.
        context: where to look (:func:`keel.context.current_context` by default).
    """
    return (context or current_context()).store.registry.list_versions(name)


def archive(uri: str, *, reason: str | None = None, context: Context | None = None) -> ModelVersion:
    """Archive a version (``iris/2``); archived versions cannot be promoted or served.

    Refused while an alias points to the version. Audited.

    Args:
        uri: the version (``iris/2``, or an alias reference).
        reason: why (audited).
        context: where (:func:`keel.context.current_context` by default).

    Example::

        >>> keel.models.archive("iris/1", reason="superseded")
    """
    ctx = context or current_context()
    ref = parse_model_ref(uri)
    if ref.version is None:
        from keel.registry._uri import resolve_version

        number = resolve_version(ctx.store, ref).version
    else:
        number = ref.version
    archived: ModelVersion = ctx.store.registry.archive_version(ref.name, number, ctx.actor, reason)
    return archived


def alias_history(
    name: str, alias: str | None = None, *, context: Context | None = None
) -> list[AliasMove]:
    """Every move of one alias (or of all aliases of a model), oldest first.

    Args:
        name: the model.
        alias: one alias (all of the model's when ``None``).
        context: where to look (:func:`keel.context.current_context` by default).
    """
    return (context or current_context()).store.registry.alias_history(name, alias)
