"""Training benchmarks: keel.train's overhead over bare scikit-learn, and Optuna vs grid.

1. Overhead: 200,000 x 20 synthetic classification, HistGradientBoostingClassifier,
   5-fold stratified CV + refit. keel.train (evaluation off: CV metric, refit, dataset
   registration, lineage, model artifact, model card) against scikit-learn's
   ``cross_validate`` + ``fit`` on the same splits. Repeats alternate and the median
   is reported; goal: overhead <= 10 %.
2. Search: a 40-trial Optuna TPE search with 2 worker processes (keel.train search=)
   against GridSearchCV (n_jobs=2) over a grid of the same space, on a 20,000-row
   subset, same 5 folds. Reports GridSearchCV's best CV accuracy and wall time, and the
   trial and wall time at which keel's search first reached that score.

Run: python benchmarks/training.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _fresh_client(root: Path):
    from keel.config import Settings
    from keel.tracking import Client, set_client

    client = Client(settings=Settings(home=root))
    set_client(client)
    return client


def overhead(n_rows: int, repeats: int) -> dict[str, float]:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_validate

    import keel

    X, y = make_classification(n_samples=n_rows, n_features=20, n_informative=10, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)]).assign(label=y)
    features = frame.drop(columns="label")
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    # one-time costs of a process (imports of duckdb/skops, the store's migrations) are
    # paid before timing, as scikit-learn's imports are
    with tempfile.TemporaryDirectory() as tmp:
        _fresh_client(Path(tmp))
        keel.train(
            model, frame.head(500), target="label", cv=2, evaluation=False, experiment="warm-up"
        )
    bare_times, keel_times = [], []
    bare_score = keel_score = float("nan")
    for i in range(repeats):
        start = time.perf_counter()
        scores = cross_validate(model, features, frame["label"], cv=folds, scoring="accuracy")
        model.fit(features, frame["label"])
        bare_times.append(time.perf_counter() - start)
        bare_score = float(np.mean(scores["test_score"]))
        with tempfile.TemporaryDirectory() as tmp:
            client = _fresh_client(Path(tmp))
            client.store  # noqa: B018 - create the store (migrations) before timing
            start = time.perf_counter()
            result = keel.train(
                model,
                frame,
                target="label",
                cv=folds,
                evaluation=False,
                experiment="bench",
                run_name=f"overhead-{i}",
            )
            keel_times.append(time.perf_counter() - start)
            keel_score = result.metrics["cv.accuracy_mean"]
            client.close()
    bare, ours = statistics.median(bare_times), statistics.median(keel_times)
    return {
        "rows": n_rows,
        "bare_s": bare,
        "keel_s": ours,
        "overhead_pct": 100 * (ours - bare) / bare,
        "bare_acc": bare_score,
        "keel_acc": keel_score,
        "repeats": repeats,
    }


def search(n_rows: int, n_trials: int, grid_size: str) -> dict[str, float]:
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    import keel

    X, y = make_classification(n_samples=n_rows, n_features=20, n_informative=10, random_state=1)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)]).assign(label=y)
    model = HistGradientBoostingClassifier(max_iter=60, random_state=0)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    small = grid_size == "small"
    grid = {
        "learning_rate": [0.03, 0.1, 0.3] if small else [0.02, 0.05, 0.1, 0.2, 0.4],
        "max_leaf_nodes": [15, 63] if small else [7, 15, 31, 63],
        "min_samples_leaf": [10, 40] if small else [5, 20, 80],
    }
    start = time.perf_counter()
    gs = GridSearchCV(model, grid, cv=folds, scoring="accuracy", n_jobs=2)
    gs.fit(frame.drop(columns="label"), frame["label"])
    grid_s = time.perf_counter() - start
    target = float(gs.best_score_)
    n_grid = len(gs.cv_results_["params"])
    space = {
        "learning_rate": {
            "type": "log",
            "low": min(grid["learning_rate"]),
            "high": max(grid["learning_rate"]),
        },
        "max_leaf_nodes": {
            "type": "int",
            "low": min(grid["max_leaf_nodes"]),
            "high": max(grid["max_leaf_nodes"]),
        },
        "min_samples_leaf": {
            "type": "int",
            "low": min(grid["min_samples_leaf"]),
            "high": max(grid["min_samples_leaf"]),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        client = _fresh_client(Path(tmp))
        start = time.perf_counter()
        result = keel.train(
            model,
            frame,
            target="label",
            cv=folds,
            evaluation=False,
            experiment="bench-search",
            search={
                "method": "tpe",
                "n_trials": n_trials,
                "n_jobs": 2,
                "space": space,
                "random_state": 0,
            },
        )
        optuna_s = time.perf_counter() - start
        trials = client.search_runs("bench-search", f"parent_run_id = '{result.run_id}'")
        run = client.get_run(result.run_id)
        trials = sorted(
            (t for t in trials if "cv.accuracy_mean" in t.metrics), key=lambda t: t.end_time or 0
        )
        reached_at = reached_n = None
        for n, t in enumerate(trials, 1):
            if t.metrics["cv.accuracy_mean"] >= target - 1e-12:
                reached_n, reached_at = n, (t.end_time - run.start_time) / 1000
                break
        client.close()
    return {
        "rows": n_rows,
        "grid_points": n_grid,
        "grid_s": grid_s,
        "grid_best": target,
        "trials": n_trials,
        "optuna_s": optuna_s,
        "optuna_best": result.metrics["search.best_accuracy"],
        "pruned": result.metrics["search.n_pruned"],
        "reached_trial": reached_n,
        "reached_s": reached_at,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, one repeat")
    args = parser.parse_args()
    if args.quick:
        o = overhead(20_000, 1)
        s = search(4_000, 10, "small")
    else:
        o = overhead(200_000, 3)
        s = search(20_000, 40, "full")
    print(
        f"\nkeel.train overhead ({o['rows']:,} x 20, HistGradientBoosting, 5-fold CV + refit,"
        f" median of {o['repeats']})"
    )
    print("| | wall time (s) | CV accuracy |\n|---|---:|---:|")
    print(f"| scikit-learn cross_validate + fit | {o['bare_s']:.2f} | {o['bare_acc']:.4f} |")
    print(f"| keel.train(evaluation=False) | {o['keel_s']:.2f} | {o['keel_acc']:.4f} |")
    print(f"| overhead | {o['overhead_pct']:+.1f} % | goal <= 10 % |")
    print(f"\nSearch ({s['rows']:,} rows, 5-fold CV, 2 workers)")
    print("| | evaluations | wall time (s) | best CV accuracy |\n|---|---:|---:|---:|")
    print(
        f"| GridSearchCV(n_jobs=2) | {s['grid_points']} | {s['grid_s']:.1f} | "
        f"{s['grid_best']:.4f} |"
    )
    print(
        f"| keel.train search tpe, n_jobs=2 | {s['trials']} ({s['pruned']:.0f} pruned) | "
        f"{s['optuna_s']:.1f} | {s['optuna_best']:.4f} |"
    )
    if s["reached_trial"] is not None:
        print(
            f"| keel TPE reached the grid's best | trial {s['reached_trial']} | "
            f"{s['reached_s']:.1f} | |"
        )
    else:
        print("| keel TPE reached the grid's best | not within the budget | | |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
