"""Digits: a small PyTorch network (one hidden layer) trained through keel.torch, with
per-epoch loss and validation accuracy logged and early stopping.

Run: python examples/06-deep-learning/digits_torch.py   (needs: pip install 'keel[torch]')
"""

from __future__ import annotations

import os

from sklearn.datasets import load_digits

import keel
from keel.torch import TorchClassifier


def main() -> keel.training.TrainingResult:
    quick = os.environ.get("KEEL_EXAMPLE_QUICK") == "1"
    digits = load_digits(as_frame=True).frame.rename(columns={"target": "digit"})
    test = digits.sample(frac=0.2, random_state=0)
    train = digits.drop(test.index)
    result = keel.train(
        TorchClassifier(
            module="mlp",
            module_params={"hidden": [64], "dropout": 0.1},
            lr=3e-3,
            epochs=8 if quick else 40,
            batch_size=64,
            patience=5,
        ),
        train,
        target="digit",
        test_data=test,
        cv=3,
        experiment="digits",
        run_name="mlp",
        dataset_name="digits",
        intended_use="Teaching example: recognise 8x8 handwritten digits.",
    )
    print(result)
    print(f"details: keel runs show {result.run_id}")
    return result


if __name__ == "__main__":
    main()
