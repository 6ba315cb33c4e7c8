"""Wine: scale, project on 5 principal components, and cluster with KMeans; the
known cultivar gives the adjusted Rand index. PCA's explained variance is logged.

Run: python examples/04-clustering-pca/wine_kmeans_pca.py
"""

from __future__ import annotations

from sklearn.cluster import KMeans
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import keel


def main() -> keel.training.TrainingResult:
    wine = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    result = keel.train(
        make_pipeline(
            StandardScaler(),
            PCA(n_components=5, random_state=0),
            KMeans(n_clusters=3, n_init=10, random_state=0),
        ),
        wine,
        target="cultivar",  # only for the adjusted Rand index; clustering never sees it
        task="clustering",
        experiment="wine",
        run_name="kmeans-pca",
        dataset_name="wine",
        intended_use="Exploratory grouping of wines by chemical analysis.",
    )
    print(result)
    print(f"details: keel runs show {result.run_id}")
    return result


if __name__ == "__main__":
    main()
