"""A monitored endpoint for the monitoring tests: models with lineage, traffic in process.

``credit/1`` then ``credit/2`` are trained on ``credit-train`` and evaluated on
``credit-test`` (lineage from ``log_input``, the target recorded as a param), version 2
holds ``credit@champion``; the stored endpoint ``credit`` serves it. :func:`send` runs
the real serving app in process (httpx over ASGI), so the prediction log is the one
``keel serve`` writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

FEATURES = ["x1", "x2", "x3"]


def frame(rng: np.random.Generator, n: int, shifted: bool = False) -> pd.DataFrame:
    """Rows of the training distribution, or shifted ones (x1 and x3) with another rule."""
    x1 = rng.normal(3.0 if shifted else 0.0, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    x3 = rng.normal(0.0, 3.0 if shifted else 1.0, n)
    if shifted:
        y = (x2 > 0.8).astype(int)
    else:
        y = (x1 + 0.5 * x2 + rng.normal(0, 0.3, n) > 0).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "y": y})


def make_models(rng: np.random.Generator, *, lineage: bool = True, versions: int = 2) -> None:
    """Register credit/1..N (champion: the last) and the stored endpoint ``credit``."""
    from sklearn.linear_model import LogisticRegression

    import keel
    from keel.data import register
    from keel.serving import endpoints

    train, test = frame(rng, 600), frame(rng, 300)
    train_ds = register(train, name="credit-train")
    test_ds = register(test, name="credit-test")
    X, y = train[FEATURES], train["y"]
    for i in range(versions):
        with keel.start_run(experiment="credit"):
            if lineage:
                keel.log_input(train_ds, "trained_on")
                keel.log_input(test_ds, "evaluated_on")
                keel.log_param("target", "y")
            model = LogisticRegression(C=1.0 / (i + 1)).fit(X, y)
            version = keel.log_model(model, name="credit", input_example=X.head(5)).version
        keel.models.promote(version.ref, to="champion")
    endpoints.create({"name": "credit", "targets": [{"model": "credit@champion"}]})


async def _send(
    frames: Sequence[pd.DataFrame], rows: int, proba: bool, feedback: list[Any] | None
) -> list[tuple[str, list[Any]]]:
    import httpx

    from keel.serving import create_app

    app = create_app("credit", watch=False)
    await app.startup()
    sent: list[tuple[str, list[Any]]] = []
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://keel") as http:
            for data in frames:
                for i in range(0, len(data), rows):
                    part = data.iloc[i : i + rows]
                    answer = await http.post(
                        "/v1/endpoints/credit/predict" + ("?proba=true" if proba else ""),
                        json={"inputs": part[FEATURES].to_dict("records")},
                    )
                    assert answer.status_code == 200, answer.text
                    sent.append((answer.headers["x-request-id"], part["y"].tolist()))
            if feedback is not None:
                body = {"feedback": feedback(sent) if callable(feedback) else feedback}
                answer = await http.post("/v1/feedback", json=body)
                assert answer.status_code == 200, answer.text
    finally:
        await app.shutdown()  # writes the log
    return sent


def send(
    frames: Sequence[pd.DataFrame],
    *,
    rows: int = 10,
    proba: bool = False,
    feedback: Any = None,
) -> list[tuple[str, list[Any]]]:
    """Send each frame in requests of ``rows`` rows; optionally post feedback after.

    ``feedback``: a list of feedback entries, or a function of the (request id, labels)
    sent that returns them. Returns what was sent.
    """
    return asyncio.run(_send(frames, rows, proba, feedback))


def labels_of(sent: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    """Feedback entries giving each request its true labels."""
    return [{"request_id": rid, "label": y if len(y) > 1 else y[0]} for rid, y in sent]
