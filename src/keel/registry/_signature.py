"""Signatures (input columns with types, output type and classes) and input examples."""

from __future__ import annotations

import json
from typing import Any

from keel.errors import InvalidArgumentError

__all__ = ["example_to_frame", "example_to_json", "infer_signature"]

_MAX_EXAMPLE_ROWS = 20


def _type_name(dtype: Any) -> str:
    kind = getattr(dtype, "kind", "O")
    name = str(dtype)
    if name == "category":
        return "category"
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "long" if getattr(dtype, "itemsize", 8) >= 8 else "integer"
    if kind == "f":
        return "double" if getattr(dtype, "itemsize", 8) >= 8 else "float"
    if kind == "M":
        return "datetime"
    return "string"


def _as_frame(data: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if hasattr(data, "to_pandas"):  # polars, pyarrow
        return data.to_pandas()
    arr = np.asarray(data)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise InvalidArgumentError(
            f"model input has {arr.ndim} dimensions; signatures are inferred from tables "
            "(a DataFrame or a 2-D array)"
        )
    return pd.DataFrame(arr, columns=[f"f{i}" for i in range(arr.shape[1])])


def infer_signature(model_input: Any, model: Any = None) -> dict[str, Any]:
    """Infer a signature from training data or an input example (and the fitted model).

    Args:
        model_input: a DataFrame, array or polars frame the model predicts on.
        model: the fitted model; gives the output type and classes.

    Returns:
        ``{"inputs": [{"name", "type"}...], "input_kind": "dataframe"|"array",
        "outputs": {"type", "dtype", "classes"}}``.

    Example::

        >>> infer_signature(X_train, model)["outputs"]["classes"]
        ['setosa', 'versicolor', 'virginica']
    """
    import pandas as pd

    frame = _as_frame(model_input)
    inputs = [{"name": str(c), "type": _type_name(frame[c].dtype)} for c in frame.columns]
    outputs: dict[str, Any] = {"type": "unknown"}
    classes = getattr(model, "classes_", None) if model is not None else None
    if classes is not None:
        values = [c.item() if hasattr(c, "item") else c for c in classes]
        outputs = {
            "type": "label",
            "dtype": _type_name(getattr(classes, "dtype", None)),
            "classes": values,
            "probabilities": hasattr(model, "predict_proba"),
        }
    elif model is not None and hasattr(model, "predict"):
        outputs = {"type": "value", "dtype": "double"}
    return {
        "inputs": inputs,
        "input_kind": "dataframe" if isinstance(model_input, pd.DataFrame) else "array",
        "outputs": outputs,
    }


def example_to_json(example: Any) -> dict[str, Any]:
    """An input example as JSON data: ``{"columns", "data", "dtypes"}`` (first 20 rows)."""
    import pandas as pd

    frame = _as_frame(example).head(_MAX_EXAMPLE_ROWS)
    return {
        "columns": [str(c) for c in frame.columns],
        "data": json.loads(frame.to_json(orient="values", date_format="iso")),
        "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
        "kind": "dataframe" if isinstance(example, pd.DataFrame) else "array",
    }


def example_to_frame(data: dict[str, Any]) -> Any:
    """Rebuild the input example (a DataFrame, or an array when it was logged as one)."""
    import numpy as np
    import pandas as pd

    rows = data.get("data", [])
    if "columns" not in data:  # written by keel.sklearn.log_model from an array
        return np.asarray(rows)
    frame = pd.DataFrame(rows, columns=data["columns"])
    for col, dtype in (data.get("dtypes") or {}).items():
        try:
            frame[col] = frame[col].astype(dtype)
        except (TypeError, ValueError):
            continue
    if data.get("kind") == "array":
        return frame.to_numpy()
    return frame
