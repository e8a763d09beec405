"""The pydantic models of ``loopml.yaml``: the problem, declared once.

Every later stage reads these: the objectives become promotion gates, ``serving`` the
low-confidence policy, ``monitoring`` the drift thresholds, ``retraining`` the loop's policy.
Unknown keys are refused everywhere (a typo must never be silently ignored); the one open
mapping is ``objectives``, whose keys are metric names, each value checked as a condition.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_serializer, model_validator

from loopml.errors import NotFound
from loopml.project.alert_rules import AlertRule, default_alert_rules
from loopml.project.fields import (
    MODEL_REF_RE,
    WINDOW_RE,
    BelowThreshold,
    Column,
    Condition,
    Count,
    Fraction,
    MetricName,
    NonNegative,
    OpenFraction,
    Problem,
    RetrainTrigger,
    Role,
    Slug,
    Task,
    raise_all,
    spec_error,
)
from loopml.project.fields import (
    Model as _Model,
)
from loopml.project.objectives import (
    METRIC_NAME_RE,
    ConditionError,
    Objective,
    parse_condition,
    short_repr,
)

_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# what a metric key cannot hold (as loopml.models.evaluation.gap_key replaces it)
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /:]")


class DataSource(_Model):
    """A named data set: a local ``path`` (relative to the spec's folder) or a ``uri``."""

    path: str | None = None
    uri: str | None = None
    format: Literal["csv", "parquet"] | None = None
    role: Role | None = None

    @model_validator(mode="after")
    def _one_location(self) -> DataSource:
        if (self.path is None) == (self.uri is None):
            got = "both" if self.path is not None else "neither"
            raise spec_error(f"give exactly one of 'path' or 'uri' (got {got})")
        return self

    @property
    def location(self) -> str:
        return self.path if self.path is not None else str(self.uri)

    @property
    def resolved_format(self) -> str | None:
        """``format`` if given, else guessed from the file suffix (``None`` when unknown)."""
        if self.format is not None:
            return self.format
        suffix = PurePosixPath(urlparse(self.location).path or self.location).suffix.lower()
        return _FORMATS.get(suffix)


class FairnessObjective(_Model):
    """The largest allowed gap of ``metric`` between the groups of a sensitive ``column``."""

    metric: MetricName
    column: Column
    max_gap: NonNegative

    @property
    def metric_key(self) -> str:
        """The name the measured gap is logged under, e.g. ``accuracy_gap_group`` (the
        name ``loopml.models.evaluation`` logs it under)."""
        return _KEY_CHARS.sub("_", f"{self.metric}_gap_{self.column}")

    def passes(self, gap: float | None) -> bool:
        """Whether a measured gap (largest minus smallest group value) is small enough."""
        return gap is not None and gap == gap and float(gap) <= self.max_gap

    def __str__(self) -> str:
        return f"{self.metric} gap across {self.column} <= {self.max_gap:g}"


class Objectives(BaseModel):
    """``metric: condition`` pairs (any metric evaluation logs) and ``fairness`` goals."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, Condition] = Field(init=False)  # type: ignore[assignment]

    fairness: list[FairnessObjective] = []

    @model_validator(mode="after")
    def _parse_conditions(self) -> Objectives:
        problems: list[Problem] = []
        for key, value in (self.__pydantic_extra__ or {}).items():
            if not METRIC_NAME_RE.match(key):
                problems.append(((key,), f"{key!r} is not a metric name", value))
                continue
            try:
                parse_condition(key, value)
            except ConditionError as exc:
                problems.append(((key,), str(exc), value))
        raise_all("Objectives", problems)
        return self

    def metrics(self) -> list[Objective]:
        return [parse_condition(k, v) for k, v in (self.__pydantic_extra__ or {}).items()]

    @model_serializer(mode="wrap")
    def _flat(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        fairness = data.pop("fairness", [])
        return {**data, **({"fairness": fairness} if fairness else {})}


class ServingPolicy(_Model):
    """What the prediction service does when the model is unsure."""

    confidence_threshold: OpenFraction = 0.5
    below_threshold: BelowThreshold = "review"
    fallback_model: str | None = None

    @model_validator(mode="after")
    def _fallback(self) -> ServingPolicy:
        problems: list[Problem] = []
        if self.fallback_model is not None and not MODEL_REF_RE.match(self.fallback_model):
            problems.append(
                (
                    ("fallback_model",),
                    f"{short_repr(self.fallback_model)} is not a model reference; "
                    "write 'name@alias' (e.g. 'churn@champion') or 'name/VERSION'",
                    self.fallback_model,
                )
            )
        if self.below_threshold == "fallback" and self.fallback_model is None:
            problems.append(
                (
                    ("below_threshold",),
                    "'fallback' needs serving.fallback_model, the model that answers instead "
                    "(e.g. fallback_model: churn@baseline); or choose abstain or review",
                    self.below_threshold,
                )
            )
        raise_all("ServingPolicy", problems)
        return self


def _cron_problems(schedule: str | None, example: str) -> list[Problem]:
    """A `schedule:` that is neither 5 cron fields nor a macro such as @daily."""
    if schedule is None or len(schedule.split()) == 5 or schedule.strip() in _CRON_MACROS:
        return []
    message = (
        f"{short_repr(schedule)} is not a cron schedule; write 5 fields "
        f"'minute hour day month weekday' (e.g. {example}"
    )
    return [(("schedule",), message, schedule)]


class MonitoringPolicy(_Model):
    """When live data counts as drifted, over which window, and where alerts go."""

    drift_threshold: Fraction = 0.05
    share_drifted_columns: Fraction = 0.5
    window: Annotated[str, Field(strict=True)] = "1d"
    alert_webhook: str | None = None
    alerts: list[AlertRule] = Field(default_factory=default_alert_rules)
    schedule: str | None = None  # cron: `loopml scheduler` evaluates the alerts on it

    @model_validator(mode="after")
    def _check(self) -> MonitoringPolicy:
        problems: list[Problem] = []
        if not WINDOW_RE.match(self.window) or int(self.window.split()[0].rstrip("smhd")) == 0:
            problems.append(
                (
                    ("window",),
                    f"{short_repr(self.window)} is not a window; write a positive duration "
                    "('30m', '12h', '1d', '600s') or a row count ('10000 rows')",
                    self.window,
                )
            )
        problems += _cron_problems(self.schedule, "'*/15 * * * *') or @hourly")
        if self.alert_webhook is not None:
            url = urlparse(self.alert_webhook)
            if url.scheme not in ("http", "https") or not url.netloc:
                problems.append(
                    (
                        ("alert_webhook",),
                        f"{short_repr(self.alert_webhook)} is not an http(s) URL",
                        self.alert_webhook,
                    )
                )
        raise_all("MonitoringPolicy", problems)
        return self

    @property
    def window_seconds(self) -> int | None:
        """The window as seconds, ``None`` when it is a row count."""
        if self.window.endswith("rows"):
            return None
        return int(self.window[:-1]) * _SECONDS[self.window[-1]]

    @property
    def window_rows(self) -> int | None:
        """The window as a row count, ``None`` when it is a duration."""
        return int(self.window.split()[0]) if self.window.endswith("rows") else None


class RetrainingPolicy(_Model):
    """What starts a retraining run, and what a challenger needs to replace the champion."""

    on: list[RetrainTrigger] = ["drift", "performance"]
    schedule: str | None = None
    min_new_labels: Count = 100
    promote_margin: NonNegative = 0.0

    @model_validator(mode="after")
    def _check(self) -> RetrainingPolicy:
        problems: list[Problem] = []
        schedule = self.schedule
        problems += _cron_problems(schedule, "'0 3 * * 1') or @daily")
        if "schedule" in self.on and schedule is None:
            problems.append(
                (("on",), "'schedule' is listed but retraining.schedule is not set", self.on)
            )
        if schedule is not None and "schedule" not in self.on:
            problems.append(
                (
                    ("schedule",),
                    "a schedule is set but 'schedule' is not in retraining.on; add it there "
                    "or remove the schedule",
                    schedule,
                )
            )
        raise_all("RetrainingPolicy", problems)
        if len(set(self.on)) != len(self.on):
            object.__setattr__(self, "on", list(dict.fromkeys(self.on)))
        return self


class ProjectSpec(_Model):
    """The whole ``loopml.yaml``. Only ``name``, ``task`` and ``target`` are required."""

    name: Slug
    task: Task
    target: Column
    description: str = ""
    data: dict[str, DataSource] = {}
    pii: list[Column] = []
    sensitive: list[Column] = []
    objectives: Objectives = Objectives()
    serving: ServingPolicy = ServingPolicy()
    monitoring: MonitoringPolicy = MonitoringPolicy()
    retraining: RetrainingPolicy = RetrainingPolicy()
    # Default parameters per pipeline name: `loopml pipeline run file.py:training` reads
    # `params.training`; --param and --params-file override them.
    params: dict[str, dict[str, Any]] = {}
    # The data schema, declared: one entry per column, as `infer_schema` writes it (name,
    # kind, nullable, min, max, categories) plus `unique: true`; `ml.validate(df, spec)`
    # checks a frame against it.
    columns: list[dict[str, Any]] = []

    _source: str = PrivateAttr(default="loopml.yaml")
    _root: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross_check(self) -> ProjectSpec:
        problems: list[Problem] = []
        for section in ("pii", "sensitive"):
            columns = getattr(self, section)
            if self.target in columns:
                index = columns.index(self.target)
                problems.append(
                    (
                        (section, index),
                        f"the target {self.target!r} cannot be listed here",
                        self.target,
                    )
                )
        for index, goal in enumerate(self.objectives.fairness):
            if goal.column not in self.sensitive:
                declared = ", ".join(self.sensitive) or "none yet"
                problems.append(
                    (
                        ("objectives", "fairness", index, "column"),
                        f"{goal.column!r} is not a sensitive column; add it to 'sensitive' "
                        f"(declared: {declared})",
                        goal.column,
                    )
                )
        raise_all("ProjectSpec", problems)
        return self

    @property
    def source(self) -> str:
        """The file this spec was read from (for messages)."""
        return self._source

    @property
    def root(self) -> Path | None:
        """The folder relative data paths start from (the spec file's folder)."""
        return self._root

    def objective_list(self) -> list[Objective]:
        """The metric objectives, normalised (``max_model_mb`` -> ``model_size_mb <=``)."""
        return self.objectives.metrics()

    @property
    def fairness(self) -> list[FairnessObjective]:
        """The fairness objectives (``objectives.fairness``)."""
        return list(self.objectives.fairness)

    def fairness_rules(self) -> list[FairnessObjective]:
        """The fairness objectives, as a method (what ``loopml.models.promotion`` calls)."""
        return list(self.objectives.fairness)

    def data_for(self, role: str) -> DataSource | None:
        """The source declared with ``role``, else the source named ``role``."""
        for source in self.data.values():
            if source.role == role:
                return source
        return self.data.get(role)

    def resolve(self, source: DataSource | str) -> str:
        """Where a source lives: a URI as written, a relative path joined to :attr:`root`."""
        if isinstance(source, str):
            if source not in self.data:
                declared = ", ".join(self.data) or "none"
                raise NotFound(
                    f"{self._source} declares no data source {source!r} (declared: {declared})"
                )
            source = self.data[source]
        if source.uri is not None:
            return source.uri
        path = Path(str(source.path)).expanduser()
        if not path.is_absolute() and self._root is not None:
            path = self._root / path
        return str(path)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
