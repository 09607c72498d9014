"""The log's C2SP checkpoints: `audit_log_checkpoint` (size, key ID, root hash, time and the
signed note as made; c2sp.org/tlog-checkpoint). The older Ed25519 checkpoints stay as they are.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log_checkpoint",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("key_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("size", "key_id", name=op.f("pk_audit_log_checkpoint")),
    )
    op.create_index(
        op.f("ix_audit_log_checkpoint_time"), "audit_log_checkpoint", ["time"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_checkpoint_time"), table_name="audit_log_checkpoint")
    op.drop_table("audit_log_checkpoint")
