"""The Executor interface and its local implementations, with real worker processes."""

from __future__ import annotations

import importlib
import os
from concurrent.futures import Future
from pathlib import Path
from types import ModuleType

import pytest

from keel.compute import Executor, LocalProcessExecutor, SequentialExecutor, executor_for
from keel.errors import InvalidArgumentError


@pytest.fixture
def tasks(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The task module, importable by name in spawned worker processes too."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("keel_test_compute_tasks")


def test_every_method_of_the_interface_is_abstract(tasks: ModuleType) -> None:
    assert Executor.__abstractmethods__ == {"name", "max_workers", "submit", "map", "shutdown"}
    with pytest.raises(TypeError):
        Executor()  # type: ignore[abstract]


def test_sequential_runs_in_this_process_and_returns_done_futures(tasks: ModuleType) -> None:
    with SequentialExecutor() as ex:
        future = ex.submit(tasks.square, 7)
        assert isinstance(future, Future) and future.done()
        assert future.result() == 49
        assert ex.submit(tasks.pid).result() == os.getpid()
        assert list(ex.map(tasks.square, [1, 2, 3])) == [1, 4, 9]
        failing = ex.submit(tasks.fail, "boom")
        with pytest.raises(ValueError, match="boom"):
            failing.result()
    assert ex.name == "sequential" and ex.max_workers == 1
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(tasks.square, 1)


def test_process_executor_runs_in_other_processes_and_carries_errors(tasks: ModuleType) -> None:
    with LocalProcessExecutor(max_workers=2) as ex:
        assert ex.submit(tasks.square, 9).result(timeout=120) == 81
        assert ex.submit(tasks.pid).result(timeout=120) != os.getpid()
        assert list(ex.map(tasks.square, [1, 2, 3])) == [1, 4, 9]
        with pytest.raises(ValueError, match="from a worker"):
            ex.submit(tasks.fail, "from a worker").result(timeout=120)
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(tasks.square, 1)


def test_process_executor_runs_tasks_in_parallel(tasks: ModuleType, tmp_path: Path) -> None:
    with LocalProcessExecutor(max_workers=2) as ex:
        a = ex.submit(tasks.rendezvous, str(tmp_path), "a", "b")
        b = ex.submit(tasks.rendezvous, str(tmp_path), "b", "a")
        assert (a.result(timeout=120), b.result(timeout=120)) == ("together", "together")


def test_constructors_start_nothing_and_validate_arguments(tasks: ModuleType) -> None:
    ex = LocalProcessExecutor(max_workers=3, start_method="forkserver")
    assert ex.max_workers == 3 and ex.name == "process"
    ex.shutdown()  # nothing was started; nothing to wait for
    with pytest.raises(InvalidArgumentError, match="fork is unsafe"):
        LocalProcessExecutor(start_method="fork")
    with pytest.raises(InvalidArgumentError, match="max_workers"):
        LocalProcessExecutor(max_workers=0)


def test_executor_for_names(tasks: ModuleType) -> None:
    assert isinstance(executor_for("sequential"), SequentialExecutor)
    assert executor_for("process", max_workers=2).max_workers == 2
    with pytest.raises(InvalidArgumentError, match="sequential, process"):
        executor_for("ray")
