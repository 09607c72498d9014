"""The broker's pages for tests and benches: the demo data, persons who can log in, and
logging in the way a browser does — through the pages' own OAuth flow (authorization code with
PKCE) and, for the coordinator and the privacy officer, a TOTP code."""

from __future__ import annotations

import html
import re
import time
from functools import cache
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from broker import create_app
from broker.cli.demo import load_demo
from broker.cli.service import init_database
from broker.core.runtime import transaction
from broker.identity.accounts import enroll_totp
from broker.identity.passwords import hash_password
from broker.identity.totp import code_at, step_at
from broker.storage.models import Person

PASSWORD = "Paard-Batterij-Nietje-42"
LOGIN_USERS = ("jansen", "bakker", "devries", "smit", "mulder", "dekker")
SECOND_FACTOR = ("mulder", "dekker")  # their roles log in with a TOTP code
# Scenario 1 of the demo: Heechterp-Schieringen, on track lokaal_preventief; the police
# supplied the incidents, the school the school data.
DEMO_BSN = "725763863"
DEMO_INCIDENTS = "Twee winkeldiefstallen in winkelcentrum Skoatterwâld"


def build_site(db_url: str, instance: Path, issuer: str) -> tuple[Flask, dict[str, str]]:
    """The broker with the demo data, passwords for the login users and TOTP secrets."""
    app = create_app(
        {
            "DATABASE_URL": db_url,
            "INSTANCE_PATH": str(instance),
            "ISSUER": issuer,
            "LOG_LEVEL": "WARNING",
            "TESTING": True,
        }
    )
    secrets: dict[str, str] = {}
    with app.app_context():
        init_database()
        load_demo()
        with transaction() as session:
            for person in session.scalars(select(Person).where(Person.username.in_(LOGIN_USERS))):
                person.password_hash = _password_hash()  # one scrypt for all of them
            for username in SECOND_FACTOR:
                secrets[username] = enroll_totp(session, username)[1]
    return app, secrets


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def form_of(page: str) -> tuple[str, str]:
    """The action and the CSRF token of the first form that posts on a page."""
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert action and token, page
    return html.unescape(action.group(1)), token.group(1)


def csrf_of(page: str) -> str:
    """The CSRF token of a page's forms."""
    return form_of(page)[1]


def log_in(client: FlaskClient, username: str, secret: str | None = None) -> TestResponse:
    """Log in as a browser does: /login, the authorization server's form (and TOTP step),
    back to /callback; the callback's answer."""
    start = client.get("/login")
    assert start.status_code == 303, start.get_data(as_text=True)
    login_page = client.get(start.headers["Location"])
    assert login_page.status_code == 200, login_page.get_data(as_text=True)
    action, token = form_of(login_page.get_data(as_text=True))
    answer = client.post(
        action, data={"csrf_token": token, "username": username, "password": PASSWORD}
    )
    if secret is not None:
        _, token = form_of(answer.get_data(as_text=True))
        code = code_at(secret, step_at(time.time()))
        answer = client.post(
            action, data={"csrf_token": token, "step": "second_factor", "code": code}
        )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client.get(answer.headers["Location"])


def text_of(response: TestResponse) -> str:
    """A page's HTML."""
    return response.get_data(as_text=True)
