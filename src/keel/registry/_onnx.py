"""ONNX export, kept only when onnxruntime reproduces the model on its input example.

Converters: skl2onnx for scikit-learn (probabilities as arrays, no ZipMap), onnxmltools
for XGBoost and LightGBM when it is installed, ``torch.onnx`` for torch modules. The
parity check runs the exported graph with onnxruntime on the input example and
records the largest absolute difference from the original model's output.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

__all__ = ["DEFAULT_TOLERANCE", "export_onnx", "onnx_session"]

#: largest absolute difference at which an ONNX export is kept
DEFAULT_TOLERANCE = 1e-4


def onnx_session(data: bytes) -> Any:
    """An onnxruntime session on CPU for ONNX bytes."""
    import onnxruntime as ort  # type: ignore[import-untyped,import-not-found,unused-ignore]

    if hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _float_matrix(example: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(example, pd.DataFrame):
        non_numeric = [str(c) for c, t in example.dtypes.items() if t.kind not in "biuf"]
        if non_numeric:
            raise ValueError(
                f"non-numeric input columns ({', '.join(non_numeric)}) are not exported to ONNX"
            )
        return example.to_numpy(dtype=np.float32)
    return np.asarray(example, dtype=np.float32)


def _sklearn_onnx(model: Any, n_features: int) -> bytes:
    from skl2onnx import convert_sklearn  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from skl2onnx.common.data_types import FloatTensorType  # type: ignore[import-untyped,import-not-found,unused-ignore]

    candidates = [model]
    steps = getattr(model, "steps", None)
    if steps:
        candidates.append(steps[-1][1])
    options = {id(m): {"zipmap": False} for m in candidates if hasattr(m, "predict_proba")}
    onx = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, n_features]))],
        options=options or None,
    )
    return bytes(onx.SerializeToString())


def _boosting_onnx(model: Any, flavor: str, n_features: int) -> bytes:
    import onnxmltools  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from onnxmltools.convert.common.data_types import FloatTensorType  # type: ignore[import-untyped,import-not-found,unused-ignore]

    types = [("input", FloatTensorType([None, n_features]))]
    if flavor == "xgboost":
        onx = onnxmltools.convert_xgboost(model, initial_types=types)
    else:
        onx = onnxmltools.convert_lightgbm(model, initial_types=types, zipmap=False)
    return bytes(onx.SerializeToString())


def _torch_onnx(model: Any, x32: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    sample = torch.from_numpy(x32[:1])
    try:
        import onnxscript  # type: ignore[import-not-found,unused-ignore]  # noqa: F401

        dynamo = True
    except ImportError:
        dynamo = False
    kwargs: dict[str, Any] = {"input_names": ["input"], "output_names": ["output"]}
    if dynamo:
        kwargs["dynamic_shapes"] = ({0: torch.export.Dim("batch")},)
        kwargs["external_data"] = False
    else:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    torch.onnx.export(model, (sample,), buf, dynamo=dynamo, **kwargs)  # type: ignore[arg-type]
    return buf.getvalue()


def _reference(model: Any, flavor: str, example: Any, x32: Any) -> tuple[Any, Any]:
    """The original model's (labels or None, scores) on the example."""
    import numpy as np

    if flavor == "torch":
        import torch

        with torch.no_grad():
            return None, model(torch.from_numpy(x32)).numpy()
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict(example)), np.asarray(model.predict_proba(example))
    return None, np.asarray(model.predict(example), dtype=np.float64)


def export_onnx(
    model: Any, flavor: str, example: Any, tolerance: float = DEFAULT_TOLERANCE
) -> tuple[bytes | None, dict[str, Any]]:
    """Export to ONNX and check parity on ``example``.

    Returns:
        The ONNX bytes (``None`` when not kept) and a record: ``kept``, ``converter``,
        ``max_abs_diff``, ``labels_equal``, ``tolerance``, ``rows`` or ``reason``.
    """
    import numpy as np

    if example is None:
        return None, {"kept": False, "reason": "no input example to check parity on"}
    converter = {
        "sklearn": "skl2onnx",
        "xgboost": "onnxmltools",
        "lightgbm": "onnxmltools",
        "torch": "torch.onnx",
    }.get(flavor)
    if converter is None:
        return None, {"kept": False, "reason": f"no ONNX converter for {flavor} models"}
    record: dict[str, Any] = {"converter": converter, "tolerance": tolerance}
    try:
        x32 = _float_matrix(example)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if flavor == "sklearn":
                data = _sklearn_onnx(model, x32.shape[1])
            elif flavor == "torch":
                data = _torch_onnx(model, x32)
            else:
                data = _boosting_onnx(model, flavor, x32.shape[1])
            outputs = onnx_session(data).run(None, {"input": x32})
            labels, scores = _reference(model, flavor, example, x32)
    except ImportError as exc:
        return None, {**record, "kept": False, "reason": f"{exc.name or exc} is not installed"}
    except Exception as exc:
        return None, {
            **record,
            "kept": False,
            "reason": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
        }
    if labels is not None and len(outputs) >= 2:
        onnx_labels, onnx_scores = np.asarray(outputs[0]), np.asarray(outputs[1])
        labels_equal = bool(
            np.array_equal(onnx_labels.ravel().astype(str), labels.ravel().astype(str))
        )
    else:
        onnx_scores, labels_equal = np.asarray(outputs[0]), True
    scores = np.asarray(scores, dtype=np.float64).reshape(len(x32), -1)
    onnx_scores = np.asarray(onnx_scores, dtype=np.float64).reshape(len(x32), -1)
    if scores.shape != onnx_scores.shape:
        return None, {
            **record,
            "kept": False,
            "reason": f"ONNX output shape {onnx_scores.shape} differs from {scores.shape}",
        }
    diff = float(np.max(np.abs(scores - onnx_scores))) if scores.size else 0.0
    record.update({"max_abs_diff": diff, "labels_equal": labels_equal, "rows": len(x32)})
    if not labels_equal or diff > tolerance:
        record.update(
            {
                "kept": False,
                "reason": (
                    f"parity check failed: max abs difference {diff:.3g} (tolerance {tolerance:g}), "
                    f"labels {'equal' if labels_equal else 'differ'}"
                ),
            }
        )
        return None, record
    record["kept"] = True
    record["file"] = "model.onnx"
    return data, record
