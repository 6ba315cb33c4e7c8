"""``keel.Pipeline``: steps composed into a DAG by their data dependencies."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidArgumentError
from keel.pipelines._step import ParamSpec, Step

if TYPE_CHECKING:
    from keel.compute import Executor
    from keel.context import Context
    from keel.pipelines._runner import StepEvent
    from keel.store import PipelineRun

__all__ = ["Dependency", "Pipeline"]

_PIPELINE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")


class Dependency:
    """A parameter fed by an upstream step: the whole step, or one named output."""

    __slots__ = ("output", "param", "step")

    def __init__(self, param: str, step: str, output: str | None) -> None:
        self.param = param
        self.step = step
        self.output = output

    def __repr__(self) -> str:
        target = self.step if self.output is None else f"{self.step}.{self.output}"
        return f"Dependency({self.param} <- {target})"


class Pipeline:
    """A named DAG of :func:`~keel.step` functions.

    Each step's parameters that are named after another step (or wired with
    ``@keel.step(inputs=...)``) receive that step's output; the others are params. The
    DAG is checked when the pipeline is built: unknown wiring and cycles are errors.

    Args:
        name: the pipeline's name (letters, digits, ``_`` and ``-``); table outputs are
            registered as datasets named ``<name>.<step>``.
        steps: the steps, in any order.
        description: one line shown by ``keel pipelines list``.

    Example::

        >>> @keel.step
        ... def numbers(n: int = 5) -> list[int]:
        ...     return list(range(n))
        >>> @keel.step
        ... def total(numbers: list[int]) -> int:
        ...     return sum(numbers)
        >>> pipe = keel.Pipeline("sums", [numbers, total])
        >>> run = pipe.run(params={"n": 10})
        >>> run.step("total").status
        <StepStatus.FINISHED: 'FINISHED'>
    """

    def __init__(self, name: str, steps: Sequence[Step], *, description: str = "") -> None:
        if not isinstance(name, str) or not _PIPELINE_NAME.match(name):
            raise InvalidArgumentError(
                f"pipeline name {name!r} is invalid: use letters, digits, '_' and '-', "
                "starting with a letter or digit (at most 128 characters)"
            )
        if isinstance(steps, Step) or not isinstance(steps, Sequence) or not steps:
            raise InvalidArgumentError(
                f"pipeline {name!r} needs a non-empty list of steps; got {steps!r}"
            )
        by_name: dict[str, Step] = {}
        for s in steps:
            if not isinstance(s, Step):
                raise InvalidArgumentError(
                    f"pipeline {name!r}: {s!r} is not a step; decorate the function with @keel.step"
                )
            if s.name in by_name:
                raise InvalidArgumentError(
                    f"pipeline {name!r} has two steps named {s.name!r}; rename one with "
                    "@keel.step(name=...)"
                )
            by_name[s.name] = s
        self.name = name
        self.description = description
        self._steps = by_name
        self._deps = {s.name: self._dependencies(s) for s in by_name.values()}
        self._order = self._topological_order()

    # -- structure ----------------------------------------------------------------------

    def _dependencies(self, s: Step) -> list[Dependency]:
        deps = []
        for param in s.signature.parameters:
            target = s.inputs.get(param)
            if target is None:
                if param in self._steps and param != s.name:
                    deps.append(Dependency(param, param, None))
                continue
            step_name, _, output = target.partition(".")
            upstream = self._steps.get(step_name)
            if upstream is None or step_name == s.name:
                known = ", ".join(n for n in self._steps if n != s.name) or "none"
                raise InvalidArgumentError(
                    f"pipeline {self.name!r}: step {s.name!r} wires parameter {param!r} to "
                    f"{target!r}, but there is no other step {step_name!r}; steps: {known}"
                )
            if output:
                if output not in upstream.outputs:
                    declared = ", ".join(upstream.outputs) or "one unnamed output"
                    raise InvalidArgumentError(
                        f"pipeline {self.name!r}: step {s.name!r} wires parameter {param!r} "
                        f"to {target!r}, but step {step_name!r} has no output {output!r}; "
                        f"it has: {declared}"
                    )
                deps.append(Dependency(param, step_name, output))
            else:
                deps.append(Dependency(param, step_name, None))
        return deps

    def _topological_order(self) -> list[str]:
        names = list(self._steps)
        remaining = {n: {d.step for d in self._deps[n]} for n in names}
        order: list[str] = []
        while remaining:
            ready = [n for n in names if n in remaining and not remaining[n]]
            if not ready:
                cycle = " -> ".join(sorted(remaining))
                raise InvalidArgumentError(
                    f"pipeline {self.name!r} has a cycle among steps: {cycle}; a step cannot "
                    "depend (directly or not) on its own output"
                )
            for n in ready:
                order.append(n)
                del remaining[n]
            for deps in remaining.values():
                deps.difference_update(ready)
        return order

    @property
    def steps(self) -> tuple[Step, ...]:
        """The steps in topological order (declaration order among independent ones)."""
        return tuple(self._steps[n] for n in self._order)

    def step(self, name: str) -> Step:
        """The step called ``name``."""
        try:
            return self._steps[name]
        except KeyError:
            raise InvalidArgumentError(
                f"pipeline {self.name!r} has no step {name!r}; steps: {', '.join(self._order)}"
            ) from None

    def dependencies(self, step_name: str) -> list[Dependency]:
        """The parameters of a step fed by upstream steps."""
        return list(self._deps[step_name])

    def upstream(self, step_name: str) -> tuple[str, ...]:
        """Names of the steps a step depends on directly (no duplicates, in order)."""
        return tuple(dict.fromkeys(d.step for d in self._deps[step_name]))

    @property
    def dag(self) -> dict[str, tuple[str, ...]]:
        """Step name -> names of the steps it depends on, in topological order."""
        return {n: self.upstream(n) for n in self._order}

    def param_specs(self) -> list[ParamSpec]:
        """Every step's typed params, in topological order."""
        specs: list[ParamSpec] = []
        for n in self._order:
            specs.extend(self._steps[n].param_specs([d.param for d in self._deps[n]]))
        return specs

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, steps={self._order})"

    # -- running ------------------------------------------------------------------------

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        executor: str | Executor = "sequential",
        max_workers: int | None = None,
        context: Context | None = None,
        on_event: Callable[[StepEvent], None] | None = None,
        raise_on_failure: bool = True,
    ) -> PipelineRun:
        """Run the pipeline: each step runs, or reuses a cached result, once its inputs exist.

        Args:
            params: values for the steps' params, by name (``test_size``) or
                qualified by step (``split.test_size``). Text is coerced to the
                annotated types.
            executor: ``"sequential"``, ``"process"`` (independent steps in parallel
                worker processes) or an :class:`~keel.compute.Executor` (not shut down).
            max_workers: worker processes for ``"process"``.
            context: where runs, datasets and artifacts go
                (:func:`keel.context.current_context` by default).
            on_event: called in this process each time a step changes status.
            raise_on_failure: raise :class:`PipelineFailedError` (which carries the run)
                if a step failed; otherwise return the failed run.

        Returns:
            The finished :class:`~keel.store.PipelineRun` with its step runs.

        Raises:
            InvalidArgumentError: a param is unknown, missing or of the wrong type (nothing
                is recorded then).
            PipelineFailedError: a step failed and ``raise_on_failure`` is set.

        Example::

            >>> run = pipeline.run(params={"test_size": "0.3"}, executor="process")
            >>> run.cache_hits
            ('load', 'validate')
        """
        from keel.pipelines._runner import run_pipeline

        return run_pipeline(
            self,
            dict(params or {}),
            executor=executor,
            max_workers=max_workers,
            context=context,
            on_event=on_event,
            raise_on_failure=raise_on_failure,
        )
