"""Training inputs: resolve the data, pick target and features, and refuse bad input early.

Everything here runs before a run is created or a dataset registered, so an error
leaves every store unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.training._errors import TrainingInputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PreparedData", "load_frame", "prepare"]


@dataclass
class PreparedData:
    """Features and target split out of a frame, with what they came from."""

    frame: pd.DataFrame
    X: pd.DataFrame
    y: pd.Series | None
    features: list[str]
    target: str | None
    groups: pd.Series | None = None
    sensitive: pd.DataFrame | None = None
    dataset: Any = None  # a keel.data.DatasetVersion, or None until registered
    label: str = "data"
    extra: dict[str, Any] = field(default_factory=dict)


def _is_dataset_version(obj: Any) -> bool:
    return all(hasattr(obj, a) for a in ("to_pandas", "lineage_node", "version"))


def load_frame(data: Any, what: str = "data") -> tuple[pd.DataFrame, Any]:
    """The DataFrame behind ``data`` and its DatasetVersion when it is already registered.

    Args:
        data: a DataFrame, a DatasetVersion, or a dataset reference ``"name"`` /
            ``"name/3"``.
        what: the argument's name, for messages.

    Raises:
        TrainingInputError: ``data`` is none of these.
        NotFoundError: the dataset reference does not exist.
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        if data.empty:
            raise TrainingInputError(f"{what} is an empty DataFrame; give at least a few rows")
        return data, None
    if _is_dataset_version(data):
        return data.to_pandas(), data
    if isinstance(data, str):
        from keel.data import get

        version = get(data)
        return version.to_pandas(), version
    raise TrainingInputError(
        f"{what} must be a pandas DataFrame, a DatasetVersion or a dataset reference like "
        f"'credit' or 'credit/3'; got {type(data).__name__}"
    )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _column_list(value: str | Sequence[str] | None, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], what: str, label: str) -> None:
    import difflib

    missing = [c for c in columns if c not in frame.columns]
    if missing:
        names = [str(c) for c in frame.columns]
        near = difflib.get_close_matches(missing[0], names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
        raise TrainingInputError(
            f"{what} column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"not in {label}; its columns are: {', '.join(names[:30])}{hint}"
        )


def _non_numeric(X: pd.DataFrame, allow_category: bool) -> list[str]:
    import pandas as pd

    bad = []
    for col in X.columns:
        dtype = X[col].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            continue
        if allow_category and isinstance(dtype, pd.CategoricalDtype):
            continue
        bad.append(str(col))
    return bad


def prepare(
    frame: pd.DataFrame,
    *,
    target: str | None,
    features: Sequence[str] | None,
    task: str,
    model: Any,
    sensitive_features: str | Sequence[str] | None = None,
    group_column: str | None = None,
    label: str = "data",
) -> PreparedData:
    """Split ``frame`` into features and target and check they can be trained on.

    Sensitive columns and the CV group column are left out of the features unless
    ``features`` names them.

    Raises:
        TrainingInputError: a column is missing, the target has NaN or one class, or
            non-numeric features reach a model with no preprocessing.
    """
    from keel.training._estimators import handles_categoricals, has_preprocessing

    sensitive = _column_list(sensitive_features, "sensitive_features")
    if task in ("classification", "regression") and target is None:
        raise TrainingInputError(f"task {task!r} needs a target column: pass target='<column>'")
    if target is not None:
        _check_columns(frame, [target], "target", label)
    _check_columns(frame, sensitive, "sensitive feature", label)
    if group_column is not None:
        _check_columns(frame, [group_column], "cv group", label)
    if features is not None:
        feature_list = _column_list(features, "features")
        if not feature_list:
            raise TrainingInputError("features is empty; name at least one column or pass None")
        _check_columns(frame, feature_list, "feature", label)
        if target is not None and target in feature_list:
            raise TrainingInputError(
                f"target {target!r} is also listed in features; remove it from features"
            )
    else:
        skip = {target, group_column, *sensitive}
        feature_list = [str(c) for c in frame.columns if c not in skip]
        if not feature_list:
            raise TrainingInputError(
                f"{label} has no columns left to use as features after removing the target, "
                "sensitive and group columns"
            )
    X = frame[feature_list]
    y = None
    if target is not None:
        y = frame[target]
        _check_target(y, target, task, label)
    if not has_preprocessing(model):
        bad = _non_numeric(X, allow_category=handles_categoricals(model))
        if bad:
            raise TrainingInputError(
                f"feature column{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad[:10]))} "
                f"{'are' if len(bad) > 1 else 'is'} not numeric ({X[bad[0]].dtype}) and the "
                "model has no preprocessing; wrap it in a Pipeline with a ColumnTransformer "
                "(e.g. OneHotEncoder for those columns) or leave them out with features=[...]"
            )
    return PreparedData(
        frame=frame,
        X=X,
        y=y,
        features=feature_list,
        target=target,
        groups=frame[group_column] if group_column is not None else None,
        sensitive=frame[sensitive] if sensitive else None,
        label=label,
    )


def _check_target(y: pd.Series, target: str, task: str, label: str) -> None:
    """Refuse a target with missing values, a single class, or labels for regression."""
    import pandas as pd

    n_nan = int(y.isna().sum())
    if n_nan:
        raise TrainingInputError(
            f"target {target!r} has {n_nan} missing value(s) (NaN/None) in {label}; "
            "drop or fill those rows before training"
        )
    if task == "classification":
        classes = y.unique()
        if len(classes) < 2:
            raise TrainingInputError(
                f"target {target!r} has only one class ({_plain(classes[0])!r}) in {label}; "
                "a classifier needs at least two"
            )
    elif task == "regression" and (
        not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype)
    ):
        raise TrainingInputError(
            f"target {target!r} has dtype {y.dtype} but regression needs a numeric "
            "target; pass task='classification' for labels"
        )
