"""The Alembic migrations create exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select

import audit
from audit import AuditHeadRow
from broker.storage.migrate import upgrade
from broker.storage.models import Base


def test_upgrade_matches_the_models(db_engine: Engine) -> None:
    """After `upgrade`, autogenerate finds nothing to change: models and migrations agree."""
    upgrade(db_engine)
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, [Base.metadata, audit.metadata])
    assert differences == []


def test_upgrade_is_idempotent_and_starts_the_chain(db_engine: Engine) -> None:
    """Running it twice is harmless; the audit head starts at the genesis (seq 0)."""
    upgrade(db_engine)
    upgrade(db_engine)
    tables = set(inspect(db_engine).get_table_names())
    assert {
        "persons",
        "young_people",
        "cases",
        "signals",
        "field_values",
        "track_changes",
        "audit_record",
        "audit_head",
        "audit_checkpoint",
        "audit_tree_hash",
        "alembic_version",
    } <= tables
    with db_engine.connect() as connection:
        head = connection.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one()
    assert head == (0, audit.GENESIS_HASH)


def test_upgrade_stores_audit_records_as_the_model_does(db_engine: Engine) -> None:
    """The migrated audit_record has the model's PostgreSQL storage parameters."""
    upgrade(db_engine)
    options = inspect(db_engine).get_table_options("audit_record")
    if db_engine.dialect.name == "postgresql":
        expected = {name: str(value) for name, value in audit.AUDIT_RECORD_STORAGE.items()}
        assert options.get("postgresql_with") == expected
    else:
        assert not options.get("postgresql_with")
