"""The feature store: declared features, training data as of each event, the same
features online.

Declare entities, feature views and feature services in Python or YAML, register them
(``keel features apply PATH``), and build point-in-time-correct training data::

    >>> import keel.features as kf
    >>> customer = kf.Entity(name="customer", join_keys={"customer_id": "int64"})
    >>> spend = kf.FeatureView(
    ...     name="spend", entities=["customer"], timestamp="ts", ttl="7d",
    ...     source="transactions", features={"spend_7d": "float64", "orders_7d": "int64"})
    >>> kf.apply([customer, spend]).summary()
    '2 added, 0 changed, 0 removed, 0 unchanged'
    >>> result = kf.get_historical_features(events, ["spend:spend_7d", "spend:orders_7d"])
    >>> result.to_pandas()

See docs/guides/features.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.features._apply import (
        DefinitionChange as DefinitionChange,
        FeaturePlan as FeaturePlan,
        apply as apply,
        get_entity as get_entity,
        get_service as get_service,
        get_view as get_view,
        list_definitions as list_definitions,
        plan as plan,
    )
    from keel.features._declarations import (
        FEATURE_TYPES as FEATURE_TYPES,
        Entity as Entity,
        Feature as Feature,
        FeatureService as FeatureService,
        FeatureView as FeatureView,
        JoinKey as JoinKey,
        Source as Source,
        format_ttl as format_ttl,
        parse_feature_ref as parse_feature_ref,
        parse_ttl as parse_ttl,
    )
    from keel.features._errors import (
        FeatureDefinitionError as FeatureDefinitionError,
        FeatureNotFoundError as FeatureNotFoundError,
        FeatureRequestError as FeatureRequestError,
        FeatureSourceError as FeatureSourceError,
    )
    from keel.features._freshness import (
        FreshnessCollector as FreshnessCollector,
        register_freshness_metrics as register_freshness_metrics,
    )
    from keel.features._historical import (
        HistoricalFeatures as HistoricalFeatures,
        RetrievalReport as RetrievalReport,
        get_historical_features as get_historical_features,
    )
    from keel.features._load import (
        Declarations as Declarations,
        load_declarations as load_declarations,
    )
    from keel.features._materialize import (
        MaterializeReport as MaterializeReport,
        ViewMaterialization as ViewMaterialization,
        materialize as materialize,
    )
    from keel.features._online import (
        OnlineSchemaMismatchError as OnlineSchemaMismatchError,
        OnlineStore as OnlineStore,
        OnlineStoreUnavailableError as OnlineStoreUnavailableError,
        Watermark as Watermark,
        open_online_store as open_online_store,
    )
    from keel.features._online_lookup import (
        OnlineFeatureLookup as OnlineFeatureLookup,
        OnlineFeatures as OnlineFeatures,
        get_online_features as get_online_features,
        prepare_online_features as prepare_online_features,
    )

# public name -> the module defining it; imported on first use
_EXPORTS: dict[str, str] = {
    "DefinitionChange": "keel.features._apply",
    "FeaturePlan": "keel.features._apply",
    "apply": "keel.features._apply",
    "get_entity": "keel.features._apply",
    "get_service": "keel.features._apply",
    "get_view": "keel.features._apply",
    "list_definitions": "keel.features._apply",
    "plan": "keel.features._apply",
    "FEATURE_TYPES": "keel.features._declarations",
    "Entity": "keel.features._declarations",
    "Feature": "keel.features._declarations",
    "FeatureService": "keel.features._declarations",
    "FeatureView": "keel.features._declarations",
    "JoinKey": "keel.features._declarations",
    "Source": "keel.features._declarations",
    "format_ttl": "keel.features._declarations",
    "parse_feature_ref": "keel.features._declarations",
    "parse_ttl": "keel.features._declarations",
    "FeatureDefinitionError": "keel.features._errors",
    "FeatureNotFoundError": "keel.features._errors",
    "FeatureRequestError": "keel.features._errors",
    "FeatureSourceError": "keel.features._errors",
    "HistoricalFeatures": "keel.features._historical",
    "RetrievalReport": "keel.features._historical",
    "get_historical_features": "keel.features._historical",
    "Declarations": "keel.features._load",
    "load_declarations": "keel.features._load",
    "MaterializeReport": "keel.features._materialize",
    "ViewMaterialization": "keel.features._materialize",
    "materialize": "keel.features._materialize",
    "OnlineSchemaMismatchError": "keel.features._online",
    "OnlineStore": "keel.features._online",
    "OnlineStoreUnavailableError": "keel.features._online",
    "Watermark": "keel.features._online",
    "open_online_store": "keel.features._online",
    "OnlineFeatureLookup": "keel.features._online_lookup",
    "OnlineFeatures": "keel.features._online_lookup",
    "get_online_features": "keel.features._online_lookup",
    "prepare_online_features": "keel.features._online_lookup",
    "FreshnessCollector": "keel.features._freshness",
    "register_freshness_metrics": "keel.features._freshness",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keel.features' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
