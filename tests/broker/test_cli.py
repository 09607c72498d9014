"""The service commands on app.cli (init, demo, token, serve) and the app-free convenant and
witness CLIs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import func, select

import broker.main
from broker import create_app
from broker.core.runtime import runtime
from broker.main import cli
from broker.storage.models import Case, Person, Signal


@pytest.fixture
def bare_app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The broker on an empty database: no schema, no accounts."""
    app = create_app(
        {
            "DATABASE_URL": db_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LOG_LEVEL": "WARNING",
            "TESTING": True,
        }
    )
    yield app
    app.extensions["broker"].engine.dispose()


def invoke(app: Flask, *args: str) -> Result:
    """Run `broker ARGS` through the app's CLI test runner, as a user would."""
    return app.test_cli_runner().invoke(args=list(args))


def count(app: Flask, model: Any) -> int:
    """How many rows a table holds."""
    with app.app_context():
        session = runtime().sessions()
        try:
            return session.scalar(select(func.count()).select_from(model)) or 0
        finally:
            session.close()


def audit_events(app: Flask) -> list[Any]:
    """Every audit entry, in seq order."""
    with app.app_context():
        session = runtime().sessions()
        try:
            return [r.entry for r in runtime().audit.records(session)]
        finally:
            session.close()


def test_init_creates_the_schema_and_is_idempotent(bare_app: Flask) -> None:
    """init creates the tables on an empty database; a second init changes nothing."""
    first = invoke(bare_app, "init")
    assert first.exit_code == 0, first.output
    assert "database ready" in first.output
    assert count(bare_app, Person) == 0
    second = invoke(bare_app, "init")
    assert second.exit_code == 0, second.output
    assert count(bare_app, Person) == 0 and audit_events(bare_app) == []


def test_demo_loads_accounts_and_cases_once(bare_app: Flask) -> None:
    """demo creates the 8 accounts and 8 cases; a second run adds none."""
    first = invoke(bare_app, "demo")
    assert first.exit_code == 0, first.output
    assert (count(bare_app, Person), count(bare_app, Case)) == (8, 8)
    signals = count(bare_app, Signal)
    events = len(audit_events(bare_app))
    second = invoke(bare_app, "demo")
    assert second.exit_code == 0, second.output
    assert "none added" in second.output
    assert (count(bare_app, Person), count(bare_app, Case)) == (8, 8)
    assert count(bare_app, Signal) == signals and len(audit_events(bare_app)) == events


def test_token_prints_an_accepted_token_and_is_audited(app: Flask) -> None:
    """token USERNAME prints, on its last line, a token the API accepts; the issue is audited."""
    result = invoke(app, "token", "visser")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    response = app.test_client().get(
        "/api/v1/convenant", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.json
    issued = [e for e in audit_events(app) if e.event == "token.issue"]
    assert len(issued) == 1
    assert (issued[0].person_id, issued[0].party, issued[0].outcome) == ("visser", "om", "success")
    assert token not in repr(issued[0])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("token", "nobody"), "no active person 'nobody'"),
        (("token", "visser", "--ttl", "5"), "--ttl"),
        (("token",), "USERNAME"),
    ],
    ids=["unknown_user", "ttl_too_short", "no_user"],
)
def test_token_refuses_without_printing_one(app: Flask, args: tuple[str, ...], says: str) -> None:
    """token for an unknown user, a bad --ttl or no user exits non-zero and issues nothing."""
    result = invoke(app, *args)
    assert result.exit_code != 0
    assert says in result.output and "eyJ" not in result.output
    assert [e for e in audit_events(app) if e.event == "token.issue"] == []


def test_serve_help(app: Flask) -> None:
    """serve --help exits 0 and lists its options."""
    result = invoke(app, "serve", "--help")
    assert result.exit_code == 0, result.output
    assert "--port" in result.output and "--dev" in result.output


def test_convenant_check_runs_without_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """`broker convenant check` works through broker.main.cli and never builds the app."""

    def no_app(*_args: Any, **_kwargs: Any) -> Flask:
        raise AssertionError("convenant check must not build the app")

    monkeypatch.setattr(broker.main, "create_app", no_app)
    result = CliRunner().invoke(cli, ["convenant", "check"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "sha256:" in result.output


def test_witness_runs_without_the_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`broker witness init` works through broker.main.cli and never builds the app: a partner
    runs its witness with no broker database."""

    def no_app(*_args: Any, **_kwargs: Any) -> Flask:
        raise AssertionError("the witness must not build the broker's app")

    monkeypatch.setattr(broker.main, "create_app", no_app)
    args = ["witness", "init", "--state", str(tmp_path / "w"), "--name", "witness.example/w"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("witness.example/w+")
