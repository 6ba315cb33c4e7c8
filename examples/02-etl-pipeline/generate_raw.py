"""Write data/wine_raw.csv: scikit-learn's wine data, with the flaws real exports have.

The committed CSV was made by this script (seeded, so it is reproducible): 178 wines,
13 measurements and a cultivar label, plus some missing values, duplicated rows and a
few impossible readings for the pipeline's validate and clean steps to deal with.

Run: python examples/02-etl-pipeline/generate_raw.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine

OUT = Path(__file__).parent / "data" / "wine_raw.csv"
CULTIVARS = {0: "barolo", 1: "grignolino", 2: "barbera"}


def main() -> None:
    wine = load_wine(as_frame=True)
    df = wine.frame.rename(
        columns={"od280/od315_of_diluted_wines": "od280_od315", "target": "cultivar"}
    )
    df["cultivar"] = df["cultivar"].map(CULTIVARS)
    rng = np.random.default_rng(7)
    # missing readings: about 2% of the measurements of a few columns
    for col in ("magnesium", "color_intensity", "ash"):
        holes = rng.choice(len(df), size=4, replace=False)
        df.loc[holes, col] = np.nan
    # impossible readings from a faulty sensor: negative or absurd values
    df.loc[rng.choice(len(df), size=3, replace=False), "alcohol"] = -1.0
    df.loc[rng.choice(len(df), size=2, replace=False), "proline"] = 99_999.0
    # rows exported twice
    df = (
        df.iloc[np.concatenate([np.arange(len(df)), rng.choice(len(df), 5)])]
        .reset_index(drop=True)
        .round(3)
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(OUT, index=False)
    print(f"wrote {OUT} ({len(df)} rows, {OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
