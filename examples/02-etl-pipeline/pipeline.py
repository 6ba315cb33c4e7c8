"""The wine ETL pipeline: load raw CSV -> validate -> clean -> split (+ a class balance report).

Run it (from the repository root)::

    keel pipelines run examples/02-etl-pipeline/pipeline.py:pipeline
    keel pipelines run examples/02-etl-pipeline/pipeline.py:pipeline   # all cache hits
    keel pipelines run examples/02-etl-pipeline/pipeline.py:pipeline -p test_size=0.3
    keel pipelines run examples/02-etl-pipeline/pipeline.py:pipeline -x process

Each table a step returns becomes a dataset version (``wine-etl.clean``,
``wine-etl.split.train``...), and the lineage from ``data/wine_raw.csv`` to the splits
is recorded as the steps run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

import keel
from keel.pipelines import SourceFile

log = logging.getLogger("wine-etl")

RAW_CSV = str(Path(__file__).parent / "data" / "wine_raw.csv")
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
CULTIVARS = ["barbera", "barolo", "grignolino"]
# Plausible ranges of each measurement; readings outside them are sensor faults.
PLAUSIBLE = {"alcohol": (8.0, 16.0), "proline": (200.0, 2000.0), "magnesium": (50.0, 200.0)}


@keel.step
def load(path: SourceFile = RAW_CSV) -> pd.DataFrame:
    """Read the raw export as it is."""
    df = pd.read_csv(path)
    log.info("read %d rows and %d columns from %s", len(df), df.shape[1], path.name)
    return df


@keel.step
def validate(load: pd.DataFrame, min_rows: int = 100) -> dict[str, Any]:
    """Check what must hold before cleaning; fail the run if it does not."""
    missing = sorted({*MEASUREMENTS, "cultivar"} - set(load.columns))
    if missing:
        raise ValueError(f"the raw export lacks columns {missing}")
    if len(load) < min_rows:
        raise ValueError(f"the raw export has {len(load)} rows; expected at least {min_rows}")
    unknown = sorted(set(load["cultivar"].dropna()) - set(CULTIVARS))
    if unknown:
        raise ValueError(f"unknown cultivars {unknown}; expected {CULTIVARS}")
    report = {
        "rows": len(load),
        "duplicates": int(load.duplicated().sum()),
        "missing": {c: int(n) for c, n in load[MEASUREMENTS].isna().sum().items() if n},
        "implausible": {
            col: int(((load[col] < lo) | (load[col] > hi)).sum())
            for col, (lo, hi) in PLAUSIBLE.items()
        },
    }
    print(f"validation report: {report}")
    return report


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
    clean: pd.DataFrame, test_size: float = 0.2, valid_size: float = 0.1, seed: int = 42
) -> dict[str, pd.DataFrame]:
    """Stratified train/validation/test split by cultivar."""
    from sklearn.model_selection import train_test_split

    rest, test = train_test_split(
        clean, test_size=test_size, stratify=clean["cultivar"], random_state=seed
    )
    train, valid = train_test_split(
        rest,
        test_size=valid_size / (1 - test_size),
        stratify=rest["cultivar"],
        random_state=seed,
    )
    return {
        "train": train.reset_index(drop=True),
        "valid": valid.reset_index(drop=True),
        "test": test.reset_index(drop=True),
    }


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
