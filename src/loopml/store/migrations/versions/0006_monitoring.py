"""Monitoring: reference profiles of model versions, and alerts.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_references",
        sa.Column("name", sa.String(250), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("profile_sha256", sa.String(64), nullable=False),
        sa.Column("sample_sha256", sa.String(64), nullable=True),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("sample_rows", sa.BigInteger, nullable=False),
        sa.Column("target", sa.String(250), nullable=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(250), nullable=False),
        sa.Column("rule", sa.String(250), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("opened_time", sa.BigInteger, nullable=False),
        sa.Column("last_seen_time", sa.BigInteger, nullable=False),
        sa.Column("resolved_time", sa.BigInteger, nullable=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_index("ix_alerts_model_rule_status", "alerts", ["model", "rule", "status"])


def downgrade() -> None:
    op.drop_index("ix_alerts_model_rule_status", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("model_references")
