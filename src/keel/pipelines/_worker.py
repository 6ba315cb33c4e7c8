"""What runs where the executor puts it: one step, with its logs captured.

:func:`run_step` is a module-level function taking one picklable :class:`StepTask`, so
every executor (in-process, process pool, Ray) can ship it. It loads the step's inputs
from their stored references, calls the function (retrying as configured), stores the
outputs and returns references to them — never the data itself.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import time
import traceback as tb
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel._clock import now_ms
from keel.context import Context, ContextSpec
from keel.store import StepOutput

if TYPE_CHECKING:
    from keel.pipelines._step import Step

__all__ = ["StepResult", "StepTask", "run_step"]


@dataclass(frozen=True)
class InputRef:
    """Where a parameter's value comes from: stored outputs of an upstream step."""

    outputs: tuple[StepOutput, ...]
    whole_step: bool  # a multi-output step used as a whole: pass a dict of its outputs


@dataclass(frozen=True)
class StepTask:
    """Everything a worker needs to run one step (all picklable, no big data)."""

    step: Step
    step_run_id: str
    pipeline_name: str
    params: Mapping[str, Any]
    inputs: Mapping[str, InputRef]
    context: ContextSpec  # its store URI may carry a password: left out of its repr
    parent_pid: int = field(default_factory=os.getpid)


@dataclass(frozen=True)
class StepResult:
    """What a worker hands back: references to outputs, logs, and any error."""

    ok: bool
    outputs: tuple[StepOutput, ...] = ()
    logs: str = ""
    error: str | None = None
    traceback: str | None = None
    attempts: int = 0
    start_time: int = 0
    end_time: int = 0


class _LogBuffer(io.TextIOBase):
    """A text sink shared by stdout, stderr and the logging handler."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
        return len(text)

    def getvalue(self) -> str:
        with self._lock:
            return "".join(self._parts)


@contextlib.contextmanager
def _captured(buffer: _LogBuffer) -> Iterator[None]:
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@contextlib.contextmanager
def _context_for(task: StepTask) -> Iterator[Context]:
    """The parent's context when running in its process, else one built from the task's
    description of it, current while the step runs: the step's own keel calls (the
    fluent API, ``keel.datasets``) go to the same store either way."""
    from keel.context import current_context

    if os.getpid() == task.parent_pid:
        yield current_context()  # the orchestrator made the pipeline's context current
        return
    from keel.tracking import Client, use_client

    context = Context.from_spec(task.context)
    # the step's fluent calls (keel.start_run, keel.log_metric) get a client of their
    # own on this context, closed (its queued metric values written) after the step
    client = Client(context=context)
    try:
        with use_client(client):  # the client, and so its context, are current
            yield context
    finally:
        try:
            client.close()
        finally:
            context.close()


def _load_inputs(task: StepTask, context: Context) -> dict[str, Any]:
    from keel.pipelines._values import load_value

    hints = task.step.type_hints()
    values: dict[str, Any] = {}
    for param, ref in task.inputs.items():
        annotation = hints.get(param)
        if ref.whole_step:
            values[param] = {o.name: load_value(o, context) for o in ref.outputs}
        else:
            values[param] = load_value(ref.outputs[0], context, annotation)
    return values


def _split_outputs(step: Step, result: Any) -> dict[str, Any]:
    from keel.pipelines._values import StepOutputError

    if not step.outputs:
        return {"return": result}
    names = step.outputs
    if isinstance(result, dict):
        if set(result) != set(names):
            raise StepOutputError(
                f"step {step.name!r} declares outputs {list(names)} but returned a dict with "
                f"keys {sorted(map(str, result))}; return exactly those keys"
            )
        return {n: result[n] for n in names}
    if isinstance(result, tuple | list) and len(result) == len(names):
        return dict(zip(names, result, strict=True))
    got = (
        f"{type(result).__name__} of length {len(result)}"
        if isinstance(result, tuple | list)
        else type(result).__name__
    )
    raise StepOutputError(
        f"step {step.name!r} declares outputs {list(names)} but returned a {got}; return a "
        f"tuple of {len(names)} values or a dict with those keys"
    )


def dataset_name(pipeline_name: str, step_name: str, output: str) -> str:
    """The dataset name a table output is registered under: ``pipeline.step[.output]``."""
    import re

    base = (
        f"{pipeline_name}.{step_name}"
        if output == "return"
        else (f"{pipeline_name}.{step_name}.{output}")
    )
    # dataset names are lowercase letters, digits, '.', '_' and '-'
    return re.sub(r"[^a-z0-9._-]", "-", base.lower())


def run_step(task: StepTask) -> StepResult:
    """Run one step where the executor put it; errors come back in the result.

    Args:
        task: the step, its params and references to its inputs.

    Returns:
        A :class:`StepResult` with output references, captured logs, and the error and
        traceback of the last attempt if every attempt failed.
    """
    from keel.pipelines._values import StepOutputError, store_value

    step = task.step
    start = now_ms()
    buffer = _LogBuffer()
    attempts = 0
    error: str | None = None
    trace: str | None = None
    with _context_for(task) as context:
        try:
            kwargs = _load_inputs(task, context)
        except Exception as exc:
            return StepResult(
                ok=False,
                error=f"could not load the inputs of step {step.name!r}: "
                f"{type(exc).__name__}: {exc}",
                traceback=tb.format_exc(),
                start_time=start,
                end_time=now_ms(),
            )
        kwargs.update(task.params)
        total = step.retries + 1
        result: Any = None
        for attempt in range(1, total + 1):
            attempts = attempt
            if total > 1:
                buffer.write(f"--- attempt {attempt} of {total} ---\n")
            try:
                with _captured(buffer):
                    result = step.fn(**kwargs)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                trace = tb.format_exc()
                buffer.write(f"attempt {attempt} failed: {error}\n")
                if attempt < total and step.retry_delay:
                    time.sleep(step.retry_delay)
                continue
            error = trace = None
            break
        if error is not None:
            return StepResult(False, (), buffer.getvalue(), error, trace, attempts, start, now_ms())
        try:
            values = _split_outputs(step, result)
            outputs = tuple(
                store_value(
                    value,
                    output_name=name,
                    dataset_name=dataset_name(task.pipeline_name, step.name, name),
                    label=dataset_name(task.pipeline_name, step.name, name),
                    allow_pickle=step.allow_pickle,
                    context=context,
                )
                for name, value in values.items()
            )
        except StepOutputError as exc:
            return StepResult(
                False, (), buffer.getvalue(), str(exc), None, attempts, start, now_ms()
            )
        except Exception as exc:
            return StepResult(
                False,
                (),
                buffer.getvalue(),
                f"could not store the outputs of step {step.name!r}: {type(exc).__name__}: {exc}",
                tb.format_exc(),
                attempts,
                start,
                now_ms(),
            )
    return StepResult(True, outputs, buffer.getvalue(), None, None, attempts, start, now_ms())
