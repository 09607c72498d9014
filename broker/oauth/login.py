"""The login of a person in the browser: the authorization endpoint's form (username and password,
then the TOTP code for those who need a second factor), refused attempts counted against
guessing, and every login audited; the page carries no script and is never framed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import (
    Response,
    current_app,
    make_response,
    render_template,
    request,
    session,
)
from sqlalchemy import or_, update

from broker.core.context import audit_and_commit
from broker.core.limits import count_records
from broker.core.observability import audit_apart
from broker.core.runtime import db_session, runtime
from broker.identity.accounts import MAX_PASSWORD_LENGTH, find_person, needs_second_factor
from broker.identity.passwords import verify_password
from broker.identity.totp import matching_step
from broker.storage.models import Person, utcnow

from .base import audit_unavailable, authorization_server, oauth
from .grants import (
    CLIENT_ID,
    Client,
    audit_entry,
)

__all__ = [
    "CSRF_KEY",
    "LOGIN_FAILURE_WINDOW",
    "MAX_LOGIN_FAILURES",
    "PENDING_KEY",
    "SECOND_FACTOR_TTL",
    "authorize",
]


CSRF_KEY = "csrf_token"


# The login waiting for its second factor: whose password was right, for which request, until.
PENDING_KEY = "second_factor"


SECOND_FACTOR_TTL = 300  # seconds to enter the code after the password


# Failed logins of one person in the window after which no code is tried (against guessing).
MAX_LOGIN_FAILURES = 5


LOGIN_FAILURE_WINDOW = dt.timedelta(minutes=15)


# HTML pages: no script at all, styles only from our own static folder, never in a frame.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = make_response(render_template(template, **context), status)
    response.headers.update(_PAGE_HEADERS)
    return response


_AUTHORIZE_ERRORS = {
    "invalid_client": "De toepassing die u hierheen stuurde is bij de broker niet bekend.",
    "unauthorized_client": "Deze toepassing mag personen niet laten inloggen.",
    "unsupported_response_type": "De toepassing vraagt iets wat de broker niet kent.",
}


def _authorization_error(error: OAuth2Error | None) -> Response:
    """Back to the client when its redirect URI is known to be its own; a page otherwise."""
    if error is not None and error.redirect_uri:
        response: Response = authorization_server().handle_error_response(request, error)
        return response
    code = error.error if error is not None else "invalid_request"
    message = _AUTHORIZE_ERRORS.get(
        code, "Het inlogverzoek van de toepassing is onvolledig of ongeldig."
    )
    return _page("oauth_error.html", 400, message=message, code=code)


def _csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def _csrf_ok() -> bool:
    expected = session.get(CSRF_KEY)
    given = request.form.get(CSRF_KEY, "")
    return isinstance(expected, str) and hmac.compare_digest(given.encode(), expected.encode())


def _login(username: str, password: str) -> tuple[Person | None, str]:
    """The account named `username` (None if there is none) and the outcome: "password" when
    the password is right and the account may log in, else why not."""
    if len(password) > MAX_PASSWORD_LENGTH:
        password = ""
    person = find_person(db_session(), username) if CLIENT_ID.match(username) else None
    # Always one scrypt, also for an unknown account: no account enumeration by timing.
    matches = verify_password(password, person.password_hash if person else None)
    if person is None:
        return None, "unknown_account"
    if person.password_hash is None:
        return person, "no_password"
    if not matches:
        return person, "wrong_password"
    if person.disabled:
        return person, "disabled"
    return person, "password"


def _login_refused(person: Person | None, client: Client, detail: dict[str, Any]) -> None:
    """Audit a refused login in a transaction of its own (503 when that fails)."""
    entry = audit_entry(
        "login",
        "unauthorized",
        person_id=person.username if person else None,
        party=person.party if person else None,
        client_id=client.client_id,
        detail=detail,
    )
    if not audit_apart(entry):
        raise audit_unavailable()


def _logged_in(grant: Any, client: Client, person: Person, second_factor: str) -> Response:
    """The code for the client, committed with the audit record of the login."""
    session.pop(CSRF_KEY, None)
    session.pop(PENDING_KEY, None)
    response: Response = authorization_server().create_authorization_response(
        grant=grant, grant_user=person
    )
    entry = audit_entry(
        "login",
        "success",
        person_id=person.username,
        person_name=person.name,
        party=person.party,
        client_id=client.client_id,
        detail={"method": "password", "second_factor": second_factor},
    )
    audit_and_commit(db_session(), runtime(), [entry])  # commits the code with the record
    response.headers["Cache-Control"] = "no-store"
    return response


def _seconds() -> float:
    clock: Callable[[], float] | None = current_app.config.get("TOTP_CLOCK")
    return clock() if clock is not None else time.time()


def _request_hash() -> str:
    """Binds a pending second factor to this very authorization request."""
    return hashlib.sha256(request.query_string).hexdigest()


_NOT_ENROLLED = (
    "Voor uw rol is inloggen met een tweede factor (een code uit een authenticator-app) "
    "verplicht, maar voor uw account is die nog niet ingesteld. Vraag de beheerder van de "
    "broker om de tweede factor voor u in te stellen; daarna kunt u inloggen."
)


_WRONG_CODE = "De code is onjuist of al gebruikt. Wacht op de volgende code en probeer opnieuw."


_TOO_MANY = "Te veel mislukte inlogpogingen. Wacht een kwartier en log dan opnieuw in."


_EXPIRED = "Uw inlogpoging is verlopen. Log opnieuw in."


def _ask_second_factor(client: Client, person: Person) -> Response:
    """After the right password: the code form, or a refusal when no second factor is set."""
    if person.totp_secret is None:
        _login_refused(
            person,
            client,
            {"method": "password", "second_factor": "not_enrolled", "reason": "no_second_factor"},
        )
        return _page(
            "login.html", 403, client=client, csrf_token=_csrf_token(), error=_NOT_ENROLLED
        )
    session.pop(CSRF_KEY, None)
    session[PENDING_KEY] = {
        "person": person.id,
        "client": client.client_id,
        "request": _request_hash(),
        "until": _seconds() + SECOND_FACTOR_TTL,
    }
    return _page("second_factor.html", client=client, csrf_token=_csrf_token())


def _pending_person(client: Client) -> Person | None:
    """The person whose password was right for this request, if that was not too long ago."""
    pending = session.get(PENDING_KEY)
    if (
        not isinstance(pending, dict)
        or pending.get("client") != client.client_id
        or pending.get("request") != _request_hash()
        or not isinstance(pending.get("until"), int | float)
        or pending["until"] < _seconds()
        or not isinstance(pending.get("person"), int)
    ):
        return None
    return db_session().get(Person, pending["person"])


def _second_factor(grant: Any, client: Client) -> Response:
    """The second form step: a TOTP code, used at most once, for the pending login."""
    person = _pending_person(client)
    if person is None:
        session.pop(PENDING_KEY, None)
        return _page("login.html", client=client, csrf_token=_csrf_token(), error=_EXPIRED)
    detail: dict[str, Any] = {"method": "password", "second_factor": "totp"}
    if person.disabled or person.password_hash is None or person.totp_secret is None:
        session.pop(PENDING_KEY, None)
        _login_refused(person, client, {**detail, "reason": "account_changed"})
        return _page("login.html", client=client, csrf_token=_csrf_token(), error=_EXPIRED)
    failures = count_records(
        db_session(),
        person_id=person.username,
        event="login",
        outcome="unauthorized",
        since=utcnow() - LOGIN_FAILURE_WINDOW,
    )
    if failures >= MAX_LOGIN_FAILURES:
        session.pop(PENDING_KEY, None)
        _login_refused(person, client, {**detail, "reason": "too_many_failures"})
        return _page("login.html", client=client, csrf_token=_csrf_token(), error=_TOO_MANY)
    step = matching_step(person.totp_secret, request.form.get("code", "")[:32], _seconds())
    reason = "wrong_code" if step is None else None
    if step is not None:
        claimed = db_session().execute(
            update(Person)
            .where(
                Person.id == person.id,
                or_(Person.totp_last_step.is_(None), Person.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            reason = "code_reused"
    if reason is not None:
        _login_refused(person, client, {**detail, "reason": reason})
        return _page(
            "second_factor.html", client=client, csrf_token=_csrf_token(), error=_WRONG_CODE
        )
    return _logged_in(grant, client, person, "totp")


@oauth.route("/oauth/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    """The authorization endpoint: a login form for persons (then a TOTP code for those who
    need a second factor), then a code for the client."""
    server = authorization_server()
    try:
        grant = server.get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return _authorization_error(error)
    except ValueError:  # Authlib refuses to put some request values into an error message
        return _authorization_error(None)
    client: Client = grant.request.client
    if request.method == "GET":
        return _page("login.html", client=client, csrf_token=_csrf_token())
    if not _csrf_ok():
        session.pop(CSRF_KEY, None)
        session.pop(PENDING_KEY, None)
        return _page(
            "login.html",
            400,
            client=client,
            csrf_token=_csrf_token(),
            error="Het formulier was verlopen. Vul het opnieuw in.",
        )
    if request.form.get("step") == "second_factor":
        return _second_factor(grant, client)
    session.pop(PENDING_KEY, None)
    username = request.form.get("username", "").strip()
    person, how = _login(username, request.form.get("password", ""))
    if person is None or how != "password":
        # An unknown username is not recorded: it may be a password typed in the wrong field.
        _login_refused(person, client, {"method": "password", "reason": how})
        return _page(
            "login.html",
            client=client,
            csrf_token=_csrf_token(),
            username=username if person else "",
            error="Gebruikersnaam of wachtwoord onjuist.",
        )
    if needs_second_factor(person):
        return _ask_second_factor(client, person)
    return _logged_in(grant, client, person, "not_required")
