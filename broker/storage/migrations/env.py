"""Alembic environment: migrations run on the connection the broker hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import audit
from broker.storage.models import Base

target_metadata = [Base.metadata, audit.metadata]


def run_migrations_online() -> None:
    """Run on `config.attributes['connection']`, or on a new engine for the configured URL."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
        with engine.connect() as conn:
            _run(conn)
        return
    _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `broker init`")
run_migrations_online()
