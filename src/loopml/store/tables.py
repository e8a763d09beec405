"""The metadata tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Metric history is not stored one row per point (MLflow's layout, which collapses past
~10^4 steps): each flush of the buffered writer appends one *chunk* row per (run, key)
holding the steps, timestamps and values as packed arrays, and a run's chunks are merged
when it ends. ``latest_metrics`` keeps the newest value per (run, key) for search.

Times are integer milliseconds since the epoch (UTC).
Changing a table here needs a migration in ``store/migrations/versions``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from loopml.store.validation import KEY_LENGTH, PARAM_VALUE_LENGTH

metadata = MetaData()

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(KEY_LENGTH), nullable=False, unique=True),
    Column("created_time", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(KEY_LENGTH), nullable=True),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("parent_run_id", String(32), ForeignKey("runs.run_id"), nullable=True),
    Column("seed", BigInteger, nullable=True),
    Column("git_commit", String(64), nullable=True),
    Column("git_dirty", Boolean, nullable=True),
    Column("entry_point", Text, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent", "parent_run_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", String(PARAM_VALUE_LENGTH), nullable=False),
    Index("ix_params_key_value", "key", "value"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_tags_key", "key"),
)

metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("min_step", BigInteger, nullable=False),
    Column("max_step", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# NaN cannot be stored in a SQLite REAL (it becomes NULL): ``is_nan`` keeps it.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Float, nullable=True),
    Column("is_nan", Boolean, nullable=False, default=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Index("ix_artifacts_sha256", "sha256"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("n_rows", BigInteger, nullable=False),
    Column("n_columns", Integer, nullable=False),
    Column("schema", Text, nullable=False),  # JSON
    Column("profile", Text, nullable=False),  # JSON
    Column("created_time", BigInteger, nullable=False),
)

run_datasets = Table(
    "run_datasets",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("fingerprint", String(64), ForeignKey("datasets.fingerprint"), nullable=False),
    Column("name", String(KEY_LENGTH), nullable=False),
    Column("role", String(64), nullable=False),
    UniqueConstraint("run_id", "name", "role", name="uq_run_datasets_run_name_role"),
    Index("ix_run_datasets_fingerprint", "fingerprint"),
)

# -- model registry (migration 0003) --------------------------------------------------------
registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(KEY_LENGTH), primary_key=True),
    Column("created_time", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column(
        "name",
        String(KEY_LENGTH),
        ForeignKey("registered_models.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True),
    Column("created_time", BigInteger, nullable=False),
    Column("run_id", String(32), ForeignKey("runs.run_id"), nullable=True),
    Column("flavor", String(32), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("signature", Text, nullable=True),  # JSON
    Column("input_example_sha256", String(64), nullable=True),  # a Parquet artifact
    Column("lineage", Text, nullable=False),  # JSON: run, datasets, pipeline run, git commit
    Column("metrics", Text, nullable=False),  # JSON: metrics known at registration
    Column("trusted_types", Text, nullable=False),  # JSON list
    Column("description", Text, nullable=True),
    Column("created_by", String(KEY_LENGTH), nullable=True),
    Index("ix_model_versions_run", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", String(KEY_LENGTH), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("value", Text, nullable=False),
    ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        ondelete="CASCADE",
    ),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(KEY_LENGTH), primary_key=True),
    Column("alias", String(KEY_LENGTH), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        ondelete="CASCADE",
    ),
)

# Every alias move, kept forever: who, when, from which version to which, why, forced or not.
alias_events = Table(
    "alias_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(KEY_LENGTH), nullable=False),
    Column("alias", String(KEY_LENGTH), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("time", BigInteger, nullable=False),
    Column("user", String(KEY_LENGTH), nullable=True),
    Column("reason", Text, nullable=True),
    Column("forced", Boolean, nullable=False),
    Index("ix_alias_events_name", "name", "time"),
)

# -- pipeline schedules (migration 0004) ----------------------------------------------------
# ``next_run_time`` is claimed with a compare-and-set, so two schedulers never start the same
# due run twice and one schedule never runs twice at once.
schedules = Table(
    "schedules",
    metadata,
    Column("name", String(KEY_LENGTH), primary_key=True),
    Column("cron", String(KEY_LENGTH), nullable=False),
    Column("target", Text, nullable=False),  # "path/to/file.py:pipeline_name"
    Column("params", Text, nullable=False),  # JSON
    Column("catch_up", Boolean, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("next_run_time", BigInteger, nullable=False),
    Column("running", Boolean, nullable=False),
    Column("last_run_time", BigInteger, nullable=True),
    Column("last_status", String(16), nullable=True),
    Column("last_run_id", String(32), nullable=True),
    Column("last_error", Text, nullable=True),
)

# -- prediction log, feedback and service stats (migration 0005) ----------------------------
# Appended in batches by the prediction service; ``prediction_id`` is the client's uuid4 hex, so
# a retried batch is ignored row by row instead of duplicated. JSON columns are text (orjson).
predictions = Table(
    "predictions",
    metadata,
    Column("prediction_id", String(32), primary_key=True),
    Column("model", String(KEY_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("inputs", Text, nullable=False),  # JSON
    Column("outputs", Text, nullable=False),  # JSON
    Column("confidence", Float, nullable=True),
    Column("status", String(16), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("shadow", Boolean, nullable=False),
    Index("ix_predictions_model_time", "model", "time"),
    Index("ix_predictions_status", "status"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("feedback_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "prediction_id",
        String(32),
        ForeignKey("predictions.prediction_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("time", BigInteger, nullable=False),
    Column("label", Text, nullable=False),  # JSON
    Column("kind", String(16), nullable=False),
    Column("source", String(KEY_LENGTH), nullable=True),
    Column("comment", Text, nullable=True),
    Index("ix_feedback_prediction", "prediction_id"),
    Index("ix_feedback_time", "time"),
)

service_stats = Table(
    "service_stats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(KEY_LENGTH), nullable=False),
    Column("instance", String(KEY_LENGTH), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("interval_s", Float, nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("errors", Text, nullable=False),  # JSON
    Column("latency_ms", Text, nullable=False),  # JSON
    Column("cpu_percent", Float, nullable=False),
    Column("rss_bytes", BigInteger, nullable=False),
    Column("dropped_events", BigInteger, nullable=False),
    Column("quality", Text, nullable=False),  # JSON
    Index("ix_service_stats_model_time", "model", "time"),
)

# -- monitoring (migration 0006) ------------------------------------------------------------
# What monitoring compares live traffic with, stored at registration so the raw training data
# is never needed again: a profile (JSON blob) and a bounded sample (Parquet blob).
model_references = Table(
    "model_references",
    metadata,
    Column("name", String(KEY_LENGTH), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_time", BigInteger, nullable=False),
    Column("profile_sha256", String(64), nullable=False),
    Column("sample_sha256", String(64), nullable=True),
    Column("rows", BigInteger, nullable=False),
    Column("sample_rows", BigInteger, nullable=False),
    Column("target", String(KEY_LENGTH), nullable=True),
    Column("details", Text, nullable=False),  # JSON: source, classes, column roles
    ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        ondelete="CASCADE",
    ),
)

# One row per alert episode: opened when a rule fires, updated (not duplicated) while it keeps
# firing, resolved when the condition clears.
alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(KEY_LENGTH), nullable=False),
    Column("rule", String(KEY_LENGTH), nullable=False),
    Column("status", String(16), nullable=False),  # open | resolved
    Column("severity", String(16), nullable=False),
    Column("opened_time", BigInteger, nullable=False),
    Column("last_seen_time", BigInteger, nullable=False),
    Column("resolved_time", BigInteger, nullable=True),
    Column("count", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON
    Index("ix_alerts_model_rule_status", "model", "rule", "status"),
)
