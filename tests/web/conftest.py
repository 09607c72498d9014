"""Fixtures for the web pages: the broker with the demo data on each database (see
tests/web/site.py for the site itself and how a browser logs in)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from audit import AuditEntry
from broker.core.runtime import runtime, transaction
from broker.identity.subjects import subject_key
from broker.storage.models import Case, YoungPerson
from tests.web.site import (
    DEMO_BSN,
    DEMO_INCIDENTS,
    PASSWORD,
    build_site,
    csrf_of,
    form_of,
    log_in,
    text_of,
)

__all__ = [
    "DEMO_BSN",
    "DEMO_INCIDENTS",
    "PASSWORD",
    "Site",
    "build_site",
    "csrf_of",
    "form_of",
    "log_in",
    "text_of",
]


@dataclass
class Site:
    """The broker's pages, with ways to log in and to look behind them."""

    app: Flask
    totp: dict[str, str]
    clients: list[FlaskClient] = field(default_factory=list)
    logged_in: dict[str, FlaskClient] = field(default_factory=dict)

    def client(self) -> FlaskClient:
        """A browser without a session."""
        client = self.app.test_client()
        self.clients.append(client)
        return client

    def login(self, username: str) -> FlaskClient:
        """A browser in which `username` has logged in."""
        client = self.client()
        response = log_in(client, username, self.totp.get(username))
        assert response.status_code == 303, response.get_data(as_text=True)
        return client

    def browser(self, username: str) -> FlaskClient:
        """The one browser in which `username` stays logged in (for many requests)."""
        if username not in self.logged_in:
            self.logged_in[username] = self.login(username)
        return self.logged_in[username]

    def entries(self) -> list[AuditEntry]:
        """Every audit entry, in order."""
        with self.app.app_context():
            session = runtime().sessions()
            try:
                return [r.entry for r in runtime().audit.records(session)]
            finally:
                session.close()

    def case_of(self, bsn: str) -> str:
        """The id of the young person's open case."""
        with self.app.app_context(), transaction() as session:
            key = subject_key(runtime().subject_secret, bsn=bsn)
            return session.scalars(
                select(Case.id)
                .join(YoungPerson, YoungPerson.id == Case.young_person_id)
                .where(YoungPerson.subject_key == key, Case.closed_at.is_(None))
            ).one()

    def count(self, model: Any) -> int:
        """How many rows a table holds."""
        with self.app.app_context(), transaction() as session:
            return len(session.scalars(select(model)).all())


@pytest.fixture
def any_site(db_url: str, tmp_path: Path) -> Iterator[Site]:
    """The pages on a fresh database (SQLite, and PostgreSQL when reachable) with the demo."""
    app, secrets = build_site(db_url, tmp_path / "instance", "http://localhost")
    yield Site(app, secrets)
    app.extensions["broker"].engine.dispose()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """The pages on a fresh SQLite database with the demo (what does not depend on the
    database runs once; `any_site` runs on PostgreSQL too)."""
    app, secrets = build_site(
        f"sqlite:///{tmp_path / 'web.db'}", tmp_path / "instance", "http://localhost"
    )
    yield Site(app, secrets)
    app.extensions["broker"].engine.dispose()
