"""When a person or a client was last disabled (persons.disabled_at, oauth_clients.disabled_at):
a token issued before it stays refused when the person or client is enabled again.

A person or client disabled when this runs gets the time of the upgrade: the tokens issued
before it were issued before that disable too.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 10:00:00.000000
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("persons", "oauth_clients")


def upgrade() -> None:
    now = dt.datetime.now(dt.UTC)
    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
        table = sa.table(
            name,
            sa.column("disabled", sa.Boolean()),
            sa.column("disabled_at", sa.DateTime(timezone=True)),
        )
        op.execute(table.update().where(table.c.disabled.is_(True)).values(disabled_at=now))


def downgrade() -> None:
    for name in reversed(TABLES):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column("disabled_at")
