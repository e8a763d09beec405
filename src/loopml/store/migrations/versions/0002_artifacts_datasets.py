"""Artifacts (content-addressed) and datasets (fingerprint, schema, profile) with run links.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_artifacts_sha256", "artifacts", ["sha256"])
    op.create_table(
        "datasets",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("n_rows", sa.BigInteger, nullable=False),
        sa.Column("n_columns", sa.Integer, nullable=False),
        sa.Column("schema", sa.Text, nullable=False),
        sa.Column("profile", sa.Text, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "run_datasets",
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "fingerprint", sa.String(64), sa.ForeignKey("datasets.fingerprint"), nullable=False
        ),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.UniqueConstraint("run_id", "name", "role", name="uq_run_datasets_run_name_role"),
    )
    op.create_index("ix_run_datasets_fingerprint", "run_datasets", ["fingerprint"])


def downgrade() -> None:
    for table in ("run_datasets", "datasets", "artifacts"):
        op.drop_table(table)
