"""A Rich progress display for long dataset work (ingest, profile, validate, store)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

__all__ = ["StageProgress"]


class StageProgress:
    """One progress bar per stage, on stderr; a no-op when ``enabled`` is false.

    Example::

        >>> with StageProgress(enabled=True) as p:
        ...     p.stage("reading data.csv")
        ...     p.update(0.5)
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> StageProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
        return self

    def stage(self, description: str) -> None:
        """Finish the current stage and start another."""
        if self._progress is None:
            return
        self._finish()
        self._task = self._progress.add_task(description, total=1.0)

    def update(self, fraction: float) -> None:
        """Set the current stage's completed fraction (0-1)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=max(0.0, min(1.0, fraction)))

    def _finish(self) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=1.0)
            self._task = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            if exc_type is None:
                self._finish()
            self._progress.stop()
            self._progress = None
