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


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    created_time: int
    description: str | None = None
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersion:
    """One registered version. ``sha256`` is the model file's digest, checked at load."""

    name: str
    version: int
    created_time: int
    flavor: str
    sha256: str
    size: int
    run_id: str | None = None
    signature: dict[str, Any] | None = None
    input_example_sha256: str | None = None
    lineage: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    trusted_types: list[str] = field(default_factory=list)
    description: str | None = None
    created_by: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"{self.name}/{self.version}"


@dataclass(frozen=True)
class AliasEvent:
    """One move of an alias (audit log)."""

    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    time: int
    user: str | None
    reason: str | None
    forced: bool


@dataclass(frozen=True)
class Schedule:
    """A pipeline run on a cron schedule. Times are epoch milliseconds (UTC)."""

    name: str
    cron: str
    target: str
    params: dict[str, Any]
    catch_up: bool
    created_time: int
    next_run_time: int
    running: bool = False
    last_run_time: int | None = None
    last_status: str | None = None
    last_run_id: str | None = None
    last_error: str | None = None


# -- prediction log, feedback and service stats (migration 0005) -----------------------------
PREDICTION_STATUSES = ("ok", "abstained", "fallback", "review")
FEEDBACK_KINDS = ("label", "suggestion")


@dataclass(frozen=True)
class PredictionEvent:
    """One row answered by the prediction service, appended to the log off the request path.

    ``prediction_id`` is 32 lowercase hex characters (``uuid4().hex``); ``inputs`` and
    ``outputs`` are JSON-serialisable (PII already hashed by the caller). ``shadow`` marks a
    challenger's answer that was logged but not returned."""

    prediction_id: str
    model: str
    version: int
    time: int
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    confidence: float | None
    status: str  # one of PREDICTION_STATUSES
    latency_ms: float
    shadow: bool = False


@dataclass(frozen=True)
class Feedback:
    """The true label of a prediction (``kind="label"``) or a better answer a user suggests
    (``kind="suggestion"``). Several per prediction are allowed: the newest label wins."""

    prediction_id: str
    label: Any
    kind: str = "label"  # one of FEEDBACK_KINDS
    source: str | None = None
    comment: str | None = None
    time: int = 0  # 0: the store sets now
    feedback_id: int | None = None  # set by the store


@dataclass(frozen=True)
class ServiceStats:
    """One snapshot of one service instance (``host:pid``) over one interval ending at
    ``time``. ``errors`` maps HTTP status codes (as text) to counts; ``latency_ms`` holds
    p50/p95/p99; ``quality`` holds the validation counts (rejected rows, unseen categories...)."""

    model: str
    instance: str
    time: int
    interval_s: float
    requests: int
    rows: int
    errors: dict[str, int]
    latency_ms: dict[str, float]
    cpu_percent: float
    rss_bytes: int
    dropped_events: int
    quality: dict[str, Any]


# -- monitoring (migration 0006) ---------------------------------------------------------------
ALERT_STATUSES = ("open", "resolved")
ALERT_SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class ModelReference:
    """What monitoring compares live traffic with, stored when a version is registered.

    ``profile_sha256`` is a JSON blob (``loopml.data.profile.profile_frame`` of the features,
    the target and the model's predictions); ``sample_sha256`` a Parquet blob of at most
    ``sample_rows`` rows for the tests that need raw values.
    """

    name: str
    version: int
    profile_sha256: str
    rows: int
    sample_rows: int = 0
    sample_sha256: str | None = None
    target: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    created_time: int = 0


@dataclass(frozen=True)
class Alert:
    """One alert episode: opened when a rule fires, updated while it fires, then resolved."""

    alert_id: int
    model: str
    rule: str
    status: str
    severity: str
    opened_time: int
    last_seen_time: int
    count: int
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    resolved_time: int | None = None
