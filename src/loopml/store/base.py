"""The one ``Store`` interface every backend implements, and ``open_store``.

``SqlStore`` (SQLite, PostgreSQL) is the only implementation today; a ``RestStore``
speaking to ``loopml server`` will implement the same methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from loopml.store.entities import (
    Alert,
    AliasEvent,
    ArtifactRecord,
    DatasetRecord,
    Experiment,
    Feedback,
    MetricSeries,
    ModelReference,
    ModelVersion,
    PredictionEvent,
    RegisteredModel,
    Run,
    RunInfo,
    RunStatus,
    Schedule,
    ServiceStats,
)


class Store(ABC):
    """Metadata of experiments and runs. Every method is atomic: it writes all or nothing."""

    uri: str

    # experiments
    @abstractmethod
    def get_or_create_experiment(self, name: str) -> Experiment: ...

    @abstractmethod
    def get_experiment(self, name_or_id: str | int) -> Experiment: ...

    @abstractmethod
    def list_experiments(self) -> list[Experiment]: ...

    # runs
    @abstractmethod
    def create_run(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        parent_run_id: str | None = None,
        seed: int | None = None,
        git_commit: str | None = None,
        git_dirty: bool | None = None,
        entry_point: str | None = None,
        tags: dict[str, str] | None = None,
        start_time: int | None = None,
    ) -> RunInfo: ...

    @abstractmethod
    def end_run(
        self,
        run_id: str,
        status: RunStatus,
        *,
        end_time: int | None = None,
        error: str | None = None,
        metrics: Sequence[MetricSeries] = (),
        artifacts: Sequence[ArtifactRecord] = (),
    ) -> RunInfo:
        """End a run, writing its last buffered ``metrics`` and staged ``artifacts`` in the
        same transaction."""

    @abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abstractmethod
    def find_runs_by_tag(
        self, key: str, value: str, *, status: RunStatus = RunStatus.FINISHED, limit: int = 5
    ) -> list[RunInfo]:
        """Newest first: how the pipeline cache finds an earlier execution by its key."""

    @abstractmethod
    def list_artifacts(self, run_id: str) -> list[ArtifactRecord]: ...

    @abstractmethod
    def log_params(self, run_id: str, params: dict[str, str]) -> None: ...

    @abstractmethod
    def set_tags(self, run_id: str, tags: dict[str, str]) -> None: ...

    # metrics
    @abstractmethod
    def log_metric_batches(self, batches: Sequence[MetricSeries]) -> None: ...

    @abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> MetricSeries: ...

    # artifacts and datasets
    @abstractmethod
    def log_artifacts(self, run_id: str, records: Sequence[ArtifactRecord]) -> None: ...

    @abstractmethod
    def log_dataset(self, run_id: str, record: DatasetRecord, *, name: str, role: str) -> None: ...

    @abstractmethod
    def get_dataset(self, fingerprint: str) -> DatasetRecord: ...

    # search
    @abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[int] | None = None,
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Run]: ...

    # model registry
    @abstractmethod
    def create_model_version(
        self,
        name: str,
        *,
        flavor: str,
        sha256: str,
        size: int,
        run_id: str | None = None,
        signature: dict[str, Any] | None = None,
        input_example_sha256: str | None = None,
        lineage: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        trusted_types: Sequence[str] = (),
        description: str | None = None,
        created_by: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion: ...

    @abstractmethod
    def get_model_version(self, name: str, version: int) -> ModelVersion: ...

    @abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    @abstractmethod
    def latest_model_version(self, name: str) -> ModelVersion: ...

    @abstractmethod
    def list_models(self) -> list[RegisteredModel]: ...

    @abstractmethod
    def list_model_versions(self, name: str) -> list[ModelVersion]: ...

    @abstractmethod
    def set_model_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        user: str | None = None,
        reason: str | None = None,
        forced: bool = False,
    ) -> AliasEvent: ...

    @abstractmethod
    def alias_history(self, name: str) -> list[AliasEvent]: ...

    @abstractmethod
    def set_model_version_tags(self, name: str, version: int, tags: dict[str, str]) -> None: ...

    @abstractmethod
    def set_model_description(self, name: str, description: str) -> None: ...

    # pipeline schedules
    @abstractmethod
    def add_schedule(self, schedule: Schedule) -> Schedule: ...

    @abstractmethod
    def get_schedule(self, name: str) -> Schedule: ...

    @abstractmethod
    def list_schedules(self) -> list[Schedule]: ...

    @abstractmethod
    def remove_schedule(self, name: str) -> None: ...

    @abstractmethod
    def claim_schedule(self, name: str, expected_next: int, following_next: int) -> bool: ...

    @abstractmethod
    def finish_schedule_run(
        self, name: str, *, started: int, status: str, run_id: str | None, error: str | None
    ) -> None: ...

    # prediction log, feedback and service stats
    @abstractmethod
    def log_predictions(self, events: Sequence[PredictionEvent]) -> int:
        """Append a batch atomically; ids already stored are skipped. Returns how many were new."""

    @abstractmethod
    def get_prediction(self, prediction_id: str) -> PredictionEvent:
        """One logged prediction by its id (NotFound if it was never logged)."""

    @abstractmethod
    def list_predictions(
        self,
        model: str,
        *,
        version: int | None = None,
        since: int | None = None,
        until: int | None = None,
        last: int | None = None,
        status: str | None = None,
        shadow: bool | None = False,
    ) -> list[PredictionEvent]:
        """A model's predictions in [since, until), oldest first; ``last`` keeps the newest N."""

    @abstractmethod
    def add_feedback(self, feedback: Feedback) -> Feedback:
        """Attach a label or suggestion to a logged prediction; returns the stored record."""

    @abstractmethod
    def list_feedback(
        self,
        model: str,
        *,
        since: int | None = None,
        until: int | None = None,
        prediction_ids: Sequence[str] | None = None,
    ) -> list[Feedback]:
        """Feedback on a model's predictions, by feedback time in [since, until), oldest first."""

    @abstractmethod
    def review_queue(self, model: str | None = None, *, limit: int = 100) -> list[PredictionEvent]:
        """Predictions sent to human review that have no feedback yet, oldest first."""

    @abstractmethod
    def log_service_stats(self, stats: ServiceStats) -> None:
        """Store one service instance's snapshot of one interval."""

    @abstractmethod
    def list_service_stats(
        self, model: str, *, since: int | None = None, until: int | None = None
    ) -> list[ServiceStats]:
        """A model's service snapshots with time in [since, until), oldest first."""

    # -- monitoring: references and alerts --------------------------------------------
    @abstractmethod
    def set_model_reference(self, reference: ModelReference) -> ModelReference:
        """Store (or replace) the reference profile of a model version."""

    @abstractmethod
    def get_model_reference(self, name: str, version: int) -> ModelReference:
        """The reference of a version; NotFound when it was registered without one."""

    @abstractmethod
    def fire_alert(
        self,
        model: str,
        rule: str,
        *,
        severity: str,
        message: str,
        evidence: dict[str, Any],
        now: int | None = None,
    ) -> tuple[Alert, bool]:
        """Open an alert, or update the open one of (model, rule); True when newly opened."""

    @abstractmethod
    def resolve_alert(self, model: str, rule: str, *, now: int | None = None) -> Alert | None:
        """Resolve the open alert of (model, rule), if any; return it."""

    @abstractmethod
    def list_alerts(
        self, model: str | None = None, *, status: str | None = None, limit: int = 1000
    ) -> list[Alert]:
        """Alerts, newest first, optionally of one model and one status."""

    @abstractmethod
    def close(self) -> None: ...


def open_store(uri: str) -> Store:
    """Open (and, if needed, create or upgrade) the store at ``uri``."""
    if uri.startswith(("http://", "https://")):
        from loopml.errors import StoreError

        raise StoreError(
            f"store {uri!r}: the loopml server client is not available yet; "
            "use a sqlite:/// or postgresql+psycopg:// URL."
        )
    from loopml.store.sql_store import SqlStore

    return SqlStore(uri)
