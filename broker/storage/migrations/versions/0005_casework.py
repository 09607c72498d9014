"""The coordinator's work and the young person's rights: closing and purging cases, track
history kinds and case directors, match keys for triage, notifications, the plan of approach,
corrected values and objections.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSONValue = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("wijk_at_purge", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key("fk_cases_closed_by", "persons", ["closed_by_id"], ["id"])
    with op.batch_alter_table("track_changes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="track", nullable=False)
        )
        batch_op.add_column(sa.Column("case_director_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_track_changes_case_director", "persons", ["case_director_id"], ["id"]
        )
    with op.batch_alter_table("field_values", schema=None) as batch_op:
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "match_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "kind", "key", name="one_match_key_per_case"),
    )
    op.create_index("match_keys_by_key", "match_keys", ["kind", "key"], unique=False)
    op.create_index(op.f("ix_match_keys_case_id"), "match_keys", ["case_id"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=48), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "notifications_by_person", "notifications", ["person_id", "read_at", "id"], unique=False
    )
    op.create_table(
        "plan_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=48), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("concerns", sa.Text(), nullable=False),
        sa.Column("goals", JSONValue, nullable=False),
        sa.Column("agreements", JSONValue, nullable=False),
        sa.Column("review_date", sa.Date(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["persons.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "version", name="one_plan_version"),
    )
    op.create_index(op.f("ix_plan_versions_case_id"), "plan_versions", ["case_id"], unique=False)
    op.create_table(
        "objections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("young_person_id", sa.Integer(), nullable=False),
        sa.Column("targets", JSONValue, nullable=False),
        sa.Column("parties", JSONValue, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["lifted_by_id"], ["persons.id"]),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["persons.id"]),
        sa.ForeignKeyConstraint(["young_person_id"], ["young_people.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_objections_young_person_id"), "objections", ["young_person_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_objections_young_person_id"), table_name="objections")
    op.drop_table("objections")
    op.drop_index(op.f("ix_plan_versions_case_id"), table_name="plan_versions")
    op.drop_table("plan_versions")
    op.drop_index("notifications_by_person", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_match_keys_case_id"), table_name="match_keys")
    op.drop_index("match_keys_by_key", table_name="match_keys")
    op.drop_table("match_keys")
    with op.batch_alter_table("field_values", schema=None) as batch_op:
        batch_op.drop_column("superseded_at")
    with op.batch_alter_table("track_changes", schema=None) as batch_op:
        batch_op.drop_constraint("fk_track_changes_case_director", type_="foreignkey")
        batch_op.drop_column("case_director_id")
        batch_op.drop_column("kind")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint("fk_cases_closed_by", type_="foreignkey")
        batch_op.drop_column("wijk_at_purge")
        batch_op.drop_column("purged_at")
        batch_op.drop_column("closed_by_id")
