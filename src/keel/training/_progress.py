"""The progress line of ``keel.train``: stages, search trials and folds, on stderr.

One Rich progress line shows what the run is doing (search, cross-validation, refit,
evaluation, saving the model). Search workers run in other processes: each appends its
events (a fold scored, a trial ended) as JSON lines to a file next to the shared Optuna
journal, and the parent follows that file while it waits for them, so every worker's
progress reaches the one line in the parent.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

__all__ = [
    "ProgressFile",
    "ProgressFileReader",
    "SearchEvents",
    "SearchProgress",
    "TrainingProgress",
]


class SearchEvents(Protocol):
    """Where a search reports its trials' progress."""

    def fold_done(self, trial: int, fold: int) -> None:
        """Trial ``trial`` scored its fold ``fold`` (0-based)."""

    def trial_done(self, trial: int, state: str) -> None:
        """Trial ``trial`` ended: ``complete``, ``pruned`` or ``fail``."""


class TrainingProgress:
    """One progress line on stderr for a training run; every method is a no-op when
    ``enabled`` is false.

    Example::

        >>> with TrainingProgress(enabled=True, label="iris") as bar:
        ...     bar.stage("cross-validation", total=5)
        ...     bar.advance("cross-validation: fold 1/5")
    """

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled = enabled
        self.label = label
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> TrainingProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._progress.start()
            self._task = self._progress.add_task(f"{self.label}: starting", total=1)
        return self

    def stage(self, description: str, total: int = 1) -> None:
        """Start a stage of ``total`` steps (the bar restarts from zero)."""
        if self._progress is not None:
            self._progress.update(
                self._task,
                description=f"{self.label}: {description}",
                total=max(1, total),
                completed=0,
                refresh=True,
            )

    def update(self, description: str, completed: int) -> None:
        """Show ``completed`` steps of the current stage done."""
        if self._progress is not None:
            self._progress.update(
                self._task,
                description=f"{self.label}: {description}",
                completed=completed,
                refresh=True,
            )

    def advance(self, description: str | None = None) -> None:
        """One more step of the current stage done."""
        if self._progress is not None:
            extra = {} if description is None else {"description": f"{self.label}: {description}"}
            self._progress.update(self._task, advance=1, refresh=True, **extra)

    def search(self, n_trials: int, n_folds: int, n_workers: int = 1) -> SearchProgress | None:
        """The receiver of a search's events, or ``None`` when the line is not shown."""
        if self._progress is None:
            return None
        return SearchProgress(self, n_trials, n_folds, n_workers)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is None:
            return
        task = self._progress.tasks[0]
        if exc_type is None:
            self._progress.update(
                self._task, description=f"{self.label}: done", completed=task.total
            )
        else:
            self._progress.update(
                self._task, description=f"{self.label}: stopped ({exc_type.__name__})"
            )
        self._progress.stop()
        self._progress = None


class SearchProgress:
    """Turns search events into the progress line: trials ended, folds scored."""

    def __init__(
        self, bar: TrainingProgress, n_trials: int, n_folds: int, n_workers: int = 1
    ) -> None:
        self.bar = bar
        self.n_trials = n_trials
        self.n_folds = max(1, n_folds)
        self._folds: dict[int, int] = {}
        self._ended: dict[int, str] = {}
        starting = f" (starting {n_workers} worker processes)" if n_workers > 1 else ""
        bar.stage(self._text() + starting, total=n_trials * self.n_folds)

    def _text(self, trial: int | None = None, fold: int | None = None) -> str:
        text = f"search: {len(self._ended)}/{self.n_trials} trials"
        failed = sum(state == "fail" for state in self._ended.values())
        if failed:
            text += f" ({failed} failed)"
        if trial is not None and fold is not None and self.n_folds > 1:
            text += f" · trial {trial} fold {fold + 1}/{self.n_folds}"
        return text

    def _completed(self) -> int:
        running = (min(k, self.n_folds) for t, k in self._folds.items() if t not in self._ended)
        return len(self._ended) * self.n_folds + sum(running)

    def fold_done(self, trial: int, fold: int) -> None:
        """Trial ``trial`` scored its fold ``fold``."""
        self._folds[trial] = max(self._folds.get(trial, 0), fold + 1)
        self.bar.update(self._text(trial, fold), self._completed())

    def trial_done(self, trial: int, state: str) -> None:
        """Trial ``trial`` ended in ``state``."""
        self._ended[trial] = state
        self.bar.update(self._text(), self._completed())


class ProgressFile:
    """A search worker's events, appended as JSON lines to ``path`` (one write each)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _write(self, event: dict[str, Any]) -> None:
        # one short write in append mode: lines from several workers do not interleave
        with Path(self.path).open("a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")

    def fold_done(self, trial: int, fold: int) -> None:
        """Record that trial ``trial`` scored its fold ``fold``."""
        self._write({"trial": trial, "fold": fold})

    def trial_done(self, trial: int, state: str) -> None:
        """Record that trial ``trial`` ended in ``state``."""
        self._write({"trial": trial, "state": state})


class ProgressFileReader:
    """Follows a :class:`ProgressFile` and passes each new event on to ``events``."""

    def __init__(self, path: str, events: SearchEvents) -> None:
        self.path = Path(path)
        self.events = events
        self._offset = 0

    def poll(self) -> None:
        """Pass on every complete event line written since the last call."""
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next poll
        self._offset += end
        for line in data[:end].splitlines():
            try:
                event = json.loads(line)
                trial = int(event["trial"])
                if "state" in event:
                    self.events.trial_done(trial, str(event["state"]))
                else:
                    self.events.fold_done(trial, int(event["fold"]))
            except (ValueError, KeyError, TypeError):
                continue  # a damaged line costs one update of the display, never the search
