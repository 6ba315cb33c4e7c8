"""Ready-made torch modules (this module imports torch; import it lazily)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """A multilayer perceptron that standardises its input itself.

    Standardisation lives in buffers, so the saved state dict and these constructor
    arguments rebuild a module that predicts on raw features.

    Args:
        n_features: input width.
        n_outputs: output width (classes, or 1 for regression).
        hidden: sizes of the hidden layers.
        dropout: dropout after each hidden layer.
        mean: per-feature mean subtracted first (zeros by default).
        scale: per-feature scale divided by next (ones by default).
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden: Sequence[int] = (64,),
        dropout: float = 0.0,
        mean: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.n_outputs = n_outputs
        self.hidden = list(hidden)
        self.dropout = dropout
        self.mean = list(mean) if mean is not None else None
        self.scale = list(scale) if scale is not None else None
        self.register_buffer("mean_", torch.tensor(self.mean if self.mean else [0.0] * n_features))
        self.register_buffer(
            "scale_", torch.tensor(self.scale if self.scale else [1.0] * n_features)
        )
        layers: list[nn.Module] = []
        width = n_features
        for size in self.hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net((x - self.get_buffer("mean_")) / self.get_buffer("scale_"))
        return out
