"""What users declare: entities, feature views and feature services.

Each is a pydantic model with ``extra="forbid"`` (a misspelt key is an error, not a
silent default), declared in Python or in YAML (:mod:`keel.features._load`). Its
canonical JSON form (:meth:`spec`) is what the store keeps, one immutable version per
change (:mod:`keel.features._apply`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "FEATURE_TYPES",
    "Declaration",
    "Entity",
    "Feature",
    "FeatureService",
    "FeatureView",
    "JoinKey",
    "Source",
    "format_ttl",
    "parse_feature_ref",
    "parse_ttl",
]

#: the value types a feature or join key may have, and the DuckDB type of each
FEATURE_TYPES: dict[str, str] = {
    "int64": "BIGINT",
    "int32": "INTEGER",
    "float64": "DOUBLE",
    "float32": "FLOAT",
    "bool": "BOOLEAN",
    "string": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
}

FeatureType = Literal["int64", "int32", "float64", "float32", "bool", "string", "timestamp"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_TTL_PART = re.compile(r"(\d+)\s*(w|d|h|m|s)")
_TTL_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def _check_name(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"{kind} name {str(value)[:80]!r} is invalid: use 1-128 letters, digits, '_', '.' "
            "or '-', starting with a letter or '_'"
        )
    return value


def _check_column(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _COLUMN.match(value):
        raise ValueError(
            f"{kind} {str(value)[:80]!r} is invalid: use 1-128 letters, digits or '_', starting "
            "with a letter or '_' (it is a column name)"
        )
    return value


def parse_ttl(value: Any) -> int | None:
    """Seconds from ``7d``, ``12h``, ``1d12h``, ``90m``, ``30s``, a number of seconds or a
    :class:`datetime.timedelta`; ``None`` (no limit) from ``None``, ``0`` or ``"none"``.

    Raises:
        ValueError: anything else (the message shows the accepted forms).

    Example::

        >>> parse_ttl("1d12h")
        129600
    """
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError(f"ttl {value!r} is not a duration; write 7d, 12h, 90m or 30s")
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "none", "0"):
            return None
        if text.isdigit():
            seconds = float(text)
        else:
            parts = _TTL_PART.findall(text)
            if not parts or _TTL_PART.sub("", text).strip():
                raise ValueError(
                    f"ttl {value!r} is not a duration; write 7d, 12h, 1d12h, 90m or 30s "
                    "(or none for no limit)"
                )
            seconds = float(sum(int(n) * _TTL_UNITS[u] for n, u in parts))
    else:
        raise ValueError(f"ttl {value!r} is not a duration; write 7d, 12h, 90m or 30s")
    if seconds < 0 or seconds != int(seconds):
        raise ValueError(f"ttl {value!r} must be a whole, positive number of seconds")
    return int(seconds) or None


def format_ttl(seconds: int | None) -> str:
    """``7d``, ``1d12h``, ``90s``; ``none`` for no limit."""
    if not seconds:
        return "none"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def parse_feature_ref(ref: str) -> tuple[str, str]:
    """``("spend", "spend_7d")`` from ``"spend:spend_7d"`` (``"spend:*"``: every feature).

    Raises:
        ValueError: not ``VIEW:FEATURE``.
    """
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise ValueError(
            f"feature reference {str(ref)[:80]!r} is malformed: write VIEW:FEATURE "
            "(customer_stats:spend_7d) or VIEW:* for every feature of a view"
        )
    view, feature = ref.split(":")
    _check_name("feature view", view)
    if feature != "*":
        _check_column("feature name", feature)
    return view, feature


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Declaration(_Strict):
    """What every declaration has: a kind and a name."""

    kind: ClassVar[str] = ""

    name: str

    def spec(self) -> dict[str, Any]:
        """The canonical JSON form the store keeps (and ``apply`` compares)."""
        data: dict[str, Any] = self.model_dump(mode="json")
        return data


class JoinKey(_Strict):
    """One column that identifies an entity, and its type."""

    name: str
    dtype: FeatureType = "int64"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_column("join key", value)


class Entity(Declaration):
    """What features describe, identified by one or more join keys.

    Args:
        name: the entity's name (``customer``).
        join_keys: the key columns and their types: ``{"customer_id": "int64"}`` or a list
            of :class:`JoinKey`.
        description: free text.

    Example::

        >>> Entity(name="customer", join_keys={"customer_id": "int64"})
    """

    kind: ClassVar[str] = "entity"

    join_keys: list[JoinKey] = Field(min_length=1)
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name("entity", value)

    @field_validator("join_keys", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return [{"name": k, "dtype": v} for k, v in value.items()]
        if isinstance(value, str):
            return [{"name": value}]
        return value

    @model_validator(mode="after")
    def _unique(self) -> Entity:
        names = [k.name for k in self.join_keys]
        if len(set(names)) != len(names):
            raise ValueError(f"join keys repeat: {', '.join(names)}")
        return self

    @property
    def key_names(self) -> list[str]:
        """The join key columns, in order."""
        return [k.name for k in self.join_keys]


class Feature(_Strict):
    """One feature column of a view, with its type."""

    name: str
    dtype: FeatureType = "float64"
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_column("feature name", value)


class Source(_Strict):
    """Where a view's rows come from: exactly one of ``dataset``, ``parquet`` or ``sql``.

    Attributes:
        dataset: a registered dataset, ``name`` (its latest version when read),
            ``name/3`` or ``name@latest``.
        parquet: a Parquet file (or glob, or fsspec URL).
        sql: a DuckDB ``SELECT`` over the datasets named in ``datasets``, each visible
            as a table called by its name (``SELECT ... FROM transactions``).
        datasets: the datasets an ``sql`` source reads.
    """

    dataset: str | None = None
    parquet: str | None = None
    sql: str | None = None
    datasets: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one(self) -> Source:
        given = [k for k in ("dataset", "parquet", "sql") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "a source is exactly one of dataset (name or name/3), parquet (a path) or sql "
                f"(a query over datasets); got {', '.join(given) or 'none'}"
            )
        if self.datasets and not self.sql:
            raise ValueError("datasets lists what an sql source reads; give sql too")
        if self.sql and not self.datasets:
            raise ValueError(
                "an sql source names the datasets it reads: datasets: [transactions, ...]"
            )
        return self

    def describe(self) -> str:
        """``dataset transactions/2``, ``parquet data/x.parquet`` or ``sql over a, b``."""
        if self.dataset:
            return f"dataset {self.dataset}"
        if self.parquet:
            return f"parquet {self.parquet}"
        return f"sql over {', '.join(self.datasets)}"


class FeatureView(Declaration):
    """Features of one or more entities, read from a source with an event timestamp.

    Args:
        name: the view's name.
        entities: the entities it describes (their join keys are columns of the source).
        timestamp: the event-time column: when each value became true.
        created_at: an optional ingestion-time column: when each value was known. A
            point-in-time join then uses only values known at the event time.
        ttl: how old a value may be and still count (``7d``, ``12h``; none: any age).
        source: a :class:`Source`, or a dataset reference as text.
        features: the feature columns and their types: ``{"spend_7d": "float64"}`` or a
            list of :class:`Feature`.
        description: free text.
        tags: string key/values.

    Example::

        >>> FeatureView(name="spend", entities=["customer"], timestamp="ts", ttl="7d",
        ...             source="transactions", features={"spend_7d": "float64"})
    """

    kind: ClassVar[str] = "feature_view"

    entities: list[str] = Field(min_length=1)
    timestamp: str
    created_at: str | None = None
    ttl: int | None = None
    source: Source
    features: list[Feature] = Field(min_length=1)
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name("feature view", value)

    @field_validator("entities")
    @classmethod
    def _entities(cls, value: list[str]) -> list[str]:
        for name in value:
            _check_name("entity", name)
        if len(set(value)) != len(value):
            raise ValueError(f"entities repeat: {', '.join(value)}")
        return value

    @field_validator("timestamp")
    @classmethod
    def _timestamp(cls, value: str) -> str:
        return _check_column("timestamp column", value)

    @field_validator("created_at")
    @classmethod
    def _created(cls, value: str | None) -> str | None:
        return None if value is None else _check_column("created_at column", value)

    @field_validator("ttl", mode="before")
    @classmethod
    def _ttl(cls, value: Any) -> int | None:
        return parse_ttl(value)

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        return {"dataset": value} if isinstance(value, str) else value

    @field_validator("features", mode="before")
    @classmethod
    def _features(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return [{"name": k, "dtype": v} for k, v in value.items()]
        return value

    @model_validator(mode="after")
    def _columns(self) -> FeatureView:
        names = [f.name for f in self.features]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"features repeat: {', '.join(repeated)}")
        if self.created_at is not None and self.created_at == self.timestamp:
            raise ValueError(
                f"created_at and timestamp are both {self.timestamp!r}; created_at is the "
                "ingestion time, another column (or leave it out)"
            )
        for column in (self.timestamp, self.created_at):
            if column in names:
                raise ValueError(f"{column!r} is a time column and cannot also be a feature")
        return self

    @property
    def feature_names(self) -> list[str]:
        """The feature columns, in order."""
        return [f.name for f in self.features]

    def feature(self, name: str) -> Feature:
        """The feature called ``name`` (``KeyError`` if none)."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)


class FeatureService(Declaration):
    """The features a model uses, as ``VIEW:FEATURE`` references (``VIEW:*`` for all).

    Example::

        >>> FeatureService(name="churn", features=["spend:spend_7d", "profile:*"])
    """

    kind: ClassVar[str] = "feature_service"

    features: list[str] = Field(min_length=1)
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name("feature service", value)

    @field_validator("features")
    @classmethod
    def _refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            parse_feature_ref(ref)
        if len(set(value)) != len(value):
            raise ValueError(f"features repeat: {', '.join(value)}")
        return value


#: kind -> its declaration class
DECLARATIONS: dict[str, type[Declaration]] = {
    "entity": Entity,
    "feature_view": FeatureView,
    "feature_service": FeatureService,
}
