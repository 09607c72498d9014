"""Shared fixtures: a database URL on SQLite (always) and on PostgreSQL (when reachable).

PostgreSQL comes from BROKER_TEST_POSTGRES_URL (default: local trust auth, database `test`);
each test gets a fresh schema, selected through `search_path` in the URL and dropped after.
An unreachable PostgreSQL skips with its reason, except with CI=true, where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from tests.needs import unavailable

POSTGRES_URL_ENV = "BROKER_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@cache
def _postgres_problem(url: str) -> str | None:
    """Why PostgreSQL at `url` cannot be used (None when it can); asked once per run."""
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        where = make_url(url).render_as_string(hide_password=True)
        return f"PostgreSQL not reachable at {where} ({type(exc.orig or exc).__name__})"
    finally:
        engine.dispose()
    return None


def _postgres_admin() -> Engine:
    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    problem = _postgres_problem(url)
    if problem is not None:
        unavailable(f"{problem}; set {POSTGRES_URL_ENV} to test on PostgreSQL")
    return create_engine(url, poolclass=NullPool)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    admin = _postgres_admin()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine from `broker.storage.db.make_engine` on `db_url`, disposed after the test."""
    from broker.storage.db import make_engine

    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()
