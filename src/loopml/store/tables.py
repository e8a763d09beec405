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
