"""An index covering the per-person counts of recent audit events (rate limits, alarms).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 21:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_record_person_event_time",
        "audit_record",
        ["person_id", "event", "outcome", "time", "subject"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_record_person_event_time", table_name="audit_record")
