"""Endpoints that look their model's features up online (``feature_service`` in the spec).

A request then carries entity keys (``{"inputs": [{"customer_id": 7}]}``), plus any
model input the service does not provide (a request-time feature). The app reads the
service's features for those entities from the online store (one read per view for the
whole request), lays them out as the model's inputs, and predicts; the prediction log
records the model inputs used, the entity keys and each value's age.

The lookup is prepared once per endpoint (the views read from the metadata store) and
refreshed when a view changed since (the online store refuses a record written for
another schema of its view).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.serving._errors import RequestError
from keel.serving._inputs import InputBatch, InputSchema

if TYPE_CHECKING:
    from keel.context import Context
    from keel.serving._models import ServedModel
    from keel.serving._spec import EndpointSpec

__all__ = ["EndpointFeatures", "FeatureInputs"]

#: a join key's feature type -> the signature type its request column is checked as
_KEY_TYPES = {
    "int64": "long",
    "int32": "integer",
    "float64": "double",
    "float32": "float",
    "bool": "boolean",
    "string": "string",
    "timestamp": "string",
}


@dataclass(frozen=True, slots=True)
class FeatureInputs:
    """A request's model inputs and what the log keeps about how they were found.

    Attributes:
        batch: the model's input rows.
        entities: the entity keys of each row.
        ages: feature -> the age in seconds of each row's value (``None``: none online).
        service: the feature service.
    """

    batch: InputBatch
    entities: list[dict[str, Any]]
    ages: dict[str, list[float | None]]
    service: str


class EndpointFeatures:
    """The online feature lookup of one endpoint.

    Args:
        service: the feature service the endpoint names.
        context: where the service and its views are registered (and which online
            store the settings name).

    Nothing is read until :meth:`open` (in a worker thread: it reads the metadata store).
    """

    def __init__(self, service: str, context: Context) -> None:
        self.service = service
        self._context = context
        self._lookup: Any = None
        self._keys: dict[str, str] = {}
        self._features: tuple[str, ...] = ()
        self._schemas: dict[tuple[str, int], InputSchema] = {}
        self._lock = threading.Lock()

    def open(self) -> None:
        """Prepare the lookup: read the service, its views and their entities."""
        from keel.features import get_entity, get_service, get_view, parse_feature_ref
        from keel.features._online_lookup import prepare_online_features

        ctx = self._context
        service, _ = get_service(self.service, context=ctx)
        keys: dict[str, str] = {}
        for ref in service.features:
            view, _ = get_view(parse_feature_ref(ref)[0], context=ctx)
            for name in view.entities:
                for key in get_entity(name, context=ctx)[0].join_keys:
                    keys.setdefault(key.name, _KEY_TYPES[key.dtype])
        lookup = prepare_online_features(self.service, context=ctx)
        with self._lock:
            old, self._lookup = self._lookup, lookup
            self._keys = keys
            self._features = tuple(lookup.features)
            self._schemas = {}
        if old is not None:
            old.close()

    @property
    def features(self) -> tuple[str, ...]:
        """The feature columns the service provides."""
        return self._features

    def close(self) -> None:
        """Release the online store's connections."""
        if self._lookup is not None:
            self._lookup.close()
            self._lookup = None

    def request_schema(self, served: ServedModel, spec: EndpointSpec) -> InputSchema:
        """What a request to ``served`` carries: the join keys, then every model input the
        service does not provide."""
        key = (served.uri, id(spec))
        found = self._schemas.get(key)
        if found is not None:
            return found
        provided = set(self._features)
        missing_in_model = [f for f in self._features if f not in served.schema.index]
        if missing_in_model:
            raise RequestError(
                500,
                f"feature service {self.service!r} provides {', '.join(missing_in_model)}, "
                f"which model {served.uri} does not take (its inputs: "
                f"{', '.join(served.schema.names)}); serve a model trained on the service",
                code="FEATURES_MISMATCH",
            )
        columns = [{"name": k, "type": t} for k, t in self._keys.items()]
        for name, kind in zip(served.schema.names, served.schema.types, strict=True):
            if name not in provided and name not in self._keys:
                columns.append({"name": name, "type": kind})
        keys = set(self._keys)
        schema = InputSchema(
            {"inputs": columns},
            max_rows=spec.limits.max_rows,
            missing_allowed=lambda n: n not in keys and spec.missing_allowed(n),
        )
        self._schemas[key] = schema
        return schema

    def assemble(
        self, request: InputBatch, served: ServedModel, spec: EndpointSpec
    ) -> FeatureInputs:
        """Look the features of the request's entities up and lay out the model's inputs.

        Runs in a worker thread (it reads the online store).

        Raises:
            RequestError: 422 when an entity has no online value for a feature the model
                cannot take missing; 503 when the online store cannot be reached.
        """
        from keel.features import OnlineSchemaMismatchError, OnlineStoreUnavailableError

        schema = self.request_schema(served, spec)
        rows = request.to_records(schema.names)
        # a numeric request arrives as a float matrix: integer keys become ints again
        # (the schema checked that they are whole numbers)
        integral = {k for k, t in self._keys.items() if t in ("long", "integer")}
        entities = [
            {
                k: (int(row[k]) if k in integral and row[k] is not None else row[k])
                for k in self._keys
            }
            for row in rows
        ]
        try:
            found = self._read(entities)
        except OnlineSchemaMismatchError:
            self.open()  # a view changed: read the new version once, then try again
            found = self._read(entities)
        except OnlineStoreUnavailableError as exc:
            raise RequestError(503, str(exc), code="FEATURES_UNAVAILABLE") from None
        columns: dict[str, list[Any]] = {}
        for name in served.schema.names:
            if name in found.values:
                values = found.values[name]
                if not spec.missing_allowed(name) and None in values:
                    i = values.index(None)
                    age = found.ages[name][i]
                    why = (
                        "the online store has no value for it (not materialized yet?)"
                        if age is None
                        else f"its online value is {age:.0f} s old, past its view's TTL"
                    )
                    raise RequestError(
                        422,
                        f"entity {_show(entities[i])} has no value for feature {name!r}: {why}; "
                        "the model does not take missing values (allow_missing)",
                        field=f"inputs[{i}]",
                        code="FEATURE_MISSING",
                    )
                columns[name] = values
            else:
                columns[name] = [row[name] for row in rows]
        batch = served.schema.from_columns(columns, "features")
        ages = {name: list(found.ages[name]) for name in self._features}
        return FeatureInputs(batch, entities, ages, self.service)

    def _read(self, entities: Sequence[Mapping[str, Any]]) -> Any:
        with self._lock:
            lookup = self._lookup
        if lookup is None:
            raise RequestError(503, "the feature lookup is not open", code="FEATURES_UNAVAILABLE")
        return lookup.get(list(entities))


def _show(entity: Mapping[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in entity.items())
    return "{" + (text if len(text) <= 80 else text[:77] + "...") + "}"
