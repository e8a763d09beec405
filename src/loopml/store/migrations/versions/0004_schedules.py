"""Pipeline schedules (cron), claimed by the scheduler with a compare-and-set.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(250), primary_key=True),
        sa.Column("cron", sa.String(250), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("catch_up", sa.Boolean, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("next_run_time", sa.BigInteger, nullable=False),
        sa.Column("running", sa.Boolean, nullable=False),
        sa.Column("last_run_time", sa.BigInteger, nullable=True),
        sa.Column("last_status", sa.String(16), nullable=True),
        sa.Column("last_run_id", sa.String(32), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("schedules")
