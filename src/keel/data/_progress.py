"""Long dataset work at a terminal: a Rich progress display, and Ctrl-C held while storing."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

__all__ = ["InterruptLedger", "StageProgress", "interrupts_held"]


@contextmanager
def interrupts_held(done: str) -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that arrives inside the block until the block has ended.

    For the few milliseconds that must not be cut in two (a file moved into the store
    and its metadata row written). A held interrupt is raised afterwards as
    ``KeyboardInterrupt(done)``, so a caller can tell the work was completed. Outside the
    main thread, where Python delivers no signals, this does nothing.

    Example::

        >>> with interrupts_held("iris@3 was registered"):
        ...     store_file_and_row()
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held and previous is not signal.SIG_IGN:
        raise KeyboardInterrupt(done)


class InterruptLedger:
    """Remember every Ctrl-C (SIGINT) inside the block, even one a library swallows.

    Python raises ``KeyboardInterrupt`` from its handler, and a C extension that checks
    for signals while it works (DuckDB, for one) may catch that exception and carry on
    when its work was just ending: the interrupt is then lost and the command completes
    as if nothing happened. The handler installed here raises as the default one does,
    and also writes the signal down, so :meth:`check` can raise it at the next safe
    point. Outside the main thread, where Python delivers no signals, this does nothing.

    Example::

        >>> with InterruptLedger() as ledger:
        ...     long_work()
        ...     ledger.check()  # raises KeyboardInterrupt if Ctrl-C came and was lost
    """

    def __init__(self) -> None:
        self.seen: list[int] = []
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> InterruptLedger:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is signal.default_int_handler:
                self._previous = signal.signal(signal.SIGINT, self._note)
                self._installed = True
        return self

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.seen.append(signum)
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a Ctrl-C came inside the block."""
        if self.seen:
            raise KeyboardInterrupt

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


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
