"""The feature store end to end, on the embedded defaults.

1. Generates two sources (a day's activity per customer, customer profiles) and
   registers them as datasets.
2. ``keel features apply features.yaml``: an entity, two feature views, a service.
3. Builds point-in-time-correct training data for labelled events with
   ``keel.features.get_historical_features`` and registers it as a dataset.
4. Trains a churn model on it with ``keel.train``, registers it, makes it champion.
5. ``keel features materialize``: the latest values into the online store (SQLite).
6. Stores an endpoint that names the feature service and serves it (in process):
   requests carry customer ids only; the app looks the features up online.
7. Checks that the served model saw exactly the values training would have used for
   the same customers at the same moment (zero training/serving skew), and shows
   ``keel lineage churn@champion``: sources -> views -> training data -> run -> model.

Run it from any folder (it writes ./.keel there)::

    python examples/08-features/features_demo.py
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HERE = Path(__file__).parent
CUSTOMERS = 300
FEATURES = ["spend_7d", "orders_7d", "support_tickets_30d", "age", "tenure_days"]


def keel_cli(*args: str) -> None:
    """Run the ``keel`` console script (the one installed next to this Python)."""
    exe = Path(sys.executable).with_name("keel")
    command = [str(exe)] if exe.exists() else [shutil.which("keel") or "keel"]
    print(f"\n$ keel {' '.join(args)}", flush=True)
    subprocess.run([*command, *args], check=True)


def generate(now: Any) -> tuple[Any, Any, Any]:
    """Activity rows, profiles and labelled churn events (seeded, so reruns agree)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(8)
    engagement = rng.beta(2, 2, CUSTOMERS)  # a hidden trait: engaged customers stay
    rows = []
    for customer in range(CUSTOMERS):
        for day in range(60, 0, -1):
            if rng.random() > 0.15 + 0.6 * engagement[customer]:
                continue
            when = now.normalize() - pd.Timedelta(days=day)
            rows.append(
                (
                    customer,
                    when,
                    when + pd.Timedelta(hours=int(rng.integers(1, 30))),  # loaded later
                    round(float(rng.gamma(1 + 4 * engagement[customer], 20.0)), 2),
                    int(rng.poisson(1 + 6 * engagement[customer])),
                    int(rng.poisson(3 * (1 - engagement[customer]))),
                )
            )
    activity = pd.DataFrame(
        rows,
        columns=["customer_id", "day", "loaded_at", "spend_7d", "orders_7d", "support_tickets_30d"],
    )
    profile = pd.DataFrame(
        {
            "customer_id": np.arange(CUSTOMERS),
            "updated_at": now.normalize() - pd.Timedelta(days=120),
            "age": rng.integers(18, 80, CUSTOMERS),
            "tenure_days": rng.uniform(30, 3000, CUSTOMERS).round(1),
        }
    )
    customers = rng.integers(0, CUSTOMERS, 2000)
    events = pd.DataFrame(
        {
            "customer_id": customers,
            "event_timestamp": now - pd.to_timedelta(rng.integers(0, 40 * 86400, 2000), unit="s"),
            "churned": (rng.random(2000) > 0.2 + 0.7 * engagement[customers]).astype(int),
        }
    )
    return activity, profile, events


async def serve(customers: list[int]) -> Any:
    """Serve the stored endpoint in process and ask it about ``customers``."""
    import httpx

    import keel.serving

    app = keel.serving.create_app("churn")
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://keel") as http:
            answer = await http.post(
                "/v1/endpoints/churn/predict",
                json={"inputs": [{"customer_id": c} for c in customers]},
            )
    finally:
        await app.shutdown()
    answer.raise_for_status()
    return answer.json()


def main() -> None:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    import keel
    import keel.datasets
    import keel.features
    import keel.serving

    now = pd.Timestamp.now(tz="UTC").floor("s")

    # 1. The sources are datasets (any name[/version] works; SQL over datasets and
    #    Parquet paths do too).
    activity, profile, events = generate(now)
    keel.datasets.register(activity, "customer-activity")
    keel.datasets.register(profile, "customer-profile")
    churn_events = keel.datasets.register(events, "churn-events")

    # 2. Declare and register: the diff, then the versions.
    keel_cli("features", "diff", str(HERE / "features.yaml"))
    keel_cli("features", "apply", str(HERE / "features.yaml"), "--reason", "first declaration")
    keel_cli("features", "list")

    # 3. Training data as of each event: never a later value, never a value loaded
    #    after the event, nothing older than 30 days; every event kept.
    historical = keel.features.get_historical_features(churn_events, "churn")
    print(f"\nhistorical features: {historical.report.summary()}")
    training = historical.register("churn-training", description="churn events with features")
    print(f"registered {training.reference} ({training.num_rows} rows)")

    # 4. Train, register, promote.
    result = keel.train(
        RandomForestClassifier(n_estimators=50, min_samples_leaf=5, random_state=0),
        training,
        target="churned",
        features=FEATURES,
        cv=3,
        evaluation=["accuracy", "roc_auc"],
        experiment="churn",
        run_name="forest on features",
    )
    version = keel.models.register(result.run_id, "churn")
    keel.models.promote(version.ref, to="champion")
    print(f"registered {version.uri}: cv accuracy {result.metrics['cv.accuracy_mean']:.3f}")

    # 5. The latest values into the online store.
    keel_cli("features", "materialize")

    # 6. An endpoint that looks its features up, stored and served.
    keel_cli(
        "endpoints",
        "create",
        "churn",
        "--target",
        "churn@champion",
        "--feature-service",
        "churn",
        "--allow-missing",
        "spend_7d",
        "--allow-missing",
        "orders_7d",
        "--allow-missing",
        "support_tickets_30d",
    )
    customers = list(range(0, CUSTOMERS, 15))
    answer = asyncio.run(serve(customers))
    print(f"\nserved {len(answer['predictions'])} predictions from {answer['model_version']}")

    # 7. What training would have seen for these customers now, against what the served
    #    model saw (the prediction log records its inputs).
    now_rows = pd.DataFrame({"customer_id": customers, "event_timestamp": now})
    offline = keel.features.get_historical_features(now_rows, "churn").to_pandas()
    log = keel.serving.read_prediction_log("churn")
    served_inputs = pd.DataFrame(json.loads(log.iloc[-1]["inputs"]))
    a = offline[FEATURES].astype(float).to_numpy()
    b = served_inputs[FEATURES].astype(float).to_numpy()
    differ = int((~((a == b) | (np.isnan(a) & np.isnan(b)))).sum())
    print(f"training/serving skew: {differ} of {a.size} values differ")
    if differ:
        raise SystemExit("the served model saw other values than training would have")
    keel_cli("lineage", "churn@champion")


if __name__ == "__main__":
    main()
