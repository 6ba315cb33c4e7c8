"""Domain entities of tracking: frozen dataclasses, independent of storage and wire."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "ArtifactRecord",
    "Experiment",
    "Metric",
    "Run",
    "RunStatus",
]


class RunStatus(enum.StrEnum):
    """Lifecycle of a run. Only ``RUNNING`` runs accept new data."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """Whether the run has ended (its data can no longer change)."""
        return self is not RunStatus.RUNNING


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs."""

    id: str
    name: str
    created_at: int
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Metric:
    """One value of a metric series: ``value`` at ``step``, logged at ``timestamp`` (ms)."""

    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """A file logged to a run: its name, size and sha256 of its bytes."""

    path: str
    size: int
    sha256: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Run:
    """A run: params, tags and the latest value of each metric.

    ``metrics`` maps each key to the value at its highest step; the whole series is
    read with ``TrackingStore.get_metric_history``.
    """

    id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None
    parent_run_id: str | None
    user: str
    error: str | None
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
