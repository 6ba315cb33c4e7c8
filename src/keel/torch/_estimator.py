"""scikit-learn-API estimators that train a torch module (torch imported lazily)."""

from __future__ import annotations

import abc
import copy
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from keel.errors import InvalidArgumentError, MissingExtraError

__all__ = ["TorchClassifier", "TorchRegressor"]

_OPTIMIZERS = ("adam", "adamw", "sgd")


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingExtraError.for_extra("torch", "torch") from exc
    return torch


def resolve_factory(module: str | Callable[..., Any]) -> Callable[..., Any]:
    """The module factory: ``"mlp"``, ``"package.module:function"`` or a callable."""
    if callable(module):
        return module
    if module == "mlp":
        from keel.torch._modules import MLP

        return MLP
    if isinstance(module, str) and ":" in module:
        mod, _, attr = module.partition(":")
        try:
            return getattr(importlib.import_module(mod), attr)  # type: ignore[no-any-return]
        except (ImportError, AttributeError) as exc:
            raise InvalidArgumentError(
                f"module factory {module!r} cannot be imported: {exc}"
            ) from None
    raise InvalidArgumentError(
        f"module={module!r} is not understood; use 'mlp', 'package.module:factory' or a "
        "callable factory(n_features, n_outputs, **module_params) -> torch.nn.Module"
    )


class _TorchEstimator(BaseEstimator, abc.ABC):  # type: ignore[misc]
    """Shared fitting loop. Subclasses define the loss, the targets and the metric."""

    _keel_torch = True

    def __init__(
        self,
        module: str | Callable[..., Any] = "mlp",
        module_params: Mapping[str, Any] | None = None,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        epochs: int = 20,
        batch_size: int = 64,
        validation_fraction: float = 0.1,
        patience: int | None = 5,
        random_state: int = 0,
        num_threads: int = 1,
    ) -> None:
        self.module = module
        self.module_params = module_params
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.num_threads = num_threads

    @abc.abstractmethod
    def _targets(self, y: Any) -> tuple[Any, int]:
        """The encoded targets and the number of outputs."""

    @abc.abstractmethod
    def _loss(self) -> Any:
        """The torch loss module."""

    @abc.abstractmethod
    def _metric(self, out: Any, target: Any) -> dict[str, float]:
        """Validation metrics logged per epoch."""

    def _check_params(self) -> None:
        if self.optimizer not in _OPTIMIZERS:
            raise InvalidArgumentError(
                f"optimizer {self.optimizer!r} is unknown; use one of: {', '.join(_OPTIMIZERS)}"
            )
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"{name} must be a positive integer; got {value!r}")
        if not 0 <= self.validation_fraction < 1:
            raise InvalidArgumentError(
                f"validation_fraction must be in [0, 1); got {self.validation_fraction!r}"
            )

    def fit(self, X: Any, y: Any) -> _TorchEstimator:
        """Train for up to ``epochs`` epochs; stop early on the validation loss."""
        import numpy as np

        self._check_params()
        torch = _torch()
        torch.set_num_threads(self.num_threads)
        torch.manual_seed(self.random_state)
        Xn = np.asarray(X, dtype=np.float32)
        self.n_features_in_ = Xn.shape[1]
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        targets, n_outputs = self._targets(y)
        mean = Xn.mean(axis=0)
        scale = Xn.std(axis=0)
        scale[scale == 0] = 1.0
        factory = resolve_factory(self.module)
        params = dict(self.module_params or {})
        self.builtin_ = self.module == "mlp"
        if self.builtin_:
            params.update(mean=mean.tolist(), scale=scale.tolist())
            self.input_mean_ = None
            self.input_scale_ = None
        else:
            self.input_mean_, self.input_scale_ = mean, scale
        self.init_kwargs_ = {"n_features": int(Xn.shape[1]), "n_outputs": n_outputs, **params}
        net = factory(**self.init_kwargs_)
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(len(Xn))
        n_val = int(len(Xn) * self.validation_fraction)
        val_idx, tr_idx = order[:n_val], order[n_val:]
        xt = torch.from_numpy(self._scale(Xn))
        yt = torch.from_numpy(targets)
        opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
        opt = opt_cls[self.optimizer](net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = self._loss()
        best_loss, best_state, best_epoch, bad = float("inf"), None, 0, 0
        self.history_: list[dict[str, float]] = []
        for epoch in range(self.epochs):
            net.train()
            perm = torch.from_numpy(rng.permutation(tr_idx))
            total = 0.0
            for start in range(0, len(perm), self.batch_size):
                idx = perm[start : start + self.batch_size]
                opt.zero_grad()
                loss = loss_fn(net(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            row = {"epoch": epoch, "train_loss": total / max(1, len(perm))}
            if n_val:
                net.eval()
                with torch.no_grad():
                    out = net(xt[val_idx])
                    val_loss = float(loss_fn(out, yt[val_idx]))
                row.update({"val_loss": val_loss, **self._metric(out, yt[val_idx])})
                if val_loss < best_loss - 1e-6:
                    best_loss, best_epoch, bad = val_loss, epoch, 0
                    best_state = copy.deepcopy(net.state_dict())
                else:
                    bad += 1
            self.history_.append(row)
            if n_val and self.patience is not None and bad >= self.patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.best_epoch_ = best_epoch if n_val else len(self.history_) - 1
        self.n_epochs_ = len(self.history_)
        net.eval()
        self.module_ = net
        return self

    def _scale(self, Xn: Any) -> Any:
        if getattr(self, "input_mean_", None) is None:
            return Xn
        return ((Xn - self.input_mean_) / self.input_scale_).astype("float32")

    def _forward(self, X: Any) -> Any:
        import numpy as np
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "module_")
        torch = _torch()
        xt = torch.from_numpy(self._scale(np.asarray(X, dtype=np.float32)))
        with torch.no_grad():
            return self.module_(xt)


class TorchClassifier(ClassifierMixin, _TorchEstimator):  # type: ignore[misc]
    """Trains a torch module with cross-entropy; ``predict_proba`` is the softmax.

    Example::

        >>> clf = TorchClassifier(module_params={"hidden": [32]}, epochs=10).fit(X, y)
        >>> clf.predict(X[:3])
    """

    def _targets(self, y: Any) -> tuple[Any, int]:
        import numpy as np

        self.classes_, idx = np.unique(np.asarray(y), return_inverse=True)
        if len(self.classes_) < 2:
            raise InvalidArgumentError("TorchClassifier needs at least two classes in y")
        return idx.astype(np.int64), len(self.classes_)

    def _loss(self) -> Any:
        return _torch().nn.CrossEntropyLoss()

    def _metric(self, out: Any, target: Any) -> dict[str, float]:
        return {"val_accuracy": float((out.argmax(dim=1) == target).float().mean())}

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (softmax of the module's output)."""
        return _torch().softmax(self._forward(X), dim=1).numpy()

    def predict(self, X: Any) -> Any:
        """The most probable class."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class TorchRegressor(RegressorMixin, _TorchEstimator):  # type: ignore[misc]
    """Trains a torch module with mean squared error on one output."""

    def _targets(self, y: Any) -> tuple[Any, int]:
        import numpy as np

        return np.asarray(y, dtype=np.float32).reshape(-1, 1), 1

    def _loss(self) -> Any:
        return _torch().nn.MSELoss()

    def _metric(self, out: Any, target: Any) -> dict[str, float]:
        return {"val_mae": float((out - target).abs().mean())}

    def predict(self, X: Any) -> Any:
        """Predicted values."""
        return self._forward(X).numpy().ravel()
