"""Safe model formats: skops for scikit-learn-API models, XGBoost JSON, LightGBM text,
torch state dicts (with the module's import path and constructor arguments), and
pickle only on explicit request.

Each flavor turns a model into one file's bytes plus descriptor fields, and back.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
from dataclasses import dataclass, field
from typing import Any

from keel.errors import InvalidArgumentError, MissingExtraError

__all__ = [
    "FORMATS",
    "LightGBMModel",
    "SavedModel",
    "UnsafeFormatError",
    "deserialize",
    "detect_flavor",
    "serialize",
]

#: format -> flavor
FORMATS: dict[str, str] = {
    "skops": "sklearn",
    "xgboost_json": "xgboost",
    "lightgbm_txt": "lightgbm",
    "torch_state_dict": "torch",
    "keel_torch": "torch",  # a keel.torch estimator, logged by keel.torch.log_model
    "pickle": "pickle",
}


class UnsafeFormatError(InvalidArgumentError):
    """Loading the model would run arbitrary code (pickle) and was not allowed."""

    code = "UNSAFE_FORMAT"
    http_status = 400


@dataclass(frozen=True, slots=True)
class SavedModel:
    """A model as bytes: its flavor, format, file name and descriptor fields."""

    flavor: str
    format: str
    file: str
    data: bytes
    fields: dict[str, Any] = field(default_factory=dict)


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _module_root(obj: Any) -> str:
    return type(obj).__module__.split(".", 1)[0]


def _is_torch_module(obj: Any) -> bool:
    return any(
        c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__
    )


def detect_flavor(model: Any) -> str:
    """The flavor keel saves ``model`` as: xgboost, lightgbm, torch or sklearn.

    Raises:
        InvalidArgumentError: the model is none of those (suggests ``format="pickle"``).
    """
    root = _module_root(model)
    if root == "xgboost":
        return "xgboost"
    if root == "lightgbm":
        return "lightgbm"
    if _is_torch_module(model):
        return "torch"
    if hasattr(model, "predict") and hasattr(model, "get_params"):
        return "sklearn"
    raise InvalidArgumentError(
        f"cannot tell how to save a {_class_path(model)}: keel saves scikit-learn-API "
        "estimators (skops), XGBoost and LightGBM models (native formats) and torch modules "
        "(state dict); for anything else pass format='pickle' (loading it will need "
        "allow_pickle=True)"
    )


def _import_class(path: str, allowed_roots: tuple[str, ...] | None) -> Any:
    module, _, name = path.rpartition(".")
    if allowed_roots is not None and module.split(".", 1)[0] not in allowed_roots:
        raise InvalidArgumentError(
            f"model class {path!r} is not from {', '.join(allowed_roots)}; the descriptor was "
            "changed or the model was logged wrongly — log it again"
        )
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as exc:
        raise InvalidArgumentError(
            f"cannot import {module!r} to rebuild {path!r}: {exc}; install it or put it on "
            "PYTHONPATH"
        ) from None
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise InvalidArgumentError(f"{module!r} has no class {name!r} (needed by the model)")
    return obj


# -- serialise ------------------------------------------------------------------------


def _torch_init_kwargs(module: Any, given: dict[str, Any] | None) -> dict[str, Any]:
    if given is not None:
        kwargs = dict(given)
    else:
        kwargs = {}
        missing = []
        params = inspect.signature(type(module).__init__).parameters
        for pname, param in list(params.items())[1:]:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if hasattr(module, pname):
                kwargs[pname] = getattr(module, pname)
            elif param.default is param.empty:
                missing.append(pname)
        if missing:
            raise InvalidArgumentError(
                f"cannot tell the constructor arguments {', '.join(missing)} of "
                f"{_class_path(module)}: keep them as attributes of the module or pass "
                "init_kwargs={...} to log_model"
            )
    try:
        json.dumps(kwargs)
    except TypeError as exc:
        raise InvalidArgumentError(
            f"constructor arguments of {_class_path(module)} must be JSON values ({exc}); "
            "pass init_kwargs={...} with plain values"
        ) from None
    return kwargs


def serialize(
    model: Any,
    format: str | None = None,
    init_kwargs: dict[str, Any] | None = None,
) -> SavedModel:
    """Turn a fitted model into bytes in a safe format (or pickle when asked).

    Raises:
        InvalidArgumentError: the model cannot be saved in the requested format.
    """
    if format is not None and format not in FORMATS:
        raise InvalidArgumentError(
            f"model format {format!r} is unknown; formats are: {', '.join(FORMATS)}"
        )
    flavor = FORMATS[format] if format else detect_flavor(model)
    fields: dict[str, Any] = {"estimator_class": _class_path(model)}
    classes = getattr(model, "classes_", None)
    if classes is not None and flavor != "torch":
        fields["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    if flavor == "pickle":
        import pickle

        return SavedModel("pickle", "pickle", "model.pkl", pickle.dumps(model, protocol=5), fields)
    if flavor == "sklearn":
        from keel.sklearn import dump_skops

        data, trusted = dump_skops(model)
        return SavedModel(
            "sklearn", "skops", "model.skops", data, {**fields, "trusted_types": trusted}
        )
    if flavor == "xgboost":
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.json"
            model.save_model(str(path))
            return SavedModel("xgboost", "xgboost_json", "model.json", path.read_bytes(), fields)
    if flavor == "lightgbm":
        booster = getattr(model, "booster_", model)
        text = booster.model_to_string()
        task = "classification" if classes is not None else "regression"
        return SavedModel(
            "lightgbm", "lightgbm_txt", "model.txt", text.encode("utf-8"), {**fields, "task": task}
        )
    if flavor == "torch":
        import torch

        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        return SavedModel(
            "torch",
            "torch_state_dict",
            "model.pt",
            buf.getvalue(),
            {**fields, "init_kwargs": _torch_init_kwargs(model, init_kwargs)},
        )
    raise AssertionError(flavor)  # pragma: no cover - FORMATS covers every flavor


# -- deserialise ----------------------------------------------------------------------


class LightGBMModel:
    """A LightGBM booster loaded from its text format, with ``predict``/``predict_proba``.

    Attributes:
        booster: the ``lightgbm.Booster``.
        classes_: the class labels (classifiers only).
    """

    def __init__(self, booster: Any, classes: list[Any] | None) -> None:
        import numpy as np

        self.booster = booster
        self.classes_ = None if classes is None else np.asarray(classes)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, one column per class."""
        import numpy as np

        raw = np.asarray(self.booster.predict(X))
        if raw.ndim == 1:
            raw = np.column_stack([1.0 - raw, raw])
        return raw

    def predict(self, X: Any) -> Any:
        """Labels for classifiers, values for regressors."""
        import numpy as np

        if self.classes_ is None:
            return np.asarray(self.booster.predict(X))
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def deserialize(
    descriptor: dict[str, Any], data: bytes, *, allow_pickle: bool = False, what: str = "the model"
) -> Any:
    """Rebuild a model from its verified bytes and descriptor.

    Raises:
        UnsafeFormatError: the model is a pickle and ``allow_pickle`` is false.
    """
    fmt = descriptor.get("format")
    if fmt == "skops":
        from keel.sklearn import load_skops

        return load_skops(data, list(descriptor.get("trusted_types", [])))
    if fmt == "pickle":
        if not allow_pickle:
            raise UnsafeFormatError(
                f"{what} is stored as a pickle, which can run arbitrary code when loaded; "
                "pass allow_pickle=True only if you trust whoever logged it (the load is audited)"
            )
        import pickle

        return pickle.loads(data)  # noqa: S301 - explicit, audited opt-in
    if fmt == "xgboost_json":
        import tempfile
        from pathlib import Path

        cls = _import_class(descriptor["estimator_class"], ("xgboost",))
        model = cls()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.json"
            path.write_bytes(data)
            model.load_model(str(path))
        return model
    if fmt == "lightgbm_txt":
        try:
            import lightgbm
        except ImportError as exc:
            raise MissingExtraError.for_extra("lightgbm", "lightgbm") from exc
        booster = lightgbm.Booster(model_str=data.decode("utf-8"))
        classes = descriptor.get("classes") if descriptor.get("task") == "classification" else None
        return LightGBMModel(booster, classes)
    if fmt == "keel_torch":
        try:
            from keel.torch._persist import estimator_from_state
        except ImportError as exc:  # pragma: no cover - keel.torch imports torch lazily
            raise MissingExtraError.for_extra("torch", "torch") from exc
        return estimator_from_state(descriptor, data)
    if fmt == "torch_state_dict":
        try:
            import torch
        except ImportError as exc:
            raise MissingExtraError.for_extra("torch", "torch") from exc
        cls = _import_class(descriptor["estimator_class"], None)
        module = cls(**descriptor.get("init_kwargs", {}))
        state = torch.load(io.BytesIO(data), weights_only=True)
        module.load_state_dict(state)
        module.eval()
        return module
    raise InvalidArgumentError(
        f"{what} has format {fmt!r}, which keel cannot load; formats are: {', '.join(FORMATS)}"
    )
