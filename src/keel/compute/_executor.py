"""The ``Executor`` interface every compute backend implements."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["Executor"]

T = TypeVar("T")


class Executor(abc.ABC):
    """Runs functions somewhere and hands back futures.

    Implementations: :class:`~keel.compute.SequentialExecutor` (in the calling
    process), :class:`~keel.compute.LocalProcessExecutor` (a pool of worker processes),
    and later a Ray executor. Functions and arguments must be picklable (module-level
    functions, plain data) so that every backend can ship them.

    Use an executor as a context manager, or call :meth:`shutdown`. Constructors do no
    work; resources start on first :meth:`submit`.
    """

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """A short name recorded with the work it ran (``sequential``, ``process``)."""

    @property
    @abc.abstractmethod
    def max_workers(self) -> int:
        """How many tasks may run at once."""

    @abc.abstractmethod
    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Schedule ``fn(*args, **kwargs)``; the future holds its result or exception."""

    @abc.abstractmethod
    def map(self, fn: Callable[..., T], *iterables: Iterable[Any]) -> Iterator[T]:
        """``fn`` over the zipped iterables; results in input order (raises the first error)."""

    @abc.abstractmethod
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Release workers; ``wait`` for running tasks; optionally cancel queued ones."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True, cancel_futures=exc[0] is not None)
