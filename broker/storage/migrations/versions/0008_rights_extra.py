"""The privacy officer's corrections and deletions with their reasons (rights_actions), and the
correction that entered a value (field_values.correction_id).

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-26 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rights_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=48), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("signal_id", sa.String(length=48), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["persons.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_rights_actions_case_id"), "rights_actions", ["case_id"], unique=False)
    with op.batch_alter_table("field_values", schema=None) as batch_op:
        batch_op.add_column(sa.Column("correction_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_field_values_correction", "rights_actions", ["correction_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("field_values", schema=None) as batch_op:
        batch_op.drop_constraint("fk_field_values_correction", type_="foreignkey")
        batch_op.drop_column("correction_id")
    op.drop_index(op.f("ix_rights_actions_case_id"), table_name="rights_actions")
    op.drop_table("rights_actions")
