"""Safe model formats: a registry of how each format saves a model and loads it back.

Built in: XGBoost JSON, LightGBM text, torch state dicts (with the module's import path
and constructor arguments), and pickle only on explicit request. The integrations add
their own with :func:`register_format`: ``keel.sklearn`` registers ``skops`` (for
scikit-learn-API estimators) and ``keel.torch`` registers ``keel_torch`` (its
estimators, scaling included). The registry does not import the integrations: it knows
the name of the module that registers each of their formats (:data:`_INTEGRATION_FORMATS`)
and imports it the first time the format is needed, so the integrations depend on the
registry and never the other way round.

Each format turns a model into one file's bytes plus descriptor fields, and back.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keel.errors import InvalidArgumentError, MissingExtraError

__all__ = [
    "FORMATS",
    "LightGBMModel",
    "ModelFormat",
    "SavedModel",
    "UnsafeFormatError",
    "deserialize",
    "detect_flavor",
    "get_format",
    "register_format",
    "serialize",
]

#: format -> flavor, of the formats keel knows without any registration
FORMATS: dict[str, str] = {
    "skops": "sklearn",
    "xgboost_json": "xgboost",
    "lightgbm_txt": "lightgbm",
    "torch_state_dict": "torch",
    "keel_torch": "torch",  # a keel.torch estimator, logged by keel.torch.log_model
    "pickle": "pickle",
}

#: format -> the module that registers it (imported by name on first need; see above)
_INTEGRATION_FORMATS: dict[str, str] = {
    "skops": "keel.sklearn._formats",
    "keel_torch": "keel.torch._formats",
}

#: flavor -> the format a model of that flavor is saved in by default
_DEFAULT_FORMAT: dict[str, str] = {
    "sklearn": "skops",
    "xgboost": "xgboost_json",
    "lightgbm": "lightgbm_txt",
    "torch": "torch_state_dict",
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


@dataclass(frozen=True, slots=True)
class ModelFormat:
    """How one format saves a model and loads it back.

    Attributes:
        name: the format's name, recorded in the descriptor (``"skops"``).
        flavor: the kind of model (``"sklearn"``, ``"torch"``, ...).
        load: ``(descriptor, verified bytes) -> model``.
        save: ``(model, options) -> SavedModel``; ``None`` for a format written by its
            integration's own ``log_model`` (``keel_torch``). ``options`` holds
            ``init_kwargs`` (a torch module's constructor arguments) when given.
        safe: ``False`` for formats whose loading can run arbitrary code (pickle):
            they load only with ``allow_pickle=True``.
    """

    name: str
    flavor: str
    load: Callable[[Mapping[str, Any], bytes], Any]
    save: Callable[[Any, Mapping[str, Any]], SavedModel] | None = None
    safe: bool = True


_registered: dict[str, ModelFormat] = {}
_registered_lock = threading.Lock()


def register_format(
    name: str,
    flavor: str,
    *,
    load: Callable[[Mapping[str, Any], bytes], Any],
    save: Callable[[Any, Mapping[str, Any]], SavedModel] | None = None,
    safe: bool = True,
) -> ModelFormat:
    """Teach the registry a model format (integrations call this when imported).

    Registering a name again replaces it (re-importing a module is harmless).

    Args:
        name: the format's name, as recorded in descriptors.
        flavor: the kind of model it holds.
        load: rebuilds a model from its descriptor and verified bytes.
        save: turns a model into bytes (``None``: written by an integration itself).
        safe: whether loading it is safe without ``allow_pickle``.

    Example::

        >>> register_format("skops", "sklearn", save=save_skops, load=load_skops_model)
    """
    fmt = ModelFormat(name, flavor, load, save, safe)
    with _registered_lock:
        _registered[name] = fmt
    return fmt


def get_format(name: str) -> ModelFormat:
    """The registered format ``name`` (importing the integration that registers it).

    Raises:
        InvalidArgumentError: no such format (the message lists those keel knows).
        MissingExtraError: the format's integration needs a package not installed.
    """
    fmt = _registered.get(name)
    if fmt is None and name in _INTEGRATION_FORMATS:
        module = _INTEGRATION_FORMATS[name]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            missing = (exc.name or module).split(".", 1)[0]
            raise MissingExtraError.for_extra(missing, missing) from exc
        fmt = _registered.get(name)
    if fmt is None:
        known = sorted({*FORMATS, *_registered})
        raise InvalidArgumentError(
            f"model format {name!r} is unknown; formats are: {', '.join(known)}"
        )
    return fmt


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
    if format is not None and format not in FORMATS and format not in _registered:
        known = sorted({*FORMATS, *_registered})
        raise InvalidArgumentError(
            f"model format {format!r} is unknown; formats are: {', '.join(known)}"
        )
    name = format if format else _DEFAULT_FORMAT[detect_flavor(model)]
    fmt = get_format(name)
    if fmt.save is None:
        raise InvalidArgumentError(
            f"models are not saved in format {name!r} by log_model; its integration logs "
            "them (keel.torch.log_model for keel_torch)"
        )
    fields: dict[str, Any] = {"estimator_class": _class_path(model)}
    classes = getattr(model, "classes_", None)
    if classes is not None and fmt.flavor != "torch":
        fields["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    saved = fmt.save(model, {"init_kwargs": init_kwargs})
    return SavedModel(
        saved.flavor, saved.format, saved.file, saved.data, {**fields, **saved.fields}
    )


def _save_pickle(model: Any, options: Mapping[str, Any]) -> SavedModel:
    import pickle

    return SavedModel("pickle", "pickle", "model.pkl", pickle.dumps(model, protocol=5))


def _save_xgboost(model: Any, options: Mapping[str, Any]) -> SavedModel:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.json"
        model.save_model(str(path))
        return SavedModel("xgboost", "xgboost_json", "model.json", path.read_bytes())


def _save_lightgbm(model: Any, options: Mapping[str, Any]) -> SavedModel:
    booster = getattr(model, "booster_", model)
    text = booster.model_to_string()
    task = "classification" if getattr(model, "classes_", None) is not None else "regression"
    return SavedModel("lightgbm", "lightgbm_txt", "model.txt", text.encode("utf-8"), {"task": task})


def _save_torch(model: Any, options: Mapping[str, Any]) -> SavedModel:
    import torch

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    kwargs = _torch_init_kwargs(model, options.get("init_kwargs"))
    return SavedModel(
        "torch", "torch_state_dict", "model.pt", buf.getvalue(), {"init_kwargs": kwargs}
    )


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
        InvalidArgumentError: the format is unknown.
    """
    name = descriptor.get("format")
    if not isinstance(name, str) or (name not in FORMATS and name not in _registered):
        known = sorted({*FORMATS, *_registered})
        raise InvalidArgumentError(
            f"{what} has format {name!r}, which keel cannot load; formats are: {', '.join(known)}"
        )
    fmt = get_format(name)
    if not fmt.safe and not allow_pickle:
        raise UnsafeFormatError(
            f"{what} is stored as a pickle, which can run arbitrary code when loaded; "
            "pass allow_pickle=True only if you trust whoever logged it (the load is audited)"
        )
    return fmt.load(descriptor, data)


def _load_pickle(descriptor: Mapping[str, Any], data: bytes) -> Any:
    import pickle

    return pickle.loads(data)  # noqa: S301 - explicit, audited opt-in (checked by deserialize)


def _load_xgboost(descriptor: Mapping[str, Any], data: bytes) -> Any:
    import tempfile
    from pathlib import Path

    cls = _import_class(descriptor["estimator_class"], ("xgboost",))
    model = cls()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.json"
        path.write_bytes(data)
        model.load_model(str(path))
    return model


def _load_lightgbm(descriptor: Mapping[str, Any], data: bytes) -> Any:
    try:
        import lightgbm
    except ImportError as exc:
        raise MissingExtraError.for_extra("lightgbm", "lightgbm") from exc
    booster = lightgbm.Booster(model_str=data.decode("utf-8"))
    classes = descriptor.get("classes") if descriptor.get("task") == "classification" else None
    return LightGBMModel(booster, classes)


def _load_torch(descriptor: Mapping[str, Any], data: bytes) -> Any:
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


register_format("pickle", "pickle", save=_save_pickle, load=_load_pickle, safe=False)
register_format("xgboost_json", "xgboost", save=_save_xgboost, load=_load_xgboost)
register_format("lightgbm_txt", "lightgbm", save=_save_lightgbm, load=_load_lightgbm)
register_format("torch_state_dict", "torch", save=_save_torch, load=_load_torch)
