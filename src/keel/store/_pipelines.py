"""Pipeline entities and interface: pipeline runs made of step runs.

A :class:`PipelineRun` is one execution of a pipeline's DAG. It holds one
:class:`StepRun` per step, created ``PENDING`` when the run starts so that the whole DAG
is visible while it executes. A step run ends ``FINISHED`` (it ran), ``CACHED`` (an
earlier finished step run with the same cache key was reused), ``FAILED`` or
``UPSTREAM_FAILED`` (it could not run because a step it depends on failed).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keel.errors import NotFoundError

__all__ = [
    "PipelineRun",
    "PipelineRunStatus",
    "PipelineStore",
    "StepInput",
    "StepOutput",
    "StepRun",
    "StepStatus",
]


class StepStatus(enum.StrEnum):
    """Lifecycle of a step run."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    CACHED = "CACHED"
    FAILED = "FAILED"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"

    @property
    def is_terminal(self) -> bool:
        """Whether the step run has ended."""
        return self not in (StepStatus.PENDING, StepStatus.RUNNING)

    @property
    def succeeded(self) -> bool:
        """Whether the step produced outputs (by running or from the cache)."""
        return self in (StepStatus.FINISHED, StepStatus.CACHED)


class PipelineRunStatus(enum.StrEnum):
    """Lifecycle of a pipeline run."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        """Whether the pipeline run has ended."""
        return self is not PipelineRunStatus.RUNNING


@dataclass(frozen=True, slots=True)
class StepOutput:
    """One value a step produced, stored outside the metadata store.

    Attributes:
        name: the output's name (``"return"`` for a step with one output).
        kind: how it is stored: ``dataset`` (``ref`` is a dataset version id), ``json``,
            ``npy`` or ``pickle`` (``ref`` is the sha256 of the bytes in the artifact
            store), or ``none`` (the step returned ``None``).
        ref: where it is stored (see ``kind``).
        content_hash: hash of the value's content, used in downstream cache keys.
        label: a human label (e.g. ``wine-etl.clean@2``).
        python_type: what the step returned (``pandas``, ``polars``, ``arrow``,
            ``dataset_version``, ``numpy``, ``json``...), so it can be handed back as such.
    """

    name: str
    kind: str
    ref: str
    content_hash: str
    label: str = ""
    python_type: str = ""

    def to_dict(self) -> dict[str, str]:
        """Plain data."""
        return {
            "name": self.name,
            "kind": self.kind,
            "ref": self.ref,
            "content_hash": self.content_hash,
            "label": self.label,
            "python_type": self.python_type,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepOutput:
        """The inverse of :meth:`to_dict`."""
        return cls(
            str(data["name"]),
            str(data["kind"]),
            str(data["ref"]),
            str(data["content_hash"]),
            str(data.get("label", "")),
            str(data.get("python_type", "")),
        )


@dataclass(frozen=True, slots=True)
class StepInput:
    """One value a step consumed.

    Attributes:
        name: the parameter of the step function that received it.
        kind: ``step_output`` (an output of another step) or ``source_file`` (a file
            named by a ``SourceFile`` param).
        ref: for ``step_output``, ``"<step>.<output>"``; for ``source_file``, the file URI.
        content_hash: hash of the content (part of the step's cache key).
        output: for ``step_output``, the upstream output as stored.
    """

    name: str
    kind: str
    ref: str
    content_hash: str
    output: StepOutput | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "name": self.name,
            "kind": self.kind,
            "ref": self.ref,
            "content_hash": self.content_hash,
            "output": self.output.to_dict() if self.output else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepInput:
        """The inverse of :meth:`to_dict`."""
        out = data.get("output")
        return cls(
            str(data["name"]),
            str(data["kind"]),
            str(data["ref"]),
            str(data["content_hash"]),
            StepOutput.from_dict(out) if out else None,
        )


@dataclass(frozen=True, slots=True)
class StepRun:
    """One step of one pipeline run.

    Attributes:
        id: the step run id.
        pipeline_run_id: the pipeline run it belongs to.
        name: the step's name.
        status: see :class:`StepStatus`.
        position: the step's place in the pipeline's topological order.
        upstream: names of the steps it depends on.
        cache_key: hash of (code, params, inputs); equal keys give equal outputs.
        code_hash: hash of the step function's normalised source.
        params: the validated params it ran with (JSON values).
        inputs: what it consumed.
        outputs: what it produced (or reused, for a cache hit).
        start_time: when it started, ms since the epoch (``None`` while pending).
        end_time: when it ended (``None`` until then).
        attempts: how many times the function was called (retries included).
        logs: captured stdout, stderr and logging output.
        error: one-line error, for ``FAILED`` and ``UPSTREAM_FAILED``.
        traceback: the formatted traceback of a failure.
        cached_from: for ``CACHED``, the step run whose outputs were reused.
    """

    id: str
    pipeline_run_id: str
    name: str
    status: StepStatus
    position: int
    upstream: tuple[str, ...] = ()
    cache_key: str | None = None
    code_hash: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[StepInput, ...] = ()
    outputs: tuple[StepOutput, ...] = ()
    start_time: int | None = None
    end_time: int | None = None
    attempts: int = 0
    logs: str = ""
    error: str | None = None
    traceback: str | None = None
    cached_from: str | None = None

    @property
    def duration_ms(self) -> int | None:
        """Milliseconds from start to end (``None`` unless both are known)."""
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    @property
    def cache_hit(self) -> bool:
        """Whether the outputs came from an earlier step run."""
        return self.status is StepStatus.CACHED

    def output(self, name: str = "return") -> StepOutput:
        """The output called ``name``.

        Raises:
            NotFoundError: the step has no such output (the message names those it has).
        """
        for out in self.outputs:
            if out.name == name:
                return out
        names = ", ".join(o.name for o in self.outputs) or "none"
        why = "" if self.outputs else f" (it is {self.status.value} and produced none)"
        raise NotFoundError(
            f"step {self.name!r} has no output {name!r}{why}; its outputs are: {names}"
        )


@dataclass(frozen=True, slots=True)
class PipelineRun:
    """One execution of a pipeline.

    Attributes:
        id: the pipeline run id.
        pipeline_name: the pipeline's name.
        status: see :class:`PipelineRunStatus`.
        params: the params given at run time (as given, before per-step validation).
        user: who started it.
        executor: the executor's name (``sequential``, ``process``...).
        start_time: ms since the epoch.
        end_time: ``None`` while running.
        steps: its step runs in topological order.
    """

    id: str
    pipeline_name: str
    status: PipelineRunStatus
    params: Mapping[str, Any] = field(default_factory=dict)
    user: str = "unknown"
    executor: str = ""
    start_time: int = 0
    end_time: int | None = None
    steps: tuple[StepRun, ...] = ()

    @property
    def duration_ms(self) -> int | None:
        """Milliseconds from start to end (``None`` while running)."""
        return None if self.end_time is None else self.end_time - self.start_time

    def step(self, name: str) -> StepRun:
        """The step run of step ``name``.

        Raises:
            NotFoundError: the run has no such step (the message names those it has).
        """
        for s in self.steps:
            if s.name == name:
                return s
        names = ", ".join(s.name for s in self.steps) or "none"
        raise NotFoundError(
            f"pipeline run {self.id} of {self.pipeline_name!r} has no step {name!r}; "
            f"its steps are: {names}"
        )

    @property
    def cache_hits(self) -> tuple[str, ...]:
        """Names of the steps whose outputs were reused."""
        return tuple(s.name for s in self.steps if s.status is StepStatus.CACHED)

    @property
    def executed(self) -> tuple[str, ...]:
        """Names of the steps whose function ran to completion in this run."""
        return tuple(s.name for s in self.steps if s.status is StepStatus.FINISHED)


class PipelineStore(abc.ABC):
    """Pipeline runs and their step runs, and the step cache index."""

    @abc.abstractmethod
    def create_pipeline_run(
        self,
        pipeline_name: str,
        steps: Sequence[tuple[str, Sequence[str]]],
        params: Mapping[str, Any] | None = None,
        user: str = "unknown",
        executor: str = "",
    ) -> PipelineRun:
        """Start a ``RUNNING`` pipeline run with one ``PENDING`` step run per step.

        Args:
            pipeline_name: the pipeline's name.
            steps: ``(name, upstream names)`` per step, in topological order.
            params: the run's params (JSON values).
            user: who started it.
            executor: the executor's name.
        """

    @abc.abstractmethod
    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        """The pipeline run with its step runs; ``NotFoundError`` otherwise."""

    @abc.abstractmethod
    def resolve_pipeline_run_id(self, prefix: str) -> str:
        """The full id of the one pipeline run whose id starts with ``prefix``."""

    @abc.abstractmethod
    def list_pipeline_runs(
        self, pipeline_name: str | None = None, max_results: int = 100
    ) -> list[PipelineRun]:
        """Pipeline runs (with their steps), newest first."""

    @abc.abstractmethod
    def end_pipeline_run(
        self, run_id: str, status: PipelineRunStatus, end_time: int | None = None
    ) -> PipelineRun:
        """End a running pipeline run; ``RunStateError`` if it already ended."""

    @abc.abstractmethod
    def get_step_run(self, step_run_id: str) -> StepRun:
        """The step run with this id; ``NotFoundError`` otherwise."""

    @abc.abstractmethod
    def start_step_run(
        self,
        step_run_id: str,
        cache_key: str,
        code_hash: str,
        params: Mapping[str, Any],
        inputs: Sequence[StepInput],
        start_time: int | None = None,
    ) -> StepRun:
        """Move a ``PENDING`` step run to ``RUNNING``; ``RunStateError`` otherwise."""

    @abc.abstractmethod
    def finish_step_run(
        self,
        step_run_id: str,
        status: StepStatus,
        outputs: Sequence[StepOutput] = (),
        *,
        logs: str = "",
        error: str | None = None,
        traceback: str | None = None,
        attempts: int = 0,
        cached_from: str | None = None,
        end_time: int | None = None,
    ) -> StepRun:
        """End a pending or running step run with a terminal status.

        Raises ``RunStateError`` if it already ended and ``InvalidArgumentError`` if
        ``status`` is not terminal.
        """

    @abc.abstractmethod
    def find_cached_step_run(self, cache_key: str) -> StepRun | None:
        """The newest ``FINISHED`` step run with this cache key, or ``None``."""
