"""The second factor: RFC 6238 codes, enrolment on the command line, and the login page's
second step for coordinators and privacy officers — codes used once, refusals audited, and
no code or secret in a log line or audit record."""

from __future__ import annotations

import base64
import re

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from broker.core.runtime import transaction
from broker.identity.accounts import enroll_totp
from broker.identity.totp import code_at, matching_step, step_at
from broker.oauth.login import MAX_LOGIN_FAILURES
from broker.storage.models import Person
from tests.broker.conftest import Api
from tests.broker.test_oauth import (
    PASSWORD,
    audit_dump,
    authorize_query,
    code_from,
    events,
    exchange,
    give_password,
    login_form,
    make_portal,
    pkce,
)

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
NOW = 1_790_000_000.0  # the fixed clock of the login tests (a step boundary lies 10 s after)

# ── the pure core ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("seconds", "code"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (20000000000, "353130")],
)
def test_codes_match_the_rfc_6238_test_vectors(seconds: int, code: str) -> None:
    """SHA-1 test vectors of RFC 6238 appendix B (their last six digits)."""
    assert code_at(RFC_SECRET, step_at(seconds)) == code


def test_a_code_is_accepted_one_step_either_side_and_no_further() -> None:
    """The step before and after are accepted (drift, slow typing); two steps away is not."""
    now = step_at(NOW)
    for offset in (-1, 0, 1):
        assert matching_step(RFC_SECRET, code_at(RFC_SECRET, now + offset), NOW) == now + offset
    for offset in (-2, 2):
        assert matching_step(RFC_SECRET, code_at(RFC_SECRET, now + offset), NOW) is None
    assert matching_step(RFC_SECRET, "12345", NOW) is None
    assert matching_step(RFC_SECRET, "１２３４５６", NOW) is None  # fullwidth digits


# ── enrolment ───────────────────────────────────────────────────────────────────────────────


def secret_of(app: Flask, username: str) -> str | None:
    """The stored TOTP secret of a person."""
    with app.app_context(), transaction() as session:
        return session.scalars(select(Person.totp_secret).where(Person.username == username)).one()


def test_enroll_totp_prints_the_secret_once_and_audits_without_it(api: Api) -> None:
    """`broker users enroll-totp` prints an otpauth URI and the secret, keeps the secret, and
    audits the enrolment without it; a second enrolment needs --replace."""
    result = api.app.test_cli_runner().invoke(args=["users", "enroll-totp", "mulder"])
    assert result.exit_code == 0, result.output
    secret = secret_of(api.app, "mulder")
    assert secret and f"secret: {secret}" in result.output
    uri = re.search(r"otpauth://totp/\S+", result.output)
    assert uri and f"secret={secret}" in uri.group(0) and "period=30" in uri.group(0)
    enrolled = events(api, "person.totp_enroll")
    assert [e.person_id for e in enrolled] == ["mulder"]
    assert secret not in audit_dump(api)
    again = api.app.test_cli_runner().invoke(args=["users", "enroll-totp", "mulder"])
    assert again.exit_code != 0 and "--replace" in again.output
    assert secret_of(api.app, "mulder") == secret
    replaced = api.app.test_cli_runner().invoke(
        args=["users", "enroll-totp", "mulder", "--replace"]
    )
    assert replaced.exit_code == 0 and secret_of(api.app, "mulder") not in (None, secret)


# ── the login page ──────────────────────────────────────────────────────────────────────────


def enrolled(app: Flask, username: str) -> str:
    """Give the person a password and a second factor; the TOTP secret."""
    give_password(app, username)
    with app.app_context(), transaction() as session:
        _, secret = enroll_totp(session, username)
    return secret


def password_step(api: Api, challenge: str, username: str) -> TestResponse:
    """The login page, then the right password."""
    page = api.client.get("/oauth/authorize", query_string=authorize_query(challenge))
    form = login_form(page)
    return api.client.post(
        form.action,
        data={"csrf_token": form.csrf_token, "username": username, "password": PASSWORD},
    )


def code_step(api: Api, page: TestResponse, code: str) -> TestResponse:
    """POST a TOTP code on the second-factor page."""
    form = login_form(page)
    return api.client.post(
        form.action, data={"csrf_token": form.csrf_token, "step": "second_factor", "code": code}
    )


@pytest.fixture
def clocked(api: Api) -> Api:
    """The portal registered and the second factor's clock fixed at NOW."""
    make_portal(api.app)
    api.app.config["TOTP_CLOCK"] = lambda: NOW
    return api


@pytest.mark.parametrize("username", ["mulder", "dekker"])
def test_coordinator_and_privacy_officer_need_a_code_after_the_password(
    clocked: Api, username: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The right password alone gives no code; a wrong code neither (audited); the right one
    does, and the login record says second_factor totp — with the code nowhere."""
    api = clocked
    secret = enrolled(api.app, username)
    verifier, challenge = pkce()
    asked = password_step(api, challenge, username)
    assert asked.status_code == 200 and "Location" not in asked.headers
    assert 'name="code"' in asked.get_data(as_text=True)
    good = code_at(secret, step_at(NOW))
    wrong = "000000" if good != "000000" else "111111"
    refused = code_step(api, asked, wrong)
    assert refused.status_code == 200 and "Location" not in refused.headers
    assert "De code is onjuist" in refused.get_data(as_text=True)
    failed = events(api, "login")[-1]
    assert (failed.outcome, failed.person_id) == ("unauthorized", username)
    assert (failed.detail["second_factor"], failed.detail["reason"]) == ("totp", "wrong_code")
    code = code_from(code_step(api, refused, good))
    login = events(api, "login")[-1]
    assert (login.outcome, login.person_id, login.detail["second_factor"]) == (
        "success",
        username,
        "totp",
    )
    token = exchange(api, code, verifier)
    assert token.status_code == 200, token.get_data(as_text=True)
    leaked = audit_dump(api) + capsys.readouterr().out
    assert good not in leaked and secret not in leaked


def test_a_code_is_refused_the_second_time(clocked: Api) -> None:
    """A code accepted once is refused in a next login within its window, as is the code of an
    earlier step; the next step's code is accepted."""
    api = clocked
    secret = enrolled(api.app, "mulder")
    now = step_at(NOW)
    code_from(code_step(api, password_step(api, pkce()[1], "mulder"), code_at(secret, now)))
    for step in (now, now - 1):
        again = code_step(api, password_step(api, pkce()[1], "mulder"), code_at(secret, step))
        assert again.status_code == 200 and "Location" not in again.headers
        assert events(api, "login")[-1].detail["reason"] == "code_reused"
    later = code_step(api, password_step(api, pkce()[1], "mulder"), code_at(secret, now + 1))
    code_from(later)
    with api.app.app_context(), transaction() as session:
        last = session.scalars(select(Person.totp_last_step).where(Person.username == "mulder"))
        assert last.one() == now + 1


def test_without_an_enrolled_second_factor_a_coordinator_cannot_log_in(clocked: Api) -> None:
    """A coordinator with a password but no TOTP gets a clear Dutch refusal and no code."""
    api = clocked
    give_password(api.app, "mulder")
    response = password_step(api, pkce()[1], "mulder")
    assert response.status_code == 403 and "Location" not in response.headers
    assert "tweede factor" in response.get_data(as_text=True)
    refused = events(api, "login")[-1]
    assert (refused.outcome, refused.detail["second_factor"]) == ("unauthorized", "not_enrolled")


def test_a_case_worker_logs_in_with_the_password_alone(clocked: Api) -> None:
    """Roles without the requirement (and not enrolled) get their code after the password."""
    api = clocked
    give_password(api.app, "jansen")
    code_from(password_step(api, pkce()[1], "jansen"))
    assert events(api, "login")[-1].detail["second_factor"] == "not_required"


def test_the_code_step_needs_its_csrf_token_and_a_pending_password(clocked: Api) -> None:
    """No CSRF token: 400; a code posted without the password step first: back to the login."""
    api = clocked
    secret = enrolled(api.app, "dekker")
    asked = password_step(api, pkce()[1], "dekker")
    form = login_form(asked)
    code = code_at(secret, step_at(NOW))
    forged = api.client.post(form.action, data={"step": "second_factor", "code": code})
    assert forged.status_code == 400 and "Location" not in forged.headers
    page = api.client.get("/oauth/authorize", query_string=authorize_query(pkce()[1]))
    skipped = code_step(api, page, code)
    assert skipped.status_code == 200 and "Location" not in skipped.headers
    assert "verlopen" in skipped.get_data(as_text=True)


def test_the_pending_login_runs_out(clocked: Api) -> None:
    """A code entered more than five minutes after the password is not taken."""
    api = clocked
    secret = enrolled(api.app, "mulder")
    asked = password_step(api, pkce()[1], "mulder")
    later = NOW + 301
    api.app.config["TOTP_CLOCK"] = lambda: later
    response = code_step(api, asked, code_at(secret, step_at(later)))
    assert response.status_code == 200 and "Location" not in response.headers
    assert "verlopen" in response.get_data(as_text=True)


def test_guessing_stops_after_too_many_failures(clocked: Api) -> None:
    """After MAX_LOGIN_FAILURES refused logins in a quarter hour, even the right code is
    refused (audited as too_many_failures)."""
    api = clocked
    secret = enrolled(api.app, "mulder")
    good = code_at(secret, step_at(NOW))
    wrong = "000000" if good != "000000" else "111111"
    page = password_step(api, pkce()[1], "mulder")
    for _ in range(MAX_LOGIN_FAILURES):
        page = code_step(api, page, wrong)
    blocked = code_step(api, page, good)
    assert blocked.status_code == 200 and "Location" not in blocked.headers
    assert events(api, "login")[-1].detail["reason"] == "too_many_failures"
