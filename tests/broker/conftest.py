"""Fixtures for the broker: an app on each database, demo accounts, tokens, an API helper."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from broker import create_app
from broker.cli.demo import ensure_accounts
from broker.cli.service import init_database, issue_token
from broker.core.runtime import runtime


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The broker on a fresh database (SQLite, and PostgreSQL when reachable), demo accounts."""
    app = create_app(
        {
            "DATABASE_URL": db_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LOG_LEVEL": "WARNING",
            "TESTING": True,
        }
    )
    with app.app_context():
        init_database()
        ensure_accounts()
    yield app
    app.extensions["broker"].engine.dispose()


@dataclass
class Api:
    """Calls the API as a demo account would."""

    app: Flask
    client: FlaskClient
    tokens: dict[str, str]

    def token(self, username: str) -> str:
        """A bearer token for the account (cached per test)."""
        if username not in self.tokens:
            with self.app.app_context():
                self.tokens[username] = issue_token(username)
        return self.tokens[username]

    def clock_ahead(self, seconds: float) -> None:
        """Run the broker's token clock `seconds` ahead of the wall clock from now on (tokens
        issued and checked): a token issued next counts as issued that much later."""
        rt = self.app.extensions["broker"]
        rt.token_settings = dataclasses.replace(
            rt.token_settings, clock=lambda: time.time() + seconds
        )

    def headers(self, username: str | None) -> dict[str, str]:
        """Authorization headers for the account, or none."""
        return {"Authorization": f"Bearer {self.token(username)}"} if username else {}

    def signal(
        self,
        username: str,
        subject: dict[str, Any],
        fields: dict[str, Any],
        summary: str | None = None,
    ) -> TestResponse:
        """POST /api/v1/signals."""
        body: dict[str, Any] = {"subject": subject, "fields": fields}
        if summary is not None:
            body["summary"] = summary
        return self.client.post("/api/v1/signals", json=body, headers=self.headers(username))

    def view(
        self, username: str, case_id: str, purpose: str = "casusoverleg", **params: str
    ) -> TestResponse:
        """GET /api/v1/cases/{id}."""
        return self.client.get(
            f"/api/v1/cases/{case_id}",
            query_string={"purpose": purpose, **params},
            headers=self.headers(username),
        )

    def track(
        self,
        case_id: str,
        track: str,
        reason: str = "Besproken in het MultiTeam",
        director: str | None = None,
        username: str = "mulder",
    ) -> TestResponse:
        """POST /api/v1/cases/{id}/track as the coordinator."""
        body: dict[str, Any] = {"track": track, "reason": reason}
        if director:
            body["case_director"] = director
        return self.client.post(
            f"/api/v1/cases/{case_id}/track", json=body, headers=self.headers(username)
        )

    def count(self, model: Any) -> int:
        """How many rows a table holds."""
        with self.app.app_context():
            session = runtime().sessions()
            try:
                return session.scalar(select(func.count()).select_from(model)) or 0
            finally:
                session.close()

    def audit_records(self) -> list[Any]:
        """Every audit record, in seq order."""
        with self.app.app_context():
            session = runtime().sessions()
            try:
                return list(runtime().audit.records(session))
            finally:
                session.close()


@pytest.fixture
def api(app: Flask) -> Api:
    """An API helper bound to the app's test client."""
    return Api(app, app.test_client(), {})
