"""Compute: where work runs, behind one small :class:`Executor` interface.

``SequentialExecutor`` runs each task in the calling process, in order;
``LocalProcessExecutor`` runs tasks in parallel in fresh worker processes. A Ray
executor implements the same interface for a cluster. Tasks must be picklable:
module-level functions and plain data (pass references to big data, not the data).

Example::

    >>> from keel.compute import LocalProcessExecutor
    >>> with LocalProcessExecutor(max_workers=2) as ex:
    ...     print(list(ex.map(abs, [-1, -2])))
    [1, 2]
"""

from __future__ import annotations

from keel.compute._executor import Executor
from keel.compute._local import LocalProcessExecutor, SequentialExecutor, executor_for

__all__ = ["Executor", "LocalProcessExecutor", "SequentialExecutor", "executor_for"]
