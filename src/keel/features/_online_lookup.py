"""``get_online_features``: the latest values of features for a few entities, fast.

A lookup is prepared once (:func:`prepare_online_features`: the views are read from the
metadata store, their layouts and fingerprints computed) and then answers each request
with one read of the online store for every view at once (SQLite: one statement;
Redis: one ``MGET``). :func:`get_online_features` prepares and answers in one call, for
scripts; a server keeps the prepared lookup.

Each value comes with its age (seconds between its event time and ``at``, by default
now). An entity the store does not hold gets nulls, not an error; so does a value older
than its view's TTL (its age is still given, so the caller can tell the two apart). A
record written for another schema of its view is refused (the view changed and was
not materialized since).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from keel.context import Context, current_context
from keel.features._materialize import ViewLayout, load_layout, parse_time
from keel.features._online import (
    OnlineSchemaMismatchError,
    OnlineStore,
    default_online_uri,
    open_online_store,
)
from keel.features._online_codec import entity_key, record_event_us, to_micros

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "OnlineFeatureLookup",
    "OnlineFeatures",
    "get_online_features",
    "prepare_online_features",
]


@dataclass(frozen=True)
class OnlineFeatures:
    """The answer of an online lookup: per entity row, each feature's value and age.

    Attributes:
        entities: the join-key values of each entity row, as given.
        values: feature name -> its value per entity row (``None``: no value online, or
            older than the view's TTL).
        ages: feature name -> the age of that value in seconds per entity row (``None``:
            no value online).
        missing: entity rows x views that had no record online.
        expired: entity rows x views whose record was older than the view's TTL.
    """

    entities: list[dict[str, Any]]
    values: dict[str, list[Any]]
    ages: dict[str, list[float | None]]
    missing: int = 0
    expired: int = 0

    def to_dict(self) -> dict[str, list[Any]]:
        """Columns: the join keys, then every feature (``{"driver_id": [...], "trips": [...]}``)."""
        keys: dict[str, list[Any]] = {}
        for row in self.entities:
            for name in row:
                keys.setdefault(name, [])
        for name, column in keys.items():
            column.extend(row.get(name) for row in self.entities)
        return {**keys, **self.values}

    def rows(self) -> list[dict[str, Any]]:
        """One dict per entity row: its keys and its feature values."""
        return [
            {**row, **{name: column[i] for name, column in self.values.items()}}
            for i, row in enumerate(self.entities)
        ]

    def to_pandas(self) -> pd.DataFrame:
        """:meth:`to_dict` as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.to_dict())


@dataclass(frozen=True)
class _ViewRead:
    layout: ViewLayout
    positions: tuple[int, ...]  # requested features' positions in the view's record
    names: tuple[str, ...]
    ttl_us: int | None


def _requested(features: Sequence[str] | str, context: Context) -> list[tuple[str, str]]:
    """``(view, feature)`` pairs of a service name or a list of ``VIEW:FEATURE`` refs."""
    from keel.features._declarations import parse_feature_ref
    from keel.features._errors import FeatureRequestError

    if isinstance(features, str):
        if ":" in features:
            refs: Sequence[str] = [features]
        else:
            from keel.features._apply import get_service

            refs = get_service(features, context=context)[0].features
    else:
        refs = list(features)
    if not refs:
        raise FeatureRequestError(
            "no features were asked for; pass VIEW:FEATURE references or a feature service name"
        )
    out = []
    for ref in refs:
        try:
            out.append(parse_feature_ref(ref))
        except ValueError as exc:
            raise FeatureRequestError(str(exc)) from None
    return out


def _plan(pairs: list[tuple[str, str]], context: Context) -> list[_ViewRead]:
    from keel.features._errors import FeatureNotFoundError, FeatureRequestError

    layouts: dict[str, ViewLayout] = {}
    wanted: dict[str, list[str]] = {}
    for view, feature in pairs:
        if view not in layouts:
            layouts[view] = load_layout(view, context)
        names = layouts[view].view.feature_names
        chosen = names if feature == "*" else [feature]
        for name in chosen:
            if name not in names:
                raise FeatureNotFoundError(
                    f"feature view {view!r} has no feature {name!r}; its features are: "
                    f"{', '.join(names)}"
                )
            wanted.setdefault(view, [])
            if name not in wanted[view]:
                wanted[view].append(name)
    seen: dict[str, str] = {}
    for view, names in wanted.items():
        for name in names:
            if name in seen:
                raise FeatureRequestError(
                    f"feature {name!r} is asked for from views {seen[name]!r} and {view!r}; "
                    "names must be unique in one request: ask for one of them"
                )
            seen[name] = view
    plans = []
    for view, names in wanted.items():
        layout = layouts[view]
        order = layout.view.feature_names
        ttl = layout.view.ttl
        plans.append(
            _ViewRead(
                layout,
                tuple(order.index(n) for n in names),
                tuple(names),
                None if ttl is None else ttl * 1_000_000,
            )
        )
    return plans


def _entity_rows(entity_rows: Any) -> list[dict[str, Any]]:
    from keel.features._errors import FeatureRequestError

    if type(entity_rows) is list and all(type(row) is dict for row in entity_rows):
        return entity_rows  # the common case, taken as it is (a lookup is tens of µs)
    if hasattr(entity_rows, "to_dict") and hasattr(entity_rows, "columns"):  # a DataFrame
        return list(entity_rows.to_dict("records"))
    if isinstance(entity_rows, Mapping):
        columns = {k: list(v) for k, v in entity_rows.items()}
        sizes = {len(v) for v in columns.values()}
        if len(sizes) > 1:
            raise FeatureRequestError(
                f"entity columns have different lengths ({sorted(sizes)}); give one value per "
                "row in every column"
            )
        n = sizes.pop() if sizes else 0
        return [{k: v[i] for k, v in columns.items()} for i in range(n)]
    if isinstance(entity_rows, Iterable) and not isinstance(entity_rows, (str, bytes)):
        rows = list(entity_rows)
        for row in rows:
            if not isinstance(row, Mapping):
                raise FeatureRequestError(
                    f"entity row {str(row)[:60]!r} is not a mapping; give rows like "
                    '[{"driver_id": 1}, {"driver_id": 2}]'
                )
        return [dict(r) for r in rows]
    raise FeatureRequestError(
        "entity_rows must be a list of dicts, a dict of columns or a DataFrame, not "
        f"{type(entity_rows).__name__}"
    )


@dataclass
class OnlineFeatureLookup:
    """A prepared online lookup of a fixed list of features (see :func:`prepare_online_features`).

    Thread-safe: each thread reads through its own connection (SQLite) or the shared
    connection pool (Redis).
    """

    features: tuple[str, ...]
    join_keys: tuple[str, ...]
    project: str
    online: OnlineStore
    _plans: list[_ViewRead] = field(repr=False)
    _refs: list[tuple[str, str]] = field(repr=False, default_factory=list)
    _context: Context | None = field(repr=False, default=None)

    def refresh(self) -> None:
        """Read the views again (after ``keel features apply`` changed one, and it was
        materialized): later lookups use their latest versions (a lookup raises
        :class:`OnlineSchemaMismatchError` until then).

        Raises:
            FeatureNotFoundError: a view or feature asked for is no longer registered.
        """
        ctx = self._context or current_context()
        plans = _plan(self._refs, ctx)
        # VIEW:* follows the view: its features may have changed
        self.features = tuple(n for p in plans for n in p.names)
        self.join_keys = tuple(dict.fromkeys(k for p in plans for k in p.layout.join_keys))
        self._plans = plans

    def get(self, entity_rows: Any, *, at: datetime | str | None = None) -> OnlineFeatures:
        """The features of ``entity_rows``: each row names the join keys of every view.

        Args:
            entity_rows: a list of dicts (``[{"driver_id": 1}]``), a dict of columns or a
                DataFrame.
            at: the time ages and TTLs are measured at (default: now).

        Raises:
            InvalidArgumentError: a row lacks a join key or has one of the wrong kind.
            OnlineSchemaMismatchError: a view changed since it was materialized.
            OnlineStoreUnavailableError: the online store cannot be reached.
        """
        rows = _entity_rows(entity_rows)
        when = parse_time(at, "at")
        now_us = to_micros(when) if when is not None else time.time_ns() // 1000
        plans = self._plans
        lookups = [
            (p.layout.view.name, [entity_key(p.layout.join_keys, r) for r in rows]) for p in plans
        ]
        found = self.online.read(self.project, lookups)
        values: dict[str, list[Any]] = {}
        ages: dict[str, list[float | None]] = {}
        missing = expired = 0
        n = len(rows)
        for plan, records in zip(plans, found, strict=True):
            columns: list[list[Any]] = [[None] * n for _ in plan.names]
            age_column: list[float | None] = [None] * n
            codec = plan.layout.codec
            fingerprint = codec.fingerprint
            for i, record in enumerate(records):
                if record is None:
                    missing += 1
                    continue
                if record[1:9] != fingerprint:
                    raise self._mismatch(plan)
                age_us = now_us - record_event_us(record)
                age_column[i] = age_us / 1e6
                if plan.ttl_us is not None and age_us > plan.ttl_us:
                    expired += 1
                    continue
                decoded = codec.decode(record)
                for slot, position in enumerate(plan.positions):
                    columns[slot][i] = decoded[position]
            for name, column in zip(plan.names, columns, strict=True):
                values[name] = column
                ages[name] = age_column if len(plan.names) == 1 else list(age_column)
        return OnlineFeatures(rows, values, ages, missing, expired)

    def _mismatch(self, plan: _ViewRead) -> OnlineSchemaMismatchError:
        name = plan.layout.view.name
        return OnlineSchemaMismatchError(
            f"the online values of feature view {name!r} were written for another schema than "
            f"its version {plan.layout.version} (its keys or features changed since the last "
            f"materialization); run: keel features materialize --view {name}"
        )

    def close(self) -> None:
        """Release the online store's connections."""
        self.online.close()

    def __enter__(self) -> OnlineFeatureLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare_online_features(
    features: Sequence[str] | str,
    *,
    context: Context | None = None,
    online_store: OnlineStore | None = None,
) -> OnlineFeatureLookup:
    """Read the views of ``features`` once, for many fast lookups.

    Args:
        features: ``VIEW:FEATURE`` references (``VIEW:*``: every feature of the view), or
            the name of a feature service.
        context: the context (the current one when ``None``).
        online_store: the store to read (default: the one the settings name).

    Raises:
        FeatureNotFoundError: a view, feature or service is not registered.
        FeatureRequestError: the same feature name from two views, or a malformed reference.

    Example::

        >>> lookup = prepare_online_features(["driver_stats:trips", "driver_stats:rating"])
        >>> lookup.get([{"driver_id": 7}]).values
        {'trips': [12], 'rating': [4.8]}
    """
    ctx = context or current_context()
    refs = _requested(features, ctx)
    plans = _plan(refs, ctx)
    keys = tuple(dict.fromkeys(k for p in plans for k in p.layout.join_keys))
    names = tuple(n for p in plans for n in p.names)
    online = online_store or open_online_store(default_online_uri(ctx.settings))
    return OnlineFeatureLookup(names, keys, ctx.project, online, plans, refs, ctx)


def get_online_features(
    entity_rows: Any,
    features: Sequence[str] | str,
    *,
    at: datetime | str | None = None,
    context: Context | None = None,
) -> OnlineFeatures:
    """The latest values of ``features`` for ``entity_rows``, with each value's age.

    Missing entities give nulls (counted in ``missing``), not errors; a value older than
    its view's TTL is null too (``expired``). For many lookups, prepare once with
    :func:`prepare_online_features`.

    Args:
        entity_rows: rows naming the join keys: ``[{"driver_id": 1}, ...]``, a dict of
            columns or a DataFrame.
        features: ``VIEW:FEATURE`` references or a feature service's name.
        at: the time ages and TTLs are measured at (default: now).
        context: the context (the current one when ``None``).

    Raises:
        FeatureNotFoundError: a view, feature or service is not registered.
        FeatureRequestError: duplicate feature names, malformed references or rows.
        OnlineSchemaMismatchError: a view changed since it was last materialized.
        OnlineStoreUnavailableError: the online store cannot be reached.

    Example::

        >>> out = keel.features.get_online_features([{"driver_id": 7}], ["driver_stats:trips"])
        >>> out.values["trips"], out.ages["trips"]
        ([12], [3.5])
    """
    with prepare_online_features(features, context=context) as lookup:
        return lookup.get(entity_rows, at=at)
