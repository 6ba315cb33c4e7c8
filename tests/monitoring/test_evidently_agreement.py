"""keel's per-column drift values agree with Evidently's DataDriftPreset (bench extra).

Skipped where Evidently is not installed, except under CI=true, where the bench extra
is (Makefile TEST_EXTRAS), so its absence fails.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.monitoring import drift


def evidently_values(
    reference: pd.DataFrame, current: pd.DataFrame
) -> dict[str, tuple[str, float]]:
    """Column -> (method, value) from Evidently's DataDriftPreset."""
    try:
        import pandas.core.dtypes.common as common

        # evidently 0.7.23 imports a helper pandas 3 removed, in a module drift never
        # uses (a data-integrity test); give it back so the package imports
        if not hasattr(common, "infer_dtype_from_object"):
            common.infer_dtype_from_object = lambda dtype: np.dtype(dtype).type  # type: ignore[attr-defined]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from evidently import Report
            from evidently.presets import DataDriftPreset
    except ImportError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"evidently (bench extra) must be installed under CI=true: {exc}")
        pytest.skip(f"evidently is not installed: {exc}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot: Any = Report([DataDriftPreset()]).run(current, reference)
        data = snapshot.dict()
    out = {}
    for metric in data["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            out[config["column"]] = (config["method"], float(metric["value"]))
    return out


_METHOD = {
    "ks": "K-S p_value",
    "wasserstein": "Wasserstein distance (normed)",
    "jensenshannon": "Jensen-Shannon distance",
    "chisquare": "chi-square p_value",
    "z": "Z-test p_value",
}


def _data(n: int, seed: int, shifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = 1.0 if shifted else 0.0
    frame = pd.DataFrame(
        {
            "normal": rng.normal(0.3 * s, 1 + 0.2 * s, n),
            "skewed": rng.lognormal(0.1 * s, 1, n),
            "few": rng.integers(0, 4, n).astype(float),
            "ints": rng.integers(0, 60 + int(10 * s), n),
            "code": rng.integers(0, 3 + int(s), n),
            "city": rng.choice(["oslo", "lima", "pune"] + (["rome"] if shifted else []), n),
            "flag": rng.choice(["up", "down"], n, p=[0.5 + 0.1 * s, 0.5 - 0.1 * s]),
        }
    )
    frame.loc[: n // 20, "normal"] = np.nan
    return frame


@pytest.mark.parametrize("n", [400, 1000, 1001, 6000])
def test_same_tests_and_values_as_evidently(n: int) -> None:
    reference, current = _data(n, 1, False), _data(n - 37, 2, True)
    theirs = evidently_values(reference, current)
    ours = drift(reference, current)
    assert set(theirs) == {c.column for c in ours.columns}
    for column in ours.columns:
        method, value = theirs[column.column]
        assert _METHOD[column.test or ""] == method, column
        assert column.score == pytest.approx(value, abs=1e-9), column
