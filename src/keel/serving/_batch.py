"""Batch scoring: ``keel predict NAME@ALIAS --input data.parquet --output scores.parquet``.

The input's schema is checked against the signature before any row is scored; rows are
then streamed in chunks (Parquet row groups or CSV blocks through pyarrow), scored by the
same runtime as the server (ONNX Runtime when possible) and appended to the output
Parquet file, so memory stays bounded by the chunk size, not the file. The output keeps
the input's key columns (every column the model does not read, unless named), is
registered as a dataset version, and lineage records input -> model version -> output.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidArgumentError
from keel.serving._errors import RequestError
from keel.serving._inputs import InputBatch

if TYPE_CHECKING:
    from keel.context import Context

__all__ = ["ScoringResult", "predict_file"]

_NUMERIC_ARROW = ("int", "uint", "float", "double", "bool", "decimal", "halffloat")


@dataclass(frozen=True)
class ScoringResult:
    """What :func:`predict_file` did.

    Attributes:
        output: the Parquet file written.
        rows: rows scored.
        model_version: the version that scored them (``iris/3``).
        runtime: ``onnx`` or ``native``.
        dataset: the registered output dataset version (``None`` when not registered).
        seconds: wall time.
    """

    output: Path
    rows: int
    model_version: str
    runtime: str
    dataset: Any
    seconds: float


def _source(input: str | Path, context: Context) -> tuple[Path, str, Any]:
    """(local file, format, lineage node) of a file path or a dataset reference."""
    from keel.store import LineageNode

    path = Path(input)
    if path.exists():
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".parquet", ".pq"):
            raise InvalidArgumentError(
                f"input {str(input)!r} is a {suffix or 'suffix-less'} file; keel predict reads "
                ".csv and .parquet files, or a dataset reference (name, name/3)"
            )
        fmt = "csv" if suffix == ".csv" else "parquet"
        return path, fmt, LineageNode("source", str(path.absolute()), path.name)
    if any(ch in str(input) for ch in "\\") or str(input).endswith((".csv", ".parquet")):
        raise InvalidArgumentError(f"input file {str(input)!r} does not exist")
    from keel.data import get

    dataset = get(str(input), context=context)
    return dataset.local_path(), "parquet", dataset.lineage_node()


def _check_schema(arrow_schema: Any, schema: Any, where: str) -> None:
    present = {f.name: f for f in arrow_schema}
    missing = [n for n in schema.names if n not in present]
    if missing:
        raise InvalidArgumentError(
            f"{where} lacks the model's input column(s) {', '.join(repr(m) for m in missing)}; "
            f"the model reads: {', '.join(schema.names)}"
        )
    wrong = []
    for name, kind in zip(schema.names, schema.types, strict=True):
        arrow_type = str(present[name].type)
        numeric = arrow_type.startswith(_NUMERIC_ARROW)
        if kind in ("double", "float", "long", "integer", "boolean", "unknown") and not numeric:
            wrong.append(f"{name!r} is {arrow_type}, expected a number ({kind})")
        elif kind in ("string", "category") and not (
            arrow_type in ("string", "large_string") or arrow_type.startswith("dictionary")
        ):
            wrong.append(f"{name!r} is {arrow_type}, expected text ({kind})")
    if wrong:
        raise InvalidArgumentError(
            f"{where} does not match the model's signature: {'; '.join(wrong)}"
        )


def _batches(path: Path, fmt: str, chunk_rows: int) -> tuple[Any, Any, int | None]:
    """(arrow schema, iterator of record batches, total rows if known)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        return pf.schema_arrow, pf.iter_batches(batch_size=chunk_rows), pf.metadata.num_rows
    import pyarrow.csv as pcsv

    reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=8 * 1024 * 1024))
    return reader.schema, iter(reader), None


def _to_input(record_batch: Any, schema: Any, offset: int, allow_missing: bool) -> InputBatch:
    import numpy as np

    n = record_batch.num_rows
    if schema.numeric:
        cols = []
        for name in schema.names:
            column = record_batch.column(name)
            values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            if not allow_missing and column.null_count:
                row = int(np.nonzero(np.isnan(values))[0][0]) + offset
                raise RequestError(
                    400,
                    f"row {row} has no value in column {name!r}; the signature does not allow "
                    "missing values (pass allow_missing=True to score them anyway)",
                    field=name,
                )
            cols.append(values)
        return InputBatch(n, matrix=np.column_stack(cols) if cols else np.empty((n, 0)))
    return InputBatch(
        n, columns={name: record_batch.column(name).to_pylist() for name in schema.names}
    )


def predict_file(
    model: str,
    input: str | Path,
    output: str | Path,
    *,
    key_columns: list[str] | None = None,
    proba: bool = False,
    chunk_rows: int = 65_536,
    register_as: str | None = None,
    register: bool = True,
    allow_missing: bool = False,
    runtime: str = "auto",
    progress: bool | None = None,
    context: Context | None = None,
) -> ScoringResult:
    """Score a CSV/Parquet file or a dataset with a registered model, in bounded memory.

    Args:
        model: ``iris@champion`` or ``iris/3``.
        input: a ``.csv``/``.parquet`` path, or a dataset reference (``iris``, ``iris/2``).
        output: the Parquet file to write (replaced atomically at the end).
        key_columns: input columns copied to the output (default: every column the
            model does not read).
        proba: add one ``proba_<class>`` column per class.
        chunk_rows: rows scored at a time (bounds memory).
        register_as: the dataset name the output is registered under (default
            ``<model>-predictions``).
        register: register the output as a dataset version with lineage.
        allow_missing: score rows with missing values (else refused, naming the row).
        runtime: ``auto``, ``onnx`` or ``native``.
        progress: show a progress bar (default: when stderr is a terminal, or KEEL_PROGRESS).
        context: the store and artifact root of the model, the input dataset and the
            output (:func:`keel.context.current_context` by default).

    Raises:
        InvalidArgumentError: the input lacks a model column, a type does not match,
            or a key column does not exist (checked before any row is scored).

    Example::

        >>> keel.serving.predict_file("iris@champion", "new.parquet", "scores.parquet").rows
        1000000
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from keel.serving._models import load_served_model
    from keel.serving._spec import endpoint_from_ref

    if context is None:
        from keel.context import current_context

        context = current_context()
    started = time.perf_counter()
    spec = endpoint_from_ref(
        model, limits={"max_rows": max(1, chunk_rows)}, allow_missing=allow_missing
    )
    path, fmt, source_node = _source(input, context)
    served = load_served_model(model, spec, context=context, runtime=runtime)
    schema = served.schema
    arrow_schema, batches, total = _batches(path, fmt, chunk_rows)
    _check_schema(arrow_schema, schema, f"input {str(input)!r}")
    names = [f.name for f in arrow_schema]
    if key_columns is None:
        keys = [n for n in names if n not in schema.index]
    else:
        unknown = [k for k in key_columns if k not in names]
        if unknown:
            raise InvalidArgumentError(
                f"key column(s) {', '.join(map(repr, unknown))} are not in the input; its "
                f"columns are: {', '.join(names)}"
            )
        keys = list(key_columns)
    classes = served.runtime.classes if proba and served.runtime.has_proba else None
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    writer = None
    rows = 0
    bar = _progress(progress, context, total, f"scoring with {served.uri}")
    try:
        for record_batch in batches:
            if record_batch.num_rows == 0:
                continue
            try:
                batch = _to_input(record_batch, schema, rows, allow_missing)
            except RequestError as exc:
                raise InvalidArgumentError(f"input {str(input)!r}: {exc.message}") from None
            prediction = served.runtime.predict(batch, proba=classes is not None)
            columns = {k: record_batch.column(k) for k in keys}
            labels = prediction.labels
            columns["prediction"] = pa.array(
                labels.tolist() if labels.dtype.kind == "O" else labels
            )
            if classes is not None:
                for j, c in enumerate(classes):
                    columns[f"proba_{c}"] = pa.array(prediction.proba[:, j])
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            rows += record_batch.num_rows
            bar.advance(record_batch.num_rows)
        if writer is None:
            raise InvalidArgumentError(f"input {str(input)!r} has no rows to score")
        writer.close()
        writer = None
        tmp.replace(out)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    dataset = None
    if register:
        dataset = _register(
            out, register_as or f"{served.version.name}-predictions", served, source_node, context
        )
    return ScoringResult(
        out, rows, served.uri, served.runtime.kind, dataset, time.perf_counter() - started
    )


def _register(out: Path, name: str, served: Any, source_node: Any, context: Context) -> Any:
    from keel.data import register
    from keel.store import LineageEdge

    dataset = register(
        str(out),
        name.lower(),
        description=f"predictions of {served.uri}",
        tags={"model_version": served.uri},
        context=context,
    )
    model_node = served.version.lineage_node()
    context.store.lineage.add_edges(
        [
            LineageEdge(source_node, model_node, "scored_by"),
            LineageEdge(model_node, dataset.lineage_node(), "predicted"),
        ]
    )
    return dataset


class _Bar:
    def __init__(self, progress: Any, task: Any) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _progress(choice: bool | None, context: Context, total: int | None, label: str) -> _Bar:
    from keel._terminal import terminal_output

    if not terminal_output(choice, context.settings.progress).live:
        return _Bar(None, None)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    progress.start()
    return _Bar(progress, progress.add_task(label, total=total))
