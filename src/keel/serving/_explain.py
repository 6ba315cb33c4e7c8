"""SHAP explanations of served predictions, rebuilt from the recipe stored at training.

``keel.train`` stores ``explain/recipe.json`` (explainer kind, feature names, whether a
pipeline's first steps transform the rows) and ``explain/background.json`` in the run
that produced the version; both are read through the run's artifact records, so their
sha256 is checked. A tree model logged without a recipe is still explained with
``shap.TreeExplainer``, which needs no background.
"""

from __future__ import annotations

import io
import json
import threading
import warnings
from typing import Any

from keel.serving._errors import RequestError
from keel.serving._inputs import InputBatch

__all__ = ["ServingExplainer", "build_model_explainer"]


def _split(model: Any) -> tuple[Any, Any]:
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and len(steps) > 1:
        from sklearn.pipeline import Pipeline

        return Pipeline(steps[:-1]), steps[-1][1]
    return None, model


class ServingExplainer:
    """Explains rows of one served model version."""

    def __init__(
        self,
        served: Any,
        explainer: Any,
        kind: str,
        prep: Any,
        feature_names: list[str],
        source: str,
    ) -> None:
        self._served = served
        self._explainer = explainer
        self.kind = kind
        self._prep = prep
        self.feature_names = feature_names
        self.source = source
        self._lock = threading.Lock()

    def _rows(self, batch: InputBatch) -> Any:
        import numpy as np

        runtime = self._served.runtime
        if self._prep is not None:
            Xt = self._prep.transform(runtime.frame(batch))
            if hasattr(Xt, "toarray"):
                Xt = Xt.toarray()
            return np.asarray(Xt, dtype=float)
        if batch.matrix is not None:
            return batch.matrix
        return np.asarray(runtime.frame(batch), dtype=float)

    def explain(self, batch: InputBatch, labels: Any) -> dict[str, Any]:
        """SHAP values per feature for each row, with the base value, for the predicted
        class of a classifier (or the predicted value of a regressor)."""
        import numpy as np

        X = self._rows(batch)
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.kind == "tree":
                result = self._explainer(X, check_additivity=False)
            elif self.kind == "permutation":
                result = self._explainer(X, silent=True)
            else:
                result = self._explainer(X)
        values = np.asarray(result.values, dtype=float)
        base = np.asarray(result.base_values, dtype=float)
        classes = self._served.runtime.classes
        rows = []
        for i in range(len(X)):
            label = labels[i].item() if hasattr(labels[i], "item") else labels[i]
            v, b = values[i], base[i] if base.ndim >= 1 and len(base) == len(X) else base
            entry: dict[str, Any] = {"prediction": label}
            if v.ndim == 2:  # one column per class: explain the predicted class
                k = _class_index(classes, label, v.shape[1])
                v = v[:, k]
                b = np.asarray(b).reshape(-1)[k] if np.asarray(b).size > 1 else b
                entry["class"] = label
            entry["base_value"] = float(np.asarray(b).reshape(-1)[0])
            entry["values"] = {
                name: float(x) for name, x in zip(self.feature_names, v.tolist(), strict=False)
            }
            rows.append(entry)
        return {
            "explainer": self.kind,
            "source": self.source,
            "feature_names": self.feature_names,
            "explanations": rows,
        }


def _class_index(classes: list[Any] | None, label: Any, width: int) -> int:
    if classes is not None and label in classes:
        k = classes.index(label)
        if k < width:
            return k
    return width - 1


def build_model_explainer(served: Any) -> ServingExplainer:
    """The explainer of a served model: from the run's stored recipe when there is one,
    else a TreeExplainer for tree models.

    Raises:
        RequestError: 409 when the version has no recipe and is not a tree model.
    """
    import pandas as pd

    from keel.responsible import build_explainer, explainer_kind
    from keel.tracking import read_run_artifact

    version, context = served.version, served.context
    artifacts = set((version.details or {}).get("run_artifacts") or [])
    model = served.native_model()
    prep, final = _split(model)
    recipe: dict[str, Any] | None = None
    if "explain/recipe.json" in artifacts:
        recipe = json.loads(read_run_artifact(context, version.run_id, "explain/recipe.json"))
    kind = recipe["explainer"] if recipe else explainer_kind(final)
    if recipe is None and kind != "tree":
        raise RequestError(
            409,
            f"model {version.uri} has no SHAP explainer recipe (its run has no "
            "explain/recipe.json) and is not a tree model; train it with keel.train(...) "
            "to store one",
            code="NO_EXPLAINER",
        )
    background = None
    if recipe and recipe.get("background_artifact") in artifacts:
        raw = read_run_artifact(context, version.run_id, recipe["background_artifact"])
        frame = pd.read_json(io.StringIO(raw.decode("utf-8")), orient="split")
        if prep is not None:
            Xb = prep.transform(frame[list(served.schema.names)])
            background = Xb.toarray() if hasattr(Xb, "toarray") else Xb
        else:
            background = frame[list(served.schema.names)].to_numpy(dtype=float)
    task = served.task
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            explainer = build_explainer(kind, final, background, task)
        except Exception:
            if background is None:
                raise
            kind = "permutation"
            explainer = build_explainer(kind, final, background, task)
    names = list(recipe["feature_names"]) if recipe and recipe.get("feature_names") else None
    if names is None:
        if prep is not None:
            try:
                names = [str(n) for n in prep.get_feature_names_out()]
            except Exception:
                names = None
        names = names or list(served.schema.names)
    return ServingExplainer(
        served, explainer, kind, prep, names, "recipe" if recipe else "tree model"
    )
