"""Training data as of each event: point-in-time-correct joins in DuckDB.

For each entity row (join keys and an event time ``t``) and each requested view, the
value is the view's row with the same keys whose event timestamp ``ts`` is the latest
at or before ``t`` — never a later one — and, when the view has a TTL, no older than
``t - ttl`` (else nulls). When a view declares ``created_at``, only rows known at ``t``
count (``created_at <= t``), so a late correction never reaches training data from
before it arrived.

**Ties** (several rows of one key with the same ``ts``): the one with the latest
``created_at`` wins (when declared), then the one that comes last in the source: in
file order for datasets and Parquet files (files of a glob in name order), in the
query's order for SQL sources (give the query an ``ORDER BY`` to make it
deterministic).

How: DuckDB reads the entity rows and each view's source. When Polars is installed
and no requested view declares ``created_at``, the join is a Polars as-of join on
frames whose ties were resolved once per view (:mod:`keel.features._asof_polars`; in
memory). Otherwise — or with ``KEEL_FEATURES_JOIN=duckdb`` — it is one ``ASOF LEFT
JOIN`` per view in one DuckDB query (:mod:`keel.features._asof`), spilling to disk
beyond its memory limit. Either way no entity row is dropped and the result is written
to Parquet in the entity rows' order.
"""

# SQL here is built from quote_ident/quote_literal and keel's own fragments only.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.context import Context, current_context
from keel.data._sql import quote_ident, quote_literal
from keel.features._asof import ROW, join_sql, view_sql
from keel.features._asof_polars import available as fast_path_available, join_frames
from keel.features._declarations import FeatureService
from keel.features._errors import FeatureRequestError, FeatureSourceError
from keel.features._request import ViewRequest, resolve_request

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from keel.data import DatasetVersion
    from keel.features._sources import ResolvedSource

__all__ = [
    "HistoricalFeatures",
    "RetrievalReport",
    "ViewRequest",
    "get_historical_features",
    "resolve_request",
]

#: the entity frame's event-time column unless told otherwise
EVENT_TIMESTAMP = "event_timestamp"

#: how much memory DuckDB may use for one retrieval before it spills to disk
MEMORY_LIMIT = os.environ.get("KEEL_FEATURES_MEMORY_LIMIT", "1GB")

_ROW = ROW


@dataclass(frozen=True)
class RetrievalReport:
    """What a retrieval found.

    Attributes:
        rows: entity rows in, which is the rows out (none is ever dropped).
        nulls: per output feature column, the rows where it is null (no row in the TTL,
            or a null value).
        rows_without_value: per view, the rows where every requested feature of it is
            null (mostly: no row of the entity at or before the event time, in the TTL).
        views: per view, the version used (``spend/3``).
        datasets: the dataset versions read (sources, and the entity dataset if any).
    """

    rows: int
    nulls: Mapping[str, int]
    rows_without_value: Mapping[str, int]
    views: Mapping[str, str]
    datasets: tuple[str, ...] = ()

    def summary(self) -> str:
        """``1000 rows; no value from spend for 12, from profile for 0``."""
        parts = [f"from {v} for {n}" for v, n in self.rows_without_value.items()]
        return f"{self.rows} rows; no value " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "rows": self.rows,
            "nulls": dict(self.nulls),
            "rows_without_value": dict(self.rows_without_value),
            "views": dict(self.views),
            "datasets": list(self.datasets),
        }


@dataclass
class HistoricalFeatures:
    """The result of :func:`get_historical_features`: a Parquet file and its report.

    The file lives in a temporary folder under the keel home, removed when this object
    is closed or collected. Columns: the entity frame's, then the features, in request
    order; rows: the entity frame's, in its order.

    Attributes:
        path: the Parquet file.
        report: counts of rows and nulls (:class:`RetrievalReport`).
        requests: what was read from each view.
        entity_dataset: the dataset version the entity rows came from, if any.
        source_datasets: the dataset versions the views read.
        view_datasets: per view, the ids of the dataset versions its source read.
    """

    path: Path
    report: RetrievalReport
    requests: tuple[ViewRequest, ...]
    entity_dataset: DatasetVersion | None = None
    source_datasets: tuple[DatasetVersion, ...] = ()
    view_datasets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _cleanup: Any = field(default=None, repr=False)
    _owner: Any = field(default=None, repr=False)

    @property
    def feature_columns(self) -> list[str]:
        """The feature columns, in request order."""
        return [c for r in self.requests for c in r.columns]

    def to_arrow(self) -> pa.Table:
        """The rows as an Arrow table."""
        import pyarrow.parquet as pq

        return pq.read_table(self.path)

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame."""
        frame: pd.DataFrame = self.to_arrow().to_pandas()
        return frame

    def register(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        context: Context | None = None,
    ) -> DatasetVersion:
        """Register the rows as a version of dataset ``name``, with lineage.

        Lineage edges: each view version -[features_into]-> the new version, the entity
        dataset (if any) -[entities_into]-> it, and each source dataset
        -[source_of]-> its view version; so a model trained on it shows features ->
        training data -> run -> model.

        Example::

            >>> train = result.register("churn-train")
            >>> keel.train(model, data=train.reference, target="churned")
        """
        from keel.data._datasets import register_derived
        from keel.store import LineageEdge, LineageNode

        ctx = context or current_context()
        upstream: list[tuple[LineageNode, str]] = [
            (r.definition.lineage_node(), "features_into") for r in self.requests
        ]
        parents: list[str] = []
        if self.entity_dataset is not None:
            upstream.append((self.entity_dataset.lineage_node(), "entities_into"))
            parents.append(self.entity_dataset.id)
        derivation = {
            "kind": "historical_features",
            "views": dict(self.report.views),
            "features": {r.view.name: list(r.features) for r in self.requests},
            "entity_dataset": None
            if self.entity_dataset is None
            else self.entity_dataset.reference,
            "source_datasets": [d.reference for d in self.source_datasets],
        }
        version = register_derived(
            self.path,
            name,
            parents=tuple(parents),
            derivation=derivation,
            upstream=tuple(upstream),
            source_uri=f"features:{','.join(self.report.views.values())}",
            description=description,
            tags=tags,
            context=ctx,
        )
        edges = [
            LineageEdge(dataset.lineage_node(), request.definition.lineage_node(), "source_of")
            for request in self.requests
            for dataset in self.source_datasets
            if dataset.id in self.view_datasets.get(request.view.name, ())
        ]
        if edges:
            ctx.store.lineage.add_edges(edges)
        return version

    def close(self) -> None:
        """Remove the temporary folder (the object is unusable afterwards)."""
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> HistoricalFeatures:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Folder:
    """Owns a result's temporary folder: removed when the result is collected."""


# -- the entity rows -------------------------------------------------------------------


def _entity_relation(
    con: duckdb.DuckDBPyConnection, entity_df: Any, context: Context
) -> tuple[str, DatasetVersion | None]:
    """Register the entity rows as ``__keel_entity`` (with ``__keel_row``); returns its
    columns' SQL name and the dataset version they came from."""
    from keel.data import DatasetVersion

    if isinstance(entity_df, DatasetVersion):
        path = entity_df.local_path()
        con.execute(
            "CREATE TEMP VIEW __keel_entity AS SELECT * EXCLUDE (file_row_number), "
            f"file_row_number AS {_ROW} FROM read_parquet({quote_literal(str(path))}, "
            "file_row_number = true)"
        )
        return "__keel_entity", entity_df
    if isinstance(entity_df, (str, os.PathLike)):
        text = os.fspath(entity_df)
        if not Path(text).exists() and "://" not in text:
            raise FeatureRequestError(
                f"entity rows {text!r}: no such file; give a DataFrame, an Arrow table, a "
                "Parquet/CSV path or a DatasetVersion (keel.datasets.get('events/2'))"
            )
        if text.endswith((".csv", ".csv.gz", ".tsv")):
            reader = f"read_csv({quote_literal(text)})"
            con.execute(
                f"CREATE TEMP TABLE __keel_entity AS SELECT *, row_number() OVER () - 1 AS {_ROW} "
                f"FROM {reader}"
            )
        else:
            con.execute(
                "CREATE TEMP VIEW __keel_entity AS SELECT * EXCLUDE (file_row_number), "
                f"file_row_number AS {_ROW} FROM read_parquet({quote_literal(text)}, "
                "file_row_number = true)"
            )
        return "__keel_entity", None
    import pyarrow as pa

    from keel.data._errors import DatasetSourceError
    from keel.data._frames import to_arrow_table

    try:
        table = to_arrow_table(entity_df)
    except DatasetSourceError as exc:
        raise FeatureRequestError(f"entity rows: {exc}") from None
    if _ROW in table.column_names:
        raise FeatureRequestError(f"entity rows: the column name {_ROW!r} is keel's own; rename it")
    table = table.append_column(_ROW, pa.array(range(table.num_rows), type=pa.int64()))
    con.register("__keel_entity_arrow", table)
    con.execute("CREATE TEMP VIEW __keel_entity AS SELECT * FROM __keel_entity_arrow")
    return "__keel_entity", None


def _check_entity_columns(
    columns: Mapping[str, str], event_timestamp: str, requests: Sequence[ViewRequest]
) -> None:
    shown = ", ".join(c for c in columns if c != _ROW)
    if event_timestamp not in columns:
        raise FeatureRequestError(
            f"the entity rows have no event-time column {event_timestamp!r}; their columns are: "
            f"{shown}. Add it, or name yours with event_timestamp="
        )
    kind = columns[event_timestamp].upper()
    if not (kind.startswith(("TIMESTAMP", "DATE")) or kind == "VARCHAR"):
        raise FeatureRequestError(
            f"the entity rows' event-time column {event_timestamp!r} is {columns[event_timestamp]}, "
            "not a time; give timestamps, dates or ISO-8601 text"
        )
    for r in requests:
        missing = [k for k, _ in r.keys if k not in columns]
        if missing:
            raise FeatureRequestError(
                f"the entity rows have no join key {missing[0]!r}, which feature view "
                f"{r.view.name!r} needs (entities {', '.join(r.view.entities)}); their columns "
                f"are: {shown}"
            )
    taken = [c for r in requests for c in r.columns if c in columns]
    if taken:
        raise FeatureRequestError(
            f"the entity rows already have a column {taken[0]!r}, which a requested feature "
            "would be written to; rename it, or pass full_feature_names=True"
        )


def get_historical_features(
    entity_df: Any,
    features: Sequence[str] | FeatureService | str,
    *,
    event_timestamp: str = EVENT_TIMESTAMP,
    full_feature_names: bool = False,
    context: Context | None = None,
) -> HistoricalFeatures:
    """Join entity rows with feature values as they were at each row's event time.

    Args:
        entity_df: the entity rows: a pandas/polars DataFrame, an Arrow table, a DuckDB
            relation, a Parquet or CSV path, or a :class:`~keel.data.DatasetVersion`
            (recorded in the lineage). They hold every requested view's join keys and
            the event-time column.
        features: ``VIEW:FEATURE`` references (``VIEW:*``: all of a view), a
            :class:`FeatureService`, or a registered feature service's name.
        event_timestamp: the entity rows' event-time column.
        full_feature_names: name output columns ``VIEW__FEATURE`` (needed when two
            views have a feature of the same name).
        context: where the views are registered (:func:`keel.context.current_context`).

    Returns:
        A :class:`HistoricalFeatures`: every entity row, in order, with the feature
        columns added; ``report`` counts the nulls.

    Raises:
        FeatureNotFoundError: an unknown view, feature or service (lists what exists).
        FeatureRequestError: entity rows without the event-time column or a join key,
            or two features that would share a column, or a malformed reference.
        FeatureSourceError: a view's source lacks a declared column, or has times in
            mixed zones or that do not parse.

    Example::

        >>> events = pd.DataFrame({"customer_id": [1, 2],
        ...                        "event_timestamp": pd.to_datetime(["2024-05-01", "2024-05-02"])})
        >>> result = keel.features.get_historical_features(events, ["spend:amount_7d"])
        >>> result.to_pandas()
        >>> result.report.rows_without_value
        {'spend': 0}
    """
    from keel.data._duckdb import connect_duckdb
    from keel.features._sources import check_columns, check_text_times, resolve_source

    ctx = context or current_context()
    requests = resolve_request(features, full_feature_names=full_feature_names, context=ctx)
    tmp_root = ctx.settings.home.absolute() / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="features-", dir=tmp_root))
    owner = _Folder()
    cleanup = weakref.finalize(owner, shutil.rmtree, folder, ignore_errors=True)
    try:
        con = connect_duckdb(folder, memory_limit=MEMORY_LIMIT)
        try:
            con.execute("SET TimeZone = 'UTC'")
            entity, entity_dataset = _entity_relation(con, entity_df, ctx)
            columns = _columns(con, entity)
            _check_entity_columns(columns, event_timestamp, requests)
            if columns[event_timestamp].upper() == "VARCHAR":
                _check_entity_times(con, entity, event_timestamp)
            relations: list[str] = []
            resolved: list[ResolvedSource] = []
            fast = fast_path_available(requests)
            sources: list[DatasetVersion] = []
            per_view: dict[str, tuple[str, ...]] = {}
            for i, r in enumerate(requests):
                source = resolve_source(r.view, con, ctx)
                check_columns(r.view, r.entities, source.columns)
                what = f"the source of feature view {r.view.name!r} ({r.view.source.describe()})"
                for column in (r.view.timestamp, r.view.created_at):
                    if column is not None and source.columns[column].upper() == "VARCHAR":
                        check_text_times(con, source.relation, column, what)
                resolved.append(source)
                if not fast:
                    con.execute(f"CREATE TEMP VIEW __keel_v{i} AS {view_sql(r, source)}")
                    relations.append(f"__keel_v{i}")
                sources.extend(source.datasets)
                per_view[r.view.name] = tuple(d.id for d in source.datasets)
            out = folder / "features.parquet"
            if fast:
                with _duckdb_errors():
                    joined = join_frames(
                        con,
                        entity,
                        list(columns),
                        columns[event_timestamp],
                        event_timestamp,
                        requests,
                        resolved,
                    )
                    con.register("__keel_joined", joined)
                    del joined
                    con.execute(
                        f"COPY (SELECT * FROM __keel_joined) TO {quote_literal(str(out))} "
                        "(FORMAT parquet)"
                    )
                    con.unregister("__keel_joined")
            else:
                query = join_sql(
                    entity,
                    list(columns),
                    columns[event_timestamp],
                    event_timestamp,
                    requests,
                    relations,
                )
                _run(con, f"COPY ({query}) TO {quote_literal(str(out))} (FORMAT parquet)")
            report = _report(con, out, requests, entity_dataset, sources)
        finally:
            con.close()
    except BaseException:
        cleanup()
        raise
    result = HistoricalFeatures(
        path=out,
        report=report,
        requests=tuple(requests),
        entity_dataset=entity_dataset,
        source_datasets=tuple({d.id: d for d in sources}.values()),
        view_datasets=per_view,
        _cleanup=cleanup,
        _owner=owner,
    )
    return result


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    with _duckdb_errors():
        con.execute(sql)


@contextlib.contextmanager
def _duckdb_errors() -> Iterator[None]:
    """DuckDB's out-of-memory and conversion errors as keel errors."""
    import duckdb

    try:
        yield
    except duckdb.OutOfMemoryException:
        from keel.errors import ConfigError

        raise ConfigError(
            f"the point-in-time join needed more memory than DuckDB may use here "
            f"({MEMORY_LIMIT}, beyond what it could spill to disk); raise "
            "KEEL_FEATURES_MEMORY_LIMIT (e.g. 2GB), or request fewer rows or features at once"
        ) from None
    except duckdb.ConversionException as exc:
        first = str(exc).strip().splitlines()[0]
        raise FeatureRequestError(
            f"a join key of the entity rows (or of a view's source) does not convert to the "
            f"entity's declared type ({first}); give keys of the declared types"
        ) from None


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _check_entity_times(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> None:
    from keel.features._sources import check_text_times

    try:
        check_text_times(con, relation, column, "the entity rows")
    except FeatureSourceError as exc:
        raise FeatureRequestError(str(exc)) from None


def _report(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    requests: Sequence[ViewRequest],
    entity_dataset: DatasetVersion | None,
    sources: Sequence[DatasetVersion],
) -> RetrievalReport:
    parts = ["count(*)"]
    for r in requests:
        parts += [f"count(*) FILTER (WHERE {quote_ident(c)} IS NULL)" for c in r.columns]
        all_null = " AND ".join(f"{quote_ident(c)} IS NULL" for c in r.columns)
        parts.append(f"count(*) FILTER (WHERE {all_null})")
    row = con.execute(
        f"SELECT {', '.join(parts)} FROM read_parquet({quote_literal(str(path))})"
    ).fetchone()
    values = list(row or ())
    rows = int(values.pop(0))
    nulls: dict[str, int] = {}
    without: dict[str, int] = {}
    for r in requests:
        for c in r.columns:
            nulls[c] = int(values.pop(0))
        without[r.view.name] = int(values.pop(0))
    datasets = [d.reference for d in sources]
    if entity_dataset is not None:
        datasets.insert(0, entity_dataset.reference)
    return RetrievalReport(
        rows=rows,
        nulls=nulls,
        rows_without_value=without,
        views={r.view.name: r.definition.ref for r in requests},
        datasets=tuple(dict.fromkeys(datasets)),
    )
