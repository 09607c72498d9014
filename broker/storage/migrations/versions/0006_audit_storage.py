"""Audit records keep their bodies in their rows, uncompressed, on PostgreSQL.

`audit_record` gets the storage parameter `toast_tuple_target = 8160` (its maximum): a row's
values are compressed or moved to the TOAST table only when the row would not fit a page
otherwise. A record's body (1 to 3 kB) is then read with its row; before, most bodies were
looked up in the TOAST table (and some decompressed), which was most of what verifying the
chain cost the server. The parameter applies to rows written from now on; rows written before
keep their storage until the table is rewritten. SQLite has no such parameter.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 12:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_record SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_record RESET (toast_tuple_target)")
