"""Plain records the store reads and writes. Times are epoch milliseconds (UTC)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        return self is not RunStatus.RUNNING


@dataclass(frozen=True)
class Experiment:
    experiment_id: int
    name: str
    created_time: int
    description: str | None = None


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: int
    name: str | None
    status: RunStatus
    start_time: int
    end_time: int | None = None
    parent_run_id: str | None = None
    seed: int | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    entry_point: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class LatestMetric:
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class ArtifactRecord:
    path: str
    sha256: str
    size: int
    created_time: int = 0


@dataclass(frozen=True)
class DatasetRecord:
    fingerprint: str
    n_rows: int
    n_columns: int
    schema: dict[str, Any]
    profile: dict[str, Any]


@dataclass(frozen=True)
class DatasetLink:
    name: str
    role: str
    fingerprint: str


@dataclass(frozen=True)
class Run:
    """A run with everything logged to it (metrics as their latest value)."""

    info: RunInfo
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, LatestMetric] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    datasets: list[DatasetLink] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.info.run_id


@dataclass(frozen=True)
class MetricSeries:
    """Points of one metric of one run: parallel arrays (int64 steps and ms timestamps,
    float64 values). As a write it is one batch; as a read, the whole history sorted by
    (step, timestamp)."""

    run_id: str
    key: str
    steps: np.ndarray
    timestamps: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.steps.shape[0])
