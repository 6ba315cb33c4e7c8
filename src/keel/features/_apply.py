"""``keel features apply|diff|list|show``: declarations compared with what is registered.

:func:`plan` computes, for every declared and every registered definition, whether it
is added, changed (and which keys), unchanged or removed; :func:`apply` checks the
declarations as a whole (entities of views, features of services, the columns of each
new or changed view's source) and registers the changes as new versions in one call to
the store: all of them, or none.

Removing a definition is shown by ``diff`` and ``apply``, but done (its retirement
registered) only with ``prune=True``: a folder applied without a file that another
team keeps elsewhere must not retire their views.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from keel.context import Context, current_context
from keel.features._declarations import (
    DECLARATIONS,
    Declaration,
    Entity,
    FeatureService,
    FeatureView,
    parse_feature_ref,
)
from keel.features._errors import FeatureDefinitionError, FeatureNotFoundError
from keel.features._load import Declarations, load_declarations
from keel.store import FeatureChange, FeatureDefinition

__all__ = [
    "DefinitionChange",
    "FeaturePlan",
    "apply",
    "get_entity",
    "get_service",
    "get_view",
    "list_definitions",
    "plan",
]

Action = Literal["add", "change", "remove", "unchanged"]


@dataclass(frozen=True)
class DefinitionChange:
    """What applying would do to one definition.

    Attributes:
        kind: ``entity``, ``feature_view`` or ``feature_service``.
        name: its name.
        action: ``add``, ``change``, ``remove`` or ``unchanged``.
        registered: its latest registered version (``None`` when new).
        declared: the declaration (``None`` when removed).
        fields: for a change, the top-level keys whose values differ.
        version: after :func:`apply`, the version that holds it (``None`` before, and
            for a removal that was not pruned).
    """

    kind: str
    name: str
    action: Action
    registered: FeatureDefinition | None
    declared: Declaration | None
    fields: tuple[str, ...] = ()
    version: int | None = None

    def describe(self) -> str:
        """``+ feature view spend``, ``~ feature view spend (ttl, features)``, ..."""
        mark = {"add": "+", "change": "~", "remove": "-", "unchanged": "="}[self.action]
        extra = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{mark} {self.kind.replace('_', ' ')} {self.name}{extra}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``--json``)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "registered_version": None if self.registered is None else self.registered.version,
            "fields": list(self.fields),
            "version": self.version,
        }


@dataclass(frozen=True)
class FeaturePlan:
    """Every definition's change, entities first, then views, then services."""

    changes: tuple[DefinitionChange, ...]
    pruned: bool = False
    applied: bool = False

    def of(self, action: Action) -> list[DefinitionChange]:
        """The changes with this action."""
        return [c for c in self.changes if c.action == action]

    @property
    def empty(self) -> bool:
        """Whether nothing would be (or was) added, changed or removed."""
        return all(c.action == "unchanged" for c in self.changes)

    def summary(self) -> str:
        """``2 added, 1 changed, 0 removed, 3 unchanged``."""
        counts = {a: len(self.of(a)) for a in ("add", "change", "remove", "unchanged")}
        return (
            f"{counts['add']} added, {counts['change']} changed, {counts['remove']} removed, "
            f"{counts['unchanged']} unchanged"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``--json``)."""
        return {
            "applied": self.applied,
            "pruned": self.pruned,
            "summary": self.summary(),
            "changes": [c.to_dict() for c in self.changes],
        }


def _changed_fields(old: Any, new: dict[str, Any]) -> tuple[str, ...]:
    old = dict(old or {})
    keys = sorted(set(old) | set(new))
    return tuple(k for k in keys if old.get(k) != new.get(k))


def _declarations(
    source: str | os.PathLike[str] | Sequence[Declaration] | Declarations,
) -> Declarations:
    return source if isinstance(source, Declarations) else load_declarations(source)


def plan(
    source: str | os.PathLike[str] | Sequence[Declaration] | Declarations,
    *,
    context: Context | None = None,
) -> FeaturePlan:
    """What applying ``source`` would change (nothing is written).

    Args:
        source: a file or folder of declarations, or the declaration objects.
        context: whose store (:func:`keel.context.current_context` by default).

    Raises:
        FeatureDefinitionError: a declaration is malformed (file and line named).

    Example::

        >>> for change in keel.features.plan("features/").changes:
        ...     print(change.describe())
        + feature view spend
    """
    declared = _declarations(source)
    ctx = context or current_context()
    registered = {(d.kind, d.name): d for d in ctx.store.features.list_definitions()}
    order = {k: i for i, k in enumerate(DECLARATIONS)}
    changes: list[DefinitionChange] = []
    for item in declared.all():
        spec = item.spec()
        found = registered.get((item.kind, item.name))
        if found is None:
            changes.append(DefinitionChange(item.kind, item.name, "add", None, item))
            continue
        fields = _changed_fields(found.spec, spec)
        action: Action = "change" if fields else "unchanged"
        changes.append(DefinitionChange(item.kind, item.name, action, found, item, fields))
    names = {(c.kind, c.name) for c in changes}
    for key, found in registered.items():
        if key not in names:
            changes.append(DefinitionChange(found.kind, found.name, "remove", found, None))
    changes.sort(key=lambda c: (order[c.kind], c.name))
    return FeaturePlan(tuple(changes))


def _check_whole(
    declared: Declarations, the_plan: FeaturePlan, prune: bool, context: Context
) -> None:
    """Every view's entities and every service's features exist once applied."""
    after: dict[tuple[str, str], Declaration] = {}
    for c in the_plan.changes:
        if c.declared is not None:
            after[(c.kind, c.name)] = c.declared
        elif not prune and c.registered is not None and c.registered.spec is not None:
            after[(c.kind, c.name)] = DECLARATIONS[c.kind].model_validate(c.registered.spec)
    entities = {n: d for (k, n), d in after.items() if k == "entity"}
    views = {n: d for (k, n), d in after.items() if k == "feature_view"}
    where = declared.origin
    for (kind, name), item in after.items():
        place = where.get((kind, name), "registered")
        if isinstance(item, FeatureView):
            missing = [e for e in item.entities if e not in entities]
            if missing:
                known = ", ".join(sorted(entities)) or "none"
                raise FeatureDefinitionError(
                    f"{place}: feature view {name!r} names entity {missing[0]!r}, which is "
                    f"neither declared nor registered (entities: {known}); declare it"
                )
            keys = [k for e in item.entities for k in entities[e].key_names]  # type: ignore[attr-defined]
            clash = sorted(set(keys) & set(item.feature_names))
            if clash:
                raise FeatureDefinitionError(
                    f"{place}: feature view {name!r} declares join key {clash[0]!r} as a feature"
                )
        if isinstance(item, FeatureService):
            for ref in item.features:
                view_name, feature = parse_feature_ref(ref)
                view = views.get(view_name)
                if view is None:
                    known = ", ".join(sorted(views)) or "none"
                    raise FeatureDefinitionError(
                        f"{place}: feature service {name!r} uses {ref!r}, but there is no "
                        f"feature view {view_name!r} (feature views: {known})"
                    )
                names = view.feature_names  # type: ignore[attr-defined]
                if feature != "*" and feature not in names:
                    raise FeatureDefinitionError(
                        f"{place}: feature service {name!r} uses {ref!r}, but view "
                        f"{view_name!r} has no feature {feature!r} (its features: "
                        f"{', '.join(names)})"
                    )
    for c in the_plan.changes:
        if c.action in ("add", "change") and isinstance(c.declared, FeatureView):
            _check_source(c.declared, [entities[e] for e in c.declared.entities], context)  # type: ignore[misc]
    if prune:
        for c in the_plan.of("remove"):
            if c.kind == "entity":
                users = [v for v, d in views.items() if c.name in d.entities]  # type: ignore[attr-defined]
                if users:
                    raise FeatureDefinitionError(
                        f"entity {c.name!r} would be retired, but feature view {users[0]!r} "
                        "still names it; keep its declaration"
                    )


def _check_source(view: FeatureView, entities: list[Entity], context: Context) -> None:
    from keel.data._duckdb import connect_duckdb
    from keel.features._sources import check_columns, check_text_times, resolve_source

    con = connect_duckdb()
    try:
        resolved = resolve_source(view, con, context)
        check_columns(view, entities, resolved.columns)
        what = f"the source of feature view {view.name!r} ({view.source.describe()})"
        for column in (view.timestamp, view.created_at):
            if column is not None and resolved.columns[column].upper() == "VARCHAR":
                check_text_times(con, resolved.relation, column, what)
    finally:
        con.close()


def apply(
    source: str | os.PathLike[str] | Sequence[Declaration] | Declarations,
    *,
    prune: bool = False,
    reason: str | None = None,
    context: Context | None = None,
) -> FeaturePlan:
    """Register what changed in ``source`` as new versions, all or none.

    Args:
        source: a file or folder of declarations, or the declaration objects.
        prune: also retire registered definitions that ``source`` no longer declares.
        reason: why (recorded in each version's audit event).
        context: where (:func:`keel.context.current_context` by default).

    Returns:
        The plan, each change with the ``version`` that now holds it.

    Raises:
        FeatureDefinitionError: a declaration is malformed or names what does not exist.
        FeatureSourceError: a new or changed view's source lacks a column it declares,
            or its times are mixed or unparseable.
        ConflictError: someone registered a change since the plan was computed.
        (In every case nothing is registered.)

    Example::

        >>> keel.features.apply("features/").summary()
        '2 added, 0 changed, 0 removed, 0 unchanged'
    """
    declared = _declarations(source)
    ctx = context or current_context()
    the_plan = plan(declared, context=ctx)
    _check_whole(declared, the_plan, prune, ctx)
    writes: list[FeatureChange] = []
    for c in the_plan.changes:
        expected = 0 if c.registered is None else c.registered.version
        if c.action in ("add", "change") and c.declared is not None:
            writes.append(FeatureChange(c.kind, c.name, c.declared.spec(), expected))
        elif c.action == "remove" and prune:
            writes.append(FeatureChange(c.kind, c.name, None, expected))
    made = ctx.store.features.apply_changes(writes, ctx.actor, reason=reason) if writes else []
    versions = {(d.kind, d.name): d.version for d in made}
    _link_services(made, the_plan, ctx)
    out = []
    for c in the_plan.changes:
        version = versions.get((c.kind, c.name))
        if version is None and c.action == "unchanged" and c.registered is not None:
            version = c.registered.version
        out.append(
            DefinitionChange(c.kind, c.name, c.action, c.registered, c.declared, c.fields, version)
        )
    return FeaturePlan(tuple(out), pruned=prune, applied=True)


def _link_services(
    made: Sequence[FeatureDefinition], the_plan: FeaturePlan, context: Context
) -> None:
    """Lineage edges view version -[part_of]-> service version: for each new service
    version, from the versions of its views then current; for each new view version, to
    the current versions of the services that use it."""
    from keel.store import LineageEdge, LineageNode

    current = {
        c.name: c.registered.version
        for c in the_plan.changes
        if c.kind == "feature_view" and c.registered is not None
    }
    current.update({d.name: d.version for d in made if d.kind == "feature_view"})
    new_views = {d.name for d in made if d.kind == "feature_view" and d.spec is not None}
    services: dict[str, tuple[int, Any]] = {}  # name -> (version, spec) once applied
    for c in the_plan.changes:
        if c.kind == "feature_service" and c.registered is not None and c.registered.spec:
            services[c.name] = (c.registered.version, c.registered.spec)
    for d in made:
        if d.kind == "feature_service":
            services[d.name] = (d.version, d.spec)
    fresh = {d.name for d in made if d.kind == "feature_service"}
    edges = []
    for name, (version, spec) in services.items():
        if not spec:
            continue
        target = LineageNode("feature_service", f"{name}/{version}", f"{name} v{version}")
        for ref in spec.get("features", []):
            view = parse_feature_ref(ref)[0]
            # a new service version links its views; a new view version its services
            if view in current and (name in fresh or view in new_views):
                node = LineageNode(
                    "feature_view", f"{view}/{current[view]}", f"{view} v{current[view]}"
                )
                edges.append(LineageEdge(node, target, "part_of"))
    if edges:
        context.store.lineage.add_edges(list(dict.fromkeys(edges)))


# -- reading what is registered -----------------------------------------------------------


def _get(kind: str, name: str, version: int | None, context: Context | None) -> Any:
    from keel.errors import NotFoundError

    ctx = context or current_context()
    label = kind.replace("_", " ")
    try:
        found = ctx.store.features.get_definition(kind, name, version)
    except NotFoundError as exc:
        raise FeatureNotFoundError(str(exc)) from None
    if found.spec is None:
        names = [d.name for d in ctx.store.features.list_definitions(kind)]
        raise FeatureNotFoundError(
            f"{label} {name!r} was retired (version {found.version}, by {found.created_by}); "
            f"{label}s registered: {', '.join(names) or 'none'}"
        )
    return DECLARATIONS[kind].model_validate(found.spec), found


def get_view(
    name: str, version: int | None = None, *, context: Context | None = None
) -> tuple[FeatureView, FeatureDefinition]:
    """A registered feature view (its latest version by default) and its stored version.

    Raises:
        FeatureNotFoundError: not registered, or retired (lists the views there are).
    """
    view, found = _get("feature_view", name, version, context)
    return view, found


def get_entity(
    name: str, version: int | None = None, *, context: Context | None = None
) -> tuple[Entity, FeatureDefinition]:
    """A registered entity (its latest version by default) and its stored version."""
    entity, found = _get("entity", name, version, context)
    return entity, found


def get_service(
    name: str, version: int | None = None, *, context: Context | None = None
) -> tuple[FeatureService, FeatureDefinition]:
    """A registered feature service (its latest version by default) and its stored version."""
    service, found = _get("feature_service", name, version, context)
    return service, found


def list_definitions(
    kind: str | None = None, *, context: Context | None = None
) -> list[FeatureDefinition]:
    """The latest version of every registered (not retired) definition, optionally of a kind."""
    ctx = context or current_context()
    return ctx.store.features.list_definitions(kind)
