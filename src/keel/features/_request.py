"""What a feature request names: registered views, their entities and the features asked.

Shared by the offline join (:mod:`keel.features._historical`); a request is a feature
service (its object or its registered name) or ``VIEW:FEATURE`` references.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keel.context import Context, current_context
from keel.features._declarations import Entity, FeatureService, FeatureView, parse_feature_ref
from keel.features._errors import FeatureNotFoundError, FeatureRequestError
from keel.store import FeatureDefinition

__all__ = ["ViewRequest", "resolve_request"]


@dataclass(frozen=True)
class ViewRequest:
    """The features asked of one view, with the view and its entities as registered.

    Attributes:
        view: the view's declaration (its registered version).
        definition: the stored version (``spend/3``).
        entities: the view's entities, in its order.
        features: the requested features, in request order.
        columns: the output column of each requested feature.
    """

    view: FeatureView
    definition: FeatureDefinition
    entities: tuple[Entity, ...]
    features: tuple[str, ...]
    columns: tuple[str, ...]

    @property
    def keys(self) -> list[tuple[str, str]]:
        """``(column, feature type)`` of every join key."""
        return [(k.name, k.dtype) for e in self.entities for k in e.join_keys]


def _service_refs(service: FeatureService) -> list[str]:
    return list(service.features)


def resolve_request(
    features: Sequence[str] | FeatureService | str,
    *,
    full_feature_names: bool = False,
    context: Context | None = None,
) -> list[ViewRequest]:
    """The registered views and features a request names, in request order.

    Args:
        features: ``VIEW:FEATURE`` references (``VIEW:*`` for all of a view), a
            :class:`FeatureService`, or the name of a registered feature service.
        full_feature_names: name output columns ``VIEW__FEATURE``.
        context: whose store.

    Raises:
        FeatureNotFoundError: an unknown view, feature or service (lists what exists).
        FeatureRequestError: a malformed reference, or two features that would share an
            output column.
    """
    from keel.features._apply import get_entity, get_service, get_view

    ctx = context or current_context()
    if isinstance(features, FeatureService):
        refs = _service_refs(features)
    elif isinstance(features, str) and ":" not in features:
        refs = _service_refs(get_service(features, context=ctx)[0])
    elif isinstance(features, str):
        refs = [features]
    else:
        refs = list(features)
    if not refs:
        raise FeatureRequestError("no features requested; name some as VIEW:FEATURE")
    order: list[str] = []
    wanted: dict[str, list[str]] = {}
    for ref in refs:
        try:
            view_name, feature = parse_feature_ref(ref)
        except ValueError as exc:
            raise FeatureRequestError(str(exc)) from None
        if view_name not in wanted:
            order.append(view_name)
            wanted[view_name] = []
        wanted[view_name].append(feature)
    requests: list[ViewRequest] = []
    for view_name in order:
        view, definition = get_view(view_name, context=ctx)
        names: list[str] = []
        for feature in wanted[view_name]:
            if feature == "*":
                names.extend(view.feature_names)
            elif feature not in view.feature_names:
                raise FeatureNotFoundError(
                    f"feature view {view_name!r} (version {definition.version}) has no feature "
                    f"{feature!r}; its features are: {', '.join(view.feature_names)}"
                )
            else:
                names.append(feature)
        names = list(dict.fromkeys(names))
        entities = tuple(get_entity(e, context=ctx)[0] for e in view.entities)
        columns = tuple(f"{view_name}__{f}" if full_feature_names else f for f in names)
        requests.append(ViewRequest(view, definition, entities, tuple(names), columns))
    seen: dict[str, str] = {}
    for r in requests:
        for column, feature in zip(r.columns, r.features, strict=True):
            if column in seen:
                raise FeatureRequestError(
                    f"feature {feature!r} is requested from feature views {seen[column]!r} and "
                    f"{r.view.name!r}; output columns must differ: pass "
                    "full_feature_names=True (columns VIEW__FEATURE) or request one of them"
                )
            seen[column] = r.view.name
    return requests
