"""Executors on this machine: in the calling process, or in a pool of worker processes."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from keel.compute._executor import Executor
from keel.errors import InvalidArgumentError

__all__ = ["LocalProcessExecutor", "SequentialExecutor", "executor_for"]

T = TypeVar("T")

_START_METHODS = ("spawn", "forkserver")
_EXECUTORS = ("sequential", "process")


def _check_workers(max_workers: int | None) -> int:
    if max_workers is None:
        return max(1, min(os.cpu_count() or 1, 8))
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise InvalidArgumentError(f"max_workers must be a positive integer; got {max_workers!r}")
    return max_workers


class SequentialExecutor(Executor):
    """Runs each task at once, in the calling process and thread.

    The future returned by :meth:`submit` is already done. Useful for debugging
    (breakpoints work) and for work too small to be worth a process.

    Example::

        >>> with SequentialExecutor() as ex:
        ...     ex.submit(pow, 2, 10).result()
        1024
    """

    def __init__(self) -> None:
        self._closed = False

    @property
    def name(self) -> str:
        return "sequential"

    @property
    def max_workers(self) -> int:
        return 1

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if self._closed:
            raise RuntimeError("cannot submit to a SequentialExecutor after shutdown()")
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # the future carries it, as a worker's future would
            future.set_exception(exc)
        return future

    def map(self, fn: Callable[..., T], *iterables: Iterable[Any]) -> Iterator[T]:
        if self._closed:
            raise RuntimeError("cannot map on a SequentialExecutor after shutdown()")
        return (fn(*args) for args in zip(*iterables, strict=False))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True


class LocalProcessExecutor(Executor):
    """Runs tasks in parallel in a pool of fresh worker processes.

    Workers start with ``spawn`` (or ``forkserver``), never ``fork``: they import what
    they need afresh, so no lock or connection of the parent leaks into them and the
    same code runs unchanged on Ray. The pool starts on the first :meth:`submit`.

    Args:
        max_workers: worker processes (default: the CPU count, at most 8).
        start_method: ``spawn`` (default) or ``forkserver``.

    Example::

        >>> with LocalProcessExecutor(max_workers=2) as ex:
        ...     futures = [ex.submit(pow, 2, n) for n in range(3)]
        ...     [f.result() for f in futures]
        [1, 2, 4]
    """

    def __init__(self, max_workers: int | None = None, start_method: str = "spawn") -> None:
        if start_method not in _START_METHODS:
            raise InvalidArgumentError(
                f"start_method {start_method!r} is not supported; use one of "
                f"{', '.join(_START_METHODS)} (fork is unsafe with threads and connections)"
            )
        self._max_workers = _check_workers(max_workers)
        self._start_method = start_method
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def name(self) -> str:
        return "process"

    @property
    def max_workers(self) -> int:
        return self._max_workers

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a LocalProcessExecutor after shutdown()")
            if self._pool is None:
                import multiprocessing

                self._pool = ProcessPoolExecutor(
                    max_workers=self._max_workers,
                    mp_context=multiprocessing.get_context(self._start_method),
                )
            return self._pool

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self._get_pool().submit(fn, *args, **kwargs)

    def map(self, fn: Callable[..., T], *iterables: Iterable[Any]) -> Iterator[T]:
        return self._get_pool().map(fn, *iterables)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def executor_for(name: str, max_workers: int | None = None) -> Executor:
    """The executor called ``name`` (``sequential`` or ``process``).

    Args:
        name: ``sequential`` or ``process``.
        max_workers: for ``process``, the number of worker processes.

    Raises:
        InvalidArgumentError: the name is unknown.

    Example::

        >>> executor_for("process", max_workers=2).max_workers
        2
    """
    if name == "sequential":
        return SequentialExecutor()
    if name == "process":
        return LocalProcessExecutor(max_workers=max_workers)
    raise InvalidArgumentError(f"executor {name!r} is unknown; use one of: {', '.join(_EXECUTORS)}")
