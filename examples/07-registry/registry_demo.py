"""Model registry and governance, end to end, on the embedded defaults.

Registers the raw iris CSV as a dataset, trains three models with keel.train, registers
them, promotes the first to champion through policy.yaml, fails to promote a
deliberately worse one (the gate result says which check failed and why), promotes a
better one, rolls back, then runs ``keel audit verify`` (the chain and the state it explains),
``keel audit head`` (the anchor to keep elsewhere) and ``keel lineage iris@champion``.

Run it from any folder (it writes ./data and ./.keel there)::

    python examples/07-registry/registry_demo.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

POLICY = Path(__file__).with_name("policy.yaml")


def keel_cli(*args: str) -> None:
    """Run the ``keel`` console script (the one installed next to this Python)."""
    exe = Path(sys.executable).with_name("keel")
    command = [str(exe)] if exe.exists() else [shutil.which("keel") or "keel"]
    print(f"\n$ keel {' '.join(args)}", flush=True)
    subprocess.run([*command, *args], check=True)


def main() -> None:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    import keel
    import keel.datasets
    import keel.governance

    # 1. The raw CSV becomes a validated, versioned dataset, split into train/test.
    frame = load_iris(as_frame=True).frame
    frame.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in frame.columns]
    frame["species"] = frame.pop("target").map({0: "setosa", 1: "versicolor", 2: "virginica"})
    Path("data").mkdir(exist_ok=True)
    frame.to_csv("data/iris.csv", index=False)
    keel.datasets.register("data/iris.csv", "iris")
    parts = keel.datasets.split("iris", {"train": 0.7, "test": 0.3}, stratify="species")

    def train_and_register(model: object, run_name: str) -> int:
        result = keel.train(
            model,
            parts["train"],
            target="species",
            test_data=parts["test"],
            experiment="iris",
            run_name=run_name,
            cv=3,
            evaluation=["accuracy", "f1_macro"],
        )
        version = keel.models.register(result.run_id, "iris")
        print(
            f"registered {version.uri} ({run_name}): test.f1_macro = "
            f"{version.metrics['test.f1_macro']:.3f}, ONNX parity "
            f"{version.details['onnx'].get('max_abs_diff', 'n/a')}"
        )
        return version.version

    # 2. Two models: a good forest and a deliberately worse baseline.
    first = train_and_register(RandomForestClassifier(n_estimators=30, random_state=0), "forest")
    worse = train_and_register(DecisionTreeClassifier(max_depth=1), "stump")

    # 3. The first becomes champion through the policy.
    outcome = keel.models.promote("iris", first, to="champion", policy=POLICY)
    print(outcome.message)
    assert outcome.status == "promoted"

    # 4. The worse one is refused; the gate result says which checks failed and why.
    outcome = keel.models.promote("iris", worse, to="champion", policy=POLICY)
    assert outcome.status == "rejected" and outcome.gate is not None
    print(f"refused iris/{worse}:")
    for check in outcome.gate.checks:
        value = f"{check.value:.4g}" if isinstance(check.value, float) else check.value
        print(f"  {check.verdict:4}  {check.check:42}  value={value}  bound={check.bound}")
        print(f"        {check.detail}")

    # 5. A better one passes, then an incident: roll back to the previous champion.
    better = train_and_register(LogisticRegression(max_iter=500), "logistic")
    outcome = keel.models.promote("iris", better, to="champion", policy=POLICY)
    print(outcome.message)
    assert outcome.status == "promoted"
    print(keel.models.rollback("iris", "champion", reason="latency incident").message)
    assert keel.models.get("iris@champion").version == first

    # 6. The audit chain verifies; lineage leads from the champion back to the raw CSV.
    assert keel.governance.verify().ok
    keel_cli("models", "history", "iris")
    keel_cli("audit", "verify")
    keel_cli("audit", "head")  # keep HASH:COUNT elsewhere; `keel audit verify --expect` it later
    keel_cli("lineage", "iris@champion")


if __name__ == "__main__":
    main()
