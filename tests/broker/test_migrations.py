"""The Alembic migrations create exactly the schema the models describe, on both databases."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, DateTime, Engine, column, inspect, select, table
from sqlalchemy.orm import Session

import audit
from audit import AuditHeadRow
from broker.storage.migrate import upgrade
from broker.storage.models import Base, OAuthClient, Person


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


def test_upgrade_records_a_disable_that_happened_before_it(db_engine: Engine) -> None:
    """0009 adds disabled_at: a person or client disabled before the upgrade gets the upgrade's
    time (so enabling it later does not revive tokens from before), an enabled one none."""
    upgrade(db_engine, "0008")
    persons = table(
        "persons",
        column("username"),
        column("name"),
        column("party"),
        column("roles", JSON()),
        column("disabled"),
        column("created_at", DateTime(timezone=True)),
    )
    clients = table(
        "oauth_clients",
        column("client_id"),
        column("name"),
        column("party"),
        column("grant_types", JSON()),
        column("redirect_uris", JSON()),
        column("scopes", JSON()),
        column("disabled"),
        column("created_at", DateTime(timezone=True)),
    )
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with db_engine.begin() as connection:
        for username, disabled in (("jansen", True), ("visser", False)):
            connection.execute(
                persons.insert().values(
                    username=username,
                    name=username,
                    party="politie",
                    roles=["case_worker"],
                    disabled=disabled,
                    created_at=before,
                )
            )
        for client_id, disabled in (("old-system", True), ("new-system", False)):
            connection.execute(
                clients.insert().values(
                    client_id=client_id,
                    name=client_id,
                    party="politie",
                    grant_types=["client_credentials"],
                    redirect_uris=[],
                    scopes=[],
                    disabled=disabled,
                    created_at=before,
                )
            )
    upgrade(db_engine)
    with Session(db_engine) as session:
        marks = {p.username: p.disabled_at for p in session.scalars(select(Person))}
        marks.update({c.client_id: c.disabled_at for c in session.scalars(select(OAuthClient))})
    after = dt.datetime.now(dt.UTC)
    assert marks["visser"] is None and marks["new-system"] is None
    for name in ("jansen", "old-system"):
        mark = marks[name]
        assert mark is not None and before <= mark <= after, (name, mark)
