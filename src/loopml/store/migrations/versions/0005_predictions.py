"""Prediction-event log, feedback on predictions, and service stats snapshots.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("prediction_id", sa.String(32), primary_key=True),
        sa.Column("model", sa.String(250), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("outputs", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("shadow", sa.Boolean, nullable=False),
    )
    op.create_index("ix_predictions_model_time", "predictions", ["model", "time"])
    op.create_index("ix_predictions_status", "predictions", ["status"])
    op.create_table(
        "feedback",
        sa.Column("feedback_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "prediction_id",
            sa.String(32),
            sa.ForeignKey("predictions.prediction_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(250), nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
    )
    op.create_index("ix_feedback_prediction", "feedback", ["prediction_id"])
    op.create_index("ix_feedback_time", "feedback", ["time"])
    op.create_table(
        "service_stats",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(250), nullable=False),
        sa.Column("instance", sa.String(250), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("interval_s", sa.Float, nullable=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.Text, nullable=False),
        sa.Column("latency_ms", sa.Text, nullable=False),
        sa.Column("cpu_percent", sa.Float, nullable=False),
        sa.Column("rss_bytes", sa.BigInteger, nullable=False),
        sa.Column("dropped_events", sa.BigInteger, nullable=False),
        sa.Column("quality", sa.Text, nullable=False),
    )
    op.create_index("ix_service_stats_model_time", "service_stats", ["model", "time"])


def downgrade() -> None:
    for table in ("service_stats", "feedback", "predictions"):
        op.drop_table(table)
