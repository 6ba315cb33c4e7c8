"""The wine ETL pipeline: load raw CSV -> validate -> clean -> split (+ a class balance report).

Run it (from the repository root)::

    keel pipelines run examples/02-etl-pipeline/pipeline.py:pipeline
    keel pipelines run examples/02-etl-pipeline/pipeline.py:pipeline   # all cache hits
    keel pipelines run examples/02-etl-pipeline/pipeline.py:pipeline -p test_size=0.3
    keel pipelines run examples/02-etl-pipeline/pipeline.py:pipeline -x process

Each table a step returns becomes a dataset version (``wine-etl.load``,
``wine-etl.clean``); ``split`` returns the versions ``keel.datasets.split`` derives
(``wine-etl.clean-train``...). The lineage from ``data/wine_raw.csv`` to the splits is
recorded as the steps run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

import keel
import keel.datasets
from keel.datasets import DatasetVersion
from keel.pipelines import SourceFile

log = logging.getLogger("wine-etl")

HERE = Path(__file__).parent
RAW_CSV = str(HERE / "data" / "wine_raw.csv")
EXPECTATIONS = str(HERE / "expectations.yaml")
MEASUREMENTS = [
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280_od315",
    "proline",
]
# Plausible ranges of each measurement; readings outside them are sensor faults.
PLAUSIBLE = {"alcohol": (8.0, 16.0), "proline": (200.0, 2000.0), "magnesium": (50.0, 200.0)}


@keel.step
def load(path: SourceFile = RAW_CSV) -> pd.DataFrame:
    """Read the raw export as it is."""
    df = pd.read_csv(path)
    log.info("read %d rows and %d columns from %s", len(df), df.shape[1], path.name)
    return df


@keel.step
def validate(load: DatasetVersion, expectations: SourceFile = EXPECTATIONS) -> dict[str, Any]:
    """Check the raw data against expectations.yaml; fail the run if a check fails."""
    report = keel.datasets.validate(load, expectations)
    print(report.summary())
    if not report.passed:
        raise ValueError(f"{load.reference} fails its expectations: {report.summary()}")
    df = load.to_pandas()
    return {
        "rows": len(df),
        "duplicates": int(df.duplicated().sum()),
        "missing": {c: int(n) for c, n in df[MEASUREMENTS].isna().sum().items() if n},
        "implausible": {
            col: int(((df[col] < lo) | (df[col] > hi)).sum()) for col, (lo, hi) in PLAUSIBLE.items()
        },
    }


@keel.step
def clean(load: pd.DataFrame, validate: dict[str, Any]) -> pd.DataFrame:
    """Drop duplicated rows, blank implausible readings, fill gaps with cultivar medians."""
    df = load.drop_duplicates().reset_index(drop=True)
    for col, (lo, hi) in PLAUSIBLE.items():
        df.loc[(df[col] < lo) | (df[col] > hi), col] = float("nan")
    medians = df.groupby("cultivar")[MEASUREMENTS].transform("median")
    df[MEASUREMENTS] = df[MEASUREMENTS].fillna(medians)
    log.info(
        "dropped %d duplicates, repaired %d implausible readings",
        validate["duplicates"],
        sum(validate["implausible"].values()),
    )
    return df


@keel.step(outputs=("train", "valid", "test"))
def split(
    clean: DatasetVersion, test_size: float = 0.2, valid_size: float = 0.1, seed: int = 42
) -> dict[str, DatasetVersion]:
    """Stratified train/validation/test splits: derived dataset versions of ``clean``."""
    fractions = {"train": 1 - test_size - valid_size, "valid": valid_size, "test": test_size}
    return keel.datasets.split(clean, fractions, seed=seed, stratify="cultivar")


@keel.step(inputs={"train": "split.train", "test": "split.test"})
def class_balance(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, dict[str, int]]:
    """How many wines of each cultivar each split holds."""
    return {
        "train": {str(k): int(v) for k, v in train["cultivar"].value_counts().items()},
        "test": {str(k): int(v) for k, v in test["cultivar"].value_counts().items()},
    }


pipeline = keel.Pipeline(
    "wine-etl",
    [load, validate, clean, split, class_balance],
    description="wine measurements: raw CSV to validated, cleaned train/valid/test splits",
)
