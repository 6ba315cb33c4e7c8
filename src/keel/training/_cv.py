"""Cross-validation splitters from a number, a dict or a splitter object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keel.training._errors import TrainingInputError

__all__ = ["CV_TYPES", "build_splitter", "describe_cv", "group_column_of", "make_splits"]

CV_TYPES = ("kfold", "stratified", "group", "stratified_group", "timeseries")
_CV_KEYS = {"type", "n_splits", "shuffle", "random_state", "groups", "gap", "test_size"}


def group_column_of(cv: Any) -> str | None:
    """The column named by ``cv={"type": "group", "groups": "<column>"}``, if any."""
    if isinstance(cv, Mapping):
        groups = cv.get("groups")
        return str(groups) if groups is not None else None
    return None


def build_splitter(cv: Any, task: str, n_rows: int, y: Any = None, groups: Any = None) -> Any:
    """A scikit-learn splitter for ``cv``, or ``None`` for no cross-validation.

    Args:
        cv: ``None``/``False``/``0`` (no CV), an int (k folds: stratified for
            classification, shuffled k-fold otherwise), a dict
            ``{"type": "kfold"|"stratified"|"group"|"stratified_group"|"timeseries",
            "n_splits": 5, "shuffle": True, "random_state": 0, "groups": "<column>"}``,
            or any object with ``split(X, y, groups)`` and ``get_n_splits()``.
        task: the resolved task.
        n_rows: the number of training rows.
        y: the target, to check stratification is possible.
        groups: the group labels, for group splits.

    Raises:
        TrainingInputError: unknown type or keys, fewer rows (or groups, or members of
            the rarest class) than folds.
    """
    from sklearn import model_selection as ms

    if cv is None or cv is False or (isinstance(cv, int) and not isinstance(cv, bool) and cv == 0):
        return None
    if hasattr(cv, "split") and hasattr(cv, "get_n_splits"):
        n = cv.get_n_splits()
        if isinstance(n, int) and n > n_rows:
            raise TrainingInputError(
                f"cv has {n} folds but the training data has only {n_rows} rows; "
                "use fewer folds or more data"
            )
        return cv
    if isinstance(cv, bool) or not isinstance(cv, int | Mapping):
        raise TrainingInputError(
            f"cv={cv!r} is not understood; pass a number of folds, a dict like "
            "{'type': 'stratified', 'n_splits': 5}, a scikit-learn splitter, or None"
        )
    spec: dict[str, Any] = {"n_splits": cv} if isinstance(cv, int) else dict(cv)
    unknown = set(spec) - _CV_KEYS
    if unknown:
        raise TrainingInputError(
            f"cv has unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"allowed: {', '.join(sorted(_CV_KEYS))}"
        )
    kind = spec.get("type") or ("stratified" if task == "classification" else "kfold")
    if kind not in CV_TYPES:
        raise TrainingInputError(f"cv type {kind!r} is unknown; use one of: {', '.join(CV_TYPES)}")
    n_splits = spec.get("n_splits", 5)
    if not isinstance(n_splits, int) or isinstance(n_splits, bool) or n_splits < 2:
        raise TrainingInputError(f"cv n_splits must be an integer >= 2; got {n_splits!r}")
    if n_splits > n_rows:
        raise TrainingInputError(
            f"cv asks for {n_splits} folds but the training data has only {n_rows} rows; "
            "use fewer folds (cv=...) or more data"
        )
    shuffle = bool(spec.get("shuffle", kind in ("kfold", "stratified")))
    seed = spec.get("random_state", 0) if shuffle else None
    _check_feasible(kind, n_splits, task, y, groups)
    if kind == "kfold":
        return ms.KFold(n_splits=n_splits, shuffle=shuffle, random_state=seed)
    if kind == "stratified":
        return ms.StratifiedKFold(n_splits=n_splits, shuffle=shuffle, random_state=seed)
    if kind == "group":
        return ms.GroupKFold(n_splits=n_splits)
    if kind == "stratified_group":
        return ms.StratifiedGroupKFold(n_splits=n_splits, shuffle=shuffle, random_state=seed)
    return ms.TimeSeriesSplit(
        n_splits=n_splits, gap=int(spec.get("gap", 0)), test_size=spec.get("test_size")
    )


def _check_feasible(kind: str, n_splits: int, task: str, y: Any, groups: Any) -> None:
    """Refuse group folds without enough groups, and stratified folds without enough
    members of the rarest class (or outside classification)."""
    if kind in ("group", "stratified_group"):
        if groups is None:
            raise TrainingInputError(
                f"cv type {kind!r} needs the group column: cv={{'type': '{kind}', "
                "'groups': '<column>'}"
            )
        n_groups = int(groups.nunique())
        if n_groups < n_splits:
            raise TrainingInputError(
                f"cv asks for {n_splits} group folds but column {groups.name!r} has only "
                f"{n_groups} distinct groups; use fewer folds"
            )
    if kind in ("stratified", "stratified_group"):
        if task != "classification":
            raise TrainingInputError(
                f"cv type {kind!r} only applies to classification; use 'kfold' for {task}"
            )
        if y is not None:
            smallest = int(y.value_counts().min())
            if smallest < n_splits:
                raise TrainingInputError(
                    f"the rarest class of the target has {smallest} row(s), fewer than the "
                    f"{n_splits} stratified folds; use fewer folds or more data"
                )


def make_splits(splitter: Any, X: Any, y: Any, groups: Any) -> list[tuple[Any, Any]]:
    """The (train, validation) index arrays of every fold, computed once."""
    return [(tr, va) for tr, va in splitter.split(X, y, groups)]


def describe_cv(splitter: Any) -> str:
    """A short text for the run's params, e.g. ``StratifiedKFold(n_splits=5)``."""
    if splitter is None:
        return "none"
    return f"{type(splitter).__name__}(n_splits={splitter.get_n_splits()})"
