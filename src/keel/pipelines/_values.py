"""How step outputs are stored and handed to the steps that use them.

Safe formats only, by default:

- tables (pandas, polars, Arrow) become dataset versions (:func:`keel.data.register`);
  a returned ``DatasetVersion`` is recorded as is;
- numpy arrays become ``.npy`` bytes (``allow_pickle=False``);
- JSON values (dicts with text keys, lists, text, numbers, booleans, ``None``) become
  canonical JSON;
- anything else is refused unless the step opted in with ``allow_pickle=True``.

Bytes go into the content-addressed artifact store, so the sha256 that names them is
also their content hash in downstream cache keys.
"""

from __future__ import annotations

import io
import json
import sys
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidArgumentError
from keel.store import StepOutput

if TYPE_CHECKING:
    from keel.context import Context

__all__ = ["StepOutputError", "load_value", "output_is_available", "store_value"]


class StepOutputError(InvalidArgumentError):
    """A step returned something keel cannot store (safely)."""

    code = "STEP_OUTPUT_INVALID"
    http_status = 400


def _loaded(module: str) -> Any:
    return sys.modules.get(module)


def _table_type(value: Any) -> str | None:
    pd = _loaded("pandas")
    if pd is not None and isinstance(value, pd.DataFrame):
        return "pandas"
    pl = _loaded("polars")
    if pl is not None and isinstance(value, pl.DataFrame):
        return "polars"
    pa = _loaded("pyarrow")
    if pa is not None and isinstance(value, pa.Table):
        return "arrow"
    return None


def _is_dataset_version(value: Any) -> bool:
    data = _loaded("keel.data")
    cls = getattr(data, "DatasetVersion", None) if data is not None else None
    return cls is not None and isinstance(value, cls)


def _check_json(value: Any, where: str) -> Any:
    """A copy of ``value`` with numpy scalars made plain, or an error naming the bad part."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    np = _loaded("numpy")
    if np is not None and isinstance(value, np.generic) and np.ndim(value) == 0:
        item = value.item()
        if isinstance(item, bool | int | float | str):
            return item
    if isinstance(value, list | tuple):
        return [_check_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise StepOutputError(
                    f"{where} has the key {k!r} ({type(k).__name__}); JSON keys are text — "
                    "use str keys"
                )
            out[k] = _check_json(v, f"{where}[{k!r}]")
        return out
    raise _unsupported(value, where)


def _unsupported(value: Any, where: str) -> StepOutputError:
    hint = ""
    pd = _loaded("pandas")
    if pd is not None and isinstance(value, pd.Series):
        hint = " (return series.to_frame() to store a Series as a table)"
    return StepOutputError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}{hint}; keel stores "
        "tables (pandas, polars, Arrow), numpy arrays and JSON values safely. Return one of "
        "those, or opt in to pickle with @keel.step(allow_pickle=True)"
    )


def _put(context: Context, data: bytes, kind: str, name: str, label: str, py: str) -> StepOutput:
    obj = context.artifacts.put_bytes(data)
    return StepOutput(name, kind, obj.sha256, obj.sha256, label, py)


def store_value(
    value: Any,
    *,
    output_name: str,
    dataset_name: str,
    label: str,
    allow_pickle: bool,
    context: Context,
) -> StepOutput:
    """Store one output value and describe it.

    Args:
        value: what the step returned (or one of its named outputs).
        output_name: the output's name (``return`` for a single output).
        dataset_name: the dataset name tables are registered under.
        label: a human label for stored bytes (``pipeline.step.output``).
        allow_pickle: whether the step opted in to pickle.
        context: where to store it.

    Raises:
        StepOutputError: the value cannot be stored safely and pickle is not allowed.
    """
    where = f"output {label!r}"
    if value is None:
        return StepOutput(output_name, "none", "", "none", label, "none")
    if _is_dataset_version(value):
        node = value.lineage_node()
        return StepOutput(
            output_name,
            "dataset",
            node.id,
            str(value.content_hash),
            value.reference,
            "dataset_version",
        )
    table = _table_type(value)
    if table is not None:
        from keel.data import register

        dv = register(value, dataset_name, context=context)
        node = dv.lineage_node()
        return StepOutput(
            output_name, "dataset", node.id, str(dv.content_hash), dv.reference, table
        )
    np = _loaded("numpy")
    if np is not None and isinstance(value, np.ndarray):
        buf = io.BytesIO()
        try:
            np.save(buf, value, allow_pickle=False)
        except ValueError:
            if not allow_pickle:
                raise StepOutputError(
                    f"{where} is a numpy array of dtype {value.dtype}, which needs pickle; "
                    "use a numeric or string dtype, or opt in with @keel.step(allow_pickle=True)"
                ) from None
        else:
            return _put(context, buf.getvalue(), "npy", output_name, label, "numpy")
    try:
        plain = _check_json(value, where)
    except StepOutputError:
        if not allow_pickle:
            raise
    else:
        text = json.dumps(plain, sort_keys=True, separators=(",", ":"), allow_nan=True)
        return _put(context, text.encode(), "json", output_name, label, "json")
    import pickle

    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _put(context, data, "pickle", output_name, label, type(value).__qualname__)


def _want_table(annotation: Any) -> str | None:
    """Which table type a parameter annotation asks for (``None``: no preference)."""
    if annotation is None:
        return None
    text = (
        annotation
        if isinstance(annotation, str)
        else (f"{getattr(annotation, '__module__', '')}.{getattr(annotation, '__qualname__', '')}")
    )
    if "DatasetVersion" in text:
        return "dataset_version"
    if "polars" in text or text.startswith("pl."):
        return "polars"
    if "pyarrow" in text or text.startswith("pa.") or text.endswith(".Table"):
        return "arrow"
    if "pandas" in text or text.startswith("pd."):
        return "pandas"
    return None


def load_value(out: StepOutput, context: Context, annotation: Any = None) -> Any:
    """The value of a stored output, as the consuming parameter's annotation asks.

    Tables come back as the annotated type (``pd.DataFrame``, ``pl.DataFrame``,
    ``pa.Table`` or ``DatasetVersion``), else as the type the producing step returned.
    """
    if out.kind == "none":
        return None
    if out.kind == "dataset":
        from keel.data import get_by_id

        dv = get_by_id(out.ref, context=context)
        want = _want_table(annotation) or out.python_type
        if want == "dataset_version":
            return dv
        if want == "polars":
            import polars as pl

            return pl.from_arrow(dv.to_arrow())
        if want == "arrow":
            return dv.to_arrow()
        return dv.to_pandas()
    data = context.artifacts.get_bytes(out.ref, name=out.label or out.name)
    if out.kind == "json":
        return json.loads(data)
    if out.kind == "npy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if out.kind == "pickle":
        # Only a step that opted in with allow_pickle=True can have written these bytes,
        # and get_bytes verified them against the sha256 recorded when they were written.
        # Unpickling can run code, so every load is recorded in the audit chain first.
        import pickle

        from keel.store import AuditEntry

        context.store.governance.append(
            AuditEntry(
                actor=context.actor,
                action="step_output.load_pickle",
                object_type="step_output",
                object_id=out.label or out.name,
                before=None,
                after={"sha256": out.ref},
                reason="the producing step opted in with allow_pickle=True",
            )
        )
        return pickle.loads(data)  # noqa: S301
    raise InvalidArgumentError(f"output {out.label!r} has an unknown kind {out.kind!r}")


def output_is_available(out: StepOutput, context: Context) -> bool:
    """Whether a stored output can still be read (a cache hit needs all of them)."""
    if out.kind == "none":
        return True
    if out.kind == "dataset":
        from keel.data import get_by_id
        from keel.errors import KeelError

        try:
            get_by_id(out.ref, context=context)
        except KeelError:
            return False
        return True
    return context.artifacts.exists(out.ref)


def content_hash_of(outputs: list[StepOutput]) -> str:
    """One hash for several outputs (a whole multi-output step used as one input)."""
    import hashlib

    text = ";".join(f"{o.name}={o.content_hash}" for o in sorted(outputs, key=lambda o: o.name))
    return hashlib.sha256(text.encode()).hexdigest()
