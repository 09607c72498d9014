"""The floor under a case view: a minimal Flask app that does only a view's database work.

`bench/http_views.py` serves it under gunicorn beside the broker, with the same workers,
threads and SQLite database file, on the same engine (`broker.storage.db.make_engine`: WAL,
`synchronous=FULL`, every transaction opened with `BEGIN IMMEDIATE`). Per request it reads the
case's field values with the broker's query, inserts one row into a table of its own, commits,
and answers JSON. No token check, no decision, no transforms, no audit chain, no request log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy import Engine, String, func, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from broker.storage.db import make_engine, session_factory
from broker.storage.models import FieldValue, UTCDateTime, utcnow

__all__ = ["BaselineBase", "BaselineView", "count_views", "create_app", "create_schema"]


class BaselineBase(DeclarativeBase):
    """The baseline's own table, apart from the broker's metadata and migrations."""


class BaselineView(BaselineBase):
    """One row per answered request: the baseline's counterpart of the audit record."""

    __tablename__ = "bench_baseline_view"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(String(48))
    fields: Mapped[int]
    viewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


def create_schema(engine: Engine) -> None:
    """Create the baseline's table where it does not exist yet."""
    BaselineBase.metadata.create_all(engine)


def count_views(engine: Engine) -> int:
    """How many rows the baseline has inserted so far."""
    with engine.execution_options(sqlite_begin="DEFERRED").connect() as connection:
        return connection.scalar(select(func.count()).select_from(BaselineView)) or 0


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The baseline app: DATABASE_URL from BROKER_DATABASE_URL, then `config`."""
    app = Flask("bench_baseline")
    app.config.from_mapping(DATABASE_URL=None)
    app.config.from_prefixed_env("BROKER")
    if config:
        app.config.from_mapping(config)
    if not app.config["DATABASE_URL"]:
        raise RuntimeError("the baseline needs BROKER_DATABASE_URL (the broker's database)")
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["bench_baseline"] = engine
    sessions = session_factory(engine)
    values = select(
        FieldValue.field, FieldValue.value, FieldValue.party, FieldValue.supplied_at
    ).order_by(FieldValue.id)

    @app.get("/api/v1/cases/<case_id>")
    def case_values(case_id: str) -> Response:
        """The case's newest value per field; one row inserted and committed first."""
        with sessions() as session, session.begin():
            fields: dict[str, Any] = {}
            sources: dict[str, dict[str, str]] = {}
            for name, value, party, supplied_at in session.execute(
                values.where(FieldValue.case_id == case_id)
            ):
                fields[name] = value
                sources[name] = {"party": party, "supplied_at": supplied_at.isoformat()}
            session.execute(
                insert(BaselineView).values(case_id=case_id, fields=len(fields), viewed_at=utcnow())
            )
        return jsonify({"case_id": case_id, "fields": fields, "sources": sources})

    @app.get("/readyz")
    def readyz() -> Response:
        """Readiness: the database answers."""
        with sessions() as session:
            session.execute(select(1))
        return jsonify({"status": "ok"})

    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness without the database: what the load generator alone can drive."""
        return jsonify({"status": "ok"})

    return app
