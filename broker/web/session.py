"""Logging in to the pages: the pages are a public OAuth client of the broker's own
authorization server (authorization code with PKCE, like any portal), and the session holds
the person's access token.

- `/login` makes a PKCE verifier and a state, keeps both in the signed session cookie and sends
  the browser to `/oauth/authorize` (the login form, and the TOTP step for the roles that need
  it);
- `/callback` checks the state and exchanges the code at the token endpoint — in-process, but
  through the endpoint itself, so the exchange is validated and audited like any other;
- every page request checks the token again (signature, expiry) and resolves its person as the
  API does, so a disabled person is out at once; the session ends when the token does;
- `/logout` clears the session.

The cookie is HttpOnly, SameSite=Lax and Secure when the ISSUER is https (see create_app);
every form that posts carries a CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc6750.errors import InvalidTokenError
from flask import Flask, current_app, g, redirect, request, session, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from broker.core.auth import request_id, source_address
from broker.core.context import Context
from broker.core.observability import audit_apart
from broker.core.problems import Problem
from broker.core.runtime import Runtime, db_session, runtime, transaction
from broker.identity.accounts import AccountError, add_client, find_client
from broker.identity.actors import Actor, BrokerTokenValidator
from broker.oauth.server import token as token_endpoint

from .blueprint import CSRF_KEY, csrf_ok, home_endpoint, page, web
from .i18n import LANG_KEY, LANGUAGES, gettext

__all__ = ["WEB_CLIENT_ID", "current_actor", "ensure_web_client", "init_app", "page_actor"]

WEB_CLIENT_ID = "broker-web"  # the pages' OAuth client (public: PKCE, no secret)
WEB_CLIENT_NAME = "MultiTeam-broker (webpagina's)"
AUTH_KEY = "web_auth"  # the person's access token
LOGIN_KEY = "web_login"  # a login under way: state, PKCE verifier, where to go after
LOGIN_TTL = 600  # seconds from /login to /callback
PUBLIC_ENDPOINTS = frozenset(
    {"web.login", "web.callback", "web.logout", "web.logged_out", "web.language"}
)
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


def _client_id() -> str:
    return str(current_app.config.get("WEB_CLIENT_ID") or WEB_CLIENT_ID)


def _callback_uri() -> str:
    """Where the authorization server sends the browser back: under the broker's ISSUER."""
    return str(current_app.config["ISSUER"]).rstrip("/") + url_for("web.callback")


def ensure_web_client() -> None:
    """Register the pages' public client (or point it at the callback under the current
    ISSUER), audited; a client an operator disabled stays disabled."""
    rt = runtime()
    client_id, uri = _client_id(), _callback_uri()
    ctx = Context(None, request_id(), source_address())
    try:
        with transaction() as s:
            row = find_client(s, client_id)
            if row is not None and (row.disabled or row.redirect_uris == [uri]):
                return
            if row is not None:
                row.redirect_uris = [uri]
                event, action = "client.update", "update"
            else:
                row, _ = add_client(
                    s,
                    rt.convenant,
                    client_id=client_id,
                    name=WEB_CLIENT_NAME,
                    party="gemeente",
                    grant_types=["authorization_code"],
                    redirect_uris=[uri],
                    public=True,
                )
                event, action = "client.create", "create"
            entry = ctx.entry(
                event,
                action,
                "success",
                client_id=client_id,
                party=row.party,
                convenant_hash=rt.convenant.hash,
                detail={"by": "web", "public": True, "grant_types": "authorization_code"},
            )
            rt.audit.append(s, [entry])
    except AccountError as exc:
        raise Problem(
            503,
            "web_client_invalid",
            f"The web pages cannot log in: {exc.description} (check ISSUER).",
            audit={"skip": True},
        ) from None
    except SQLAlchemyError:
        pass  # another process registered it at the same moment; the authorization request says


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _safe_next(target: str | None) -> str | None:
    """A local path to go to after logging in; anything else is dropped (no open redirect)."""
    if not target or len(target) > 500 or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or not target.isprintable():
        return None
    return target


@web.get("/login")
def login() -> Response:
    """Start the authorization code flow with PKCE at the broker's own authorization server."""
    if current_actor() is not None:
        return redirect(url_for("web.home"))
    ensure_web_client()
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(24)
    session[LOGIN_KEY] = {
        "state": state,
        "verifier": verifier,
        "next": _safe_next(request.args.get("next")),
        "until": time.time() + LOGIN_TTL,
    }
    query = urlencode(
        {
            "response_type": "code",
            "client_id": _client_id(),
            "redirect_uri": _callback_uri(),
            "state": state,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    return redirect(f"{url_for('oauth.authorize')}?{query}", 303)


def _login_problem(message: str, status: int = 400) -> Response:
    session.pop(LOGIN_KEY, None)
    return page("web/login_problem.html", status, message=message)


def _exchange(code: str, verifier: str) -> dict[str, Any] | None:
    """The token endpoint's answer to the code, asked in-process: the endpoint validates the
    code, the PKCE verifier and the redirect URI, and writes the audit record, as for any
    client. None when it refuses."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    builder = EnvironBuilder(
        path=url_for("oauth.token"),
        base_url=request.host_url,
        method="POST",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": _client_id(),
            "redirect_uri": _callback_uri(),
            "code_verifier": verifier,
        },
        headers=[("X-Request-ID", request_id())],
        environ_base={"REMOTE_ADDR": request.remote_addr or ""},
    )
    try:
        with app.app_context(), app.request_context(builder.get_environ()):
            response = token_endpoint()
            body = response.get_json(silent=True)
    finally:
        builder.close()
    if response.status_code != 200 or not isinstance(body, dict):
        return None
    return body


@web.get("/callback")
def callback() -> Response:
    """Back from the authorization server: check the state, exchange the code, start the
    session."""
    pending = session.get(LOGIN_KEY)
    state = request.args.get("state", "")
    if (
        not isinstance(pending, dict)
        or not isinstance(pending.get("state"), str)
        or not hmac.compare_digest(state.encode(), pending["state"].encode())
        or not isinstance(pending.get("until"), int | float)
        or pending["until"] < time.time()
    ):
        return _login_problem(gettext("Uw inlogpoging is verlopen of ongeldig. Log opnieuw in."))
    if request.args.get("error") or not request.args.get("code"):
        return _login_problem(gettext("Het inloggen is afgebroken. Log opnieuw in."))
    answer = _exchange(request.args["code"], str(pending["verifier"]))
    token = answer.get("access_token") if answer else None
    if not isinstance(token, str):
        return _login_problem(gettext("Het inloggen is niet gelukt. Log opnieuw in."))
    target = _safe_next(pending.get("next"))
    language = session.get(LANG_KEY)
    session.clear()  # a new session: nothing from before the login carries over
    if language in LANGUAGES:
        session[LANG_KEY] = language
    session[AUTH_KEY] = token
    actor = current_actor()
    if actor is None:
        return _login_problem(gettext("Het inloggen is niet gelukt. Log opnieuw in."))
    return redirect(target or url_for("web.home"), 303)


@web.post("/logout")
def logout() -> Response:
    """End the session (the form carries the CSRF token, checked before this runs)."""
    language = session.get(LANG_KEY)
    session.clear()
    if language in LANGUAGES:
        session[LANG_KEY] = language
    g.pop("actor", None)
    return redirect(url_for("web.logged_out"), 303)


@web.get("/logged-out")
def logged_out() -> Response:
    """The page after logging out."""
    return page("web/logged_out.html")


@web.post("/language")
def language() -> Response:
    """Switch the pages' language (Dutch or English), back to the page it was asked on."""
    chosen = request.form.get("lang")
    if chosen in LANGUAGES:
        session[LANG_KEY] = chosen
    return redirect(_safe_next(request.form.get("next")) or url_for("web.home"), 303)


@web.get("/")
def home() -> Response:
    """The start page of the person's role."""
    actor = current_actor()
    assert actor is not None
    endpoint = home_endpoint(actor.roles)
    if endpoint is None:
        raise Problem(403, "role_required", "No page of the broker is for your role.")
    return redirect(url_for(endpoint), 303)


def _validator() -> BrokerTokenValidator:
    validator: BrokerTokenValidator = current_app.extensions["broker.web.validator"]
    return validator


def page_actor() -> Actor:
    """The logged-in person of a page request (the blueprint sends everyone else to the
    login before a page runs)."""
    actor = current_actor()
    assert actor is not None
    return actor


def current_actor() -> Actor | None:
    """The person of the session's access token, checked now: a valid, unexpired token of
    the pages' client whose person is known and enabled. None otherwise (the session ends)."""
    if "actor" in g:
        actor: Actor | None = g.actor
        return actor
    token = session.get(AUTH_KEY)
    if not isinstance(token, str):
        return None
    validator = _validator()
    reason = None
    subject = None
    try:
        claims = validator.authenticate_token(token)
        subject = claims.get("sub")
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= runtime().tokens.clock():
            reason = "expired"
        elif claims.get("client_id") != _client_id():
            reason = "other_client"
        else:
            validator.validate_token(claims, None, None)
    except InvalidTokenError:
        reason = reason or "invalid_token"
    if reason is None:
        g.actor = claims.actor
        return g.actor  # type: ignore[no-any-return]
    session.pop(AUTH_KEY, None)
    if reason != "expired":
        _audit_ended_session(subject, reason)
    return None


def _audit_ended_session(subject: Any, reason: str) -> None:
    """A session whose token no longer gives access (a disabled person, a key gone): audited."""
    ctx = Context(None, request_id(), source_address())
    person = subject if isinstance(subject, str) and _USERNAME.match(subject) else None
    entry = ctx.entry(
        "web.session",
        "read",
        "unauthorized",
        person_id=person,
        client_id=_client_id(),
        convenant_hash=runtime().convenant.hash,
        detail={"reason": reason},
    )
    if not audit_apart(entry):
        raise Problem(503, "audit_unavailable", "The audit log could not be written.")


@web.before_request
def _require_login() -> Response | None:
    """Every page but the login's needs a logged-in person; every post its CSRF token."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        if request.method == "POST" and not csrf_ok():
            raise Problem(400, "csrf_invalid", "The form's CSRF token is missing or wrong.")
        return None
    actor = current_actor()
    if actor is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("web.login", next=target) if target else url_for("web.login"))
    if request.method == "POST" and not csrf_ok():
        session.pop(CSRF_KEY, None)
        raise Problem(400, "csrf_invalid", "The form's CSRF token is missing or wrong.")
    return None


def init_app(app: Flask) -> None:
    """The validator of the session's tokens: the API's own (signature, claims, person)."""
    rt: Runtime = app.extensions["broker"]
    app.extensions["broker.web.validator"] = BrokerTokenValidator(lambda: rt.tokens, db_session)
