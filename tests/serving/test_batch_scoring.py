"""Issue 11 §6: ``keel predict`` and :func:`keel.serving.predict_file`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import keel
import keel.serving
from keel.errors import InvalidArgumentError

from .conftest import SRC


def iris_file(iris_xy: Any, path: Path) -> Path:
    X, _ = iris_xy
    frame = X.copy()
    frame.insert(0, "id", range(len(frame)))
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_scores_a_file_keeping_key_columns_with_lineage(
    iris_champion: Any, client: Any, iris_xy: Any, tmp_path: Path, suffix: str
) -> None:
    import pandas as pd

    source = iris_file(iris_xy, tmp_path / f"new{suffix}")
    result = keel.serving.predict_file(
        "iris@champion", source, tmp_path / "out.parquet", proba=True, chunk_rows=40
    )
    out = pd.read_parquet(result.output)
    assert result.rows == 150 and result.runtime == "onnx" and result.model_version == "iris/1"
    assert list(out.columns) == ["id", "prediction", "proba_0", "proba_1", "proba_2"]
    assert out["id"].tolist() == list(range(150))
    model = keel.models.load("iris/1")
    X, _ = iris_xy
    assert (out["prediction"].to_numpy() == model.predict(X)).mean() > 0.98
    lineage = keel.models.lineage("iris/1")
    relations = {(e.source.kind, e.relation, e.target.kind) for e in lineage.downstream.edges}
    assert ("model_version", "predicted", "dataset_version") in relations
    assert result.dataset is not None and result.dataset.name == "iris-predictions"


def test_scores_a_dataset_reference(
    iris_champion: Any, client: Any, iris_xy: Any, tmp_path: Path
) -> None:
    X, _ = iris_xy
    keel.datasets.register(X, "iris-new")
    result = keel.serving.predict_file(
        "iris/1", "iris-new", tmp_path / "out.parquet", register_as="scored"
    )
    assert result.rows == 150 and result.dataset.reference == "scored/1"
    up = keel.models.lineage("iris/1").upstream
    assert any(e.relation == "scored_by" and e.source.kind == "dataset_version" for e in up.edges)


def test_the_signature_is_checked_before_any_row_is_scored(
    iris_champion: Any, client: Any, iris_xy: Any, tmp_path: Path
) -> None:
    X, _ = iris_xy
    X.drop(columns=["petal width (cm)"]).to_parquet(tmp_path / "bad.parquet")
    X.assign(**{"sepal width (cm)": "wide"}).to_parquet(tmp_path / "text.parquet")
    with pytest.raises(InvalidArgumentError, match="lacks the model's input column.*petal width"):
        keel.serving.predict_file("iris@champion", tmp_path / "bad.parquet", tmp_path / "o.parquet")
    with pytest.raises(
        InvalidArgumentError, match="'sepal width \\(cm\\)' is (large_)?string, expected a number"
    ):
        keel.serving.predict_file(
            "iris@champion", tmp_path / "text.parquet", tmp_path / "o.parquet"
        )
    with pytest.raises(InvalidArgumentError, match="key column"):
        keel.serving.predict_file(
            "iris@champion",
            iris_file(iris_xy, tmp_path / "ok.parquet"),
            tmp_path / "o.parquet",
            key_columns=["nope"],
        )
    assert not (tmp_path / "o.parquet").exists()


def test_missing_values_name_the_row(
    iris_champion: Any, client: Any, iris_xy: Any, tmp_path: Path
) -> None:
    X, _ = iris_xy
    X = X.copy()
    X.loc[77, "petal length (cm)"] = None
    X.to_parquet(tmp_path / "nan.parquet")
    with pytest.raises(InvalidArgumentError, match="row 77 has no value in column 'petal length"):
        keel.serving.predict_file(
            "iris@champion", tmp_path / "nan.parquet", tmp_path / "o.parquet", chunk_rows=50
        )


PEAK = """
import resource, sys
from keel.cli import main
try:
    main()
finally:
    with open(sys.argv[-1] + ".rss", "w") as f:
        f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


def peak_rss_kb(rows: int, tmp_path: Path) -> tuple[int, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / f"in-{rows}.parquet"
    names = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
    rng = np.random.default_rng(0)
    with pq.ParquetWriter(
        source, pa.schema([("id", pa.int64())] + [(n, pa.float64()) for n in names])
    ) as writer:
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            cols = {"id": np.arange(start, start + n)}
            cols.update({c: rng.uniform(0.1, 7.0, n) for c in names})
            writer.write_table(pa.table(cols), row_group_size=100_000)
    out = tmp_path / f"out-{rows}.parquet"
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_WAIT_POLICY": "PASSIVE"}
    subprocess.run(
        [
            sys.executable,
            "-c",
            PEAK,
            "predict",
            "iris@champion",
            "--input",
            str(source),
            "--register-as",
            f"scored-{rows}",
            "--output",
            str(out),
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return int(Path(str(out) + ".rss").read_text()), out


@pytest.mark.slow
def test_a_million_rows_are_scored_in_bounded_memory(
    iris_champion: Any, client: Any, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    small, _ = peak_rss_kb(100_000, tmp_path)
    large, out = peak_rss_kb(1_000_000, tmp_path)
    assert pq.ParquetFile(out).metadata.num_rows == 1_000_000
    # ten times the rows: the peak grows by less than the input's own size in memory (40 MB)
    assert large - small < 40 * 1024, (small, large)
    assert keel.datasets.get("scored-1000000").num_rows == 1_000_000
