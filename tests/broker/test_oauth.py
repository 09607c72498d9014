"""The authorization server and the resource protector, end to end through the test client:
client credentials, authorization code with PKCE, every class of rejected token, disabling,
key rotation, metadata and JWKS — and no password, secret or code in a log or audit record."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import html
import json
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey
from werkzeug.test import TestResponse

from broker import create_app
from broker.cli.service import issue_token
from broker.core.runtime import runtime, transaction
from broker.identity.accounts import (
    add_client,
    set_client_disabled,
    set_password,
    set_person_disabled,
)
from broker.identity.keys import KeyRing
from broker.oauth.grants import AUTHORIZATION_CODE_TTL
from broker.storage.models import utcnow
from tests.broker.conftest import Api

BSN = "321146487"
PASSWORD = "Paard-Batterij-Nietje-42"
REDIRECT = "http://127.0.0.1:8400/callback"
PARTNER = "politie-bvh"
PORTAL = "mt-portaal"


# ── helpers ─────────────────────────────────────────────────────────────────────────────────


def make_client(
    app: Flask, client_id: str = PARTNER, party: str = "politie", **kw: Any
) -> str | None:
    """Register a client directly (the CLI is tested in test_users_cli); its secret."""
    with app.app_context(), transaction() as session:
        _, secret = add_client(
            session,
            runtime().convenant,
            client_id=client_id,
            name=f"Systeem {client_id}",
            party=party,
            **kw,
        )
    return secret


def make_portal(app: Flask) -> None:
    """A public client for persons: authorization code with PKCE, one redirect URI."""
    make_client(
        app,
        PORTAL,
        "gemeente",
        grant_types=["authorization_code"],
        redirect_uris=[REDIRECT],
        public=True,
    )


def give_password(app: Flask, username: str = "jansen", password: str = PASSWORD) -> None:
    """Let a demo account log in."""
    with app.app_context(), transaction() as session:
        set_password(session, username, password)


def client_token(api: Api, secret: str, client_id: str = PARTNER) -> TestResponse:
    """POST /oauth/token with client credentials (HTTP Basic)."""
    return api.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


def bearer(token: str) -> dict[str, str]:
    """Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (unverified) header and claims of a JWT."""
    head, body, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(head + "==")),
        json.loads(base64.urlsafe_b64decode(body + "==")),
    )


def pkce() -> tuple[str, str]:
    """A code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_query(
    challenge: str | None, method: str | None = "S256", state: str = "st-1"
) -> dict[str, str]:
    """The query of an authorization request of the portal."""
    query = {"response_type": "code", "client_id": PORTAL, "redirect_uri": REDIRECT, "state": state}
    if challenge is not None:
        query["code_challenge"] = challenge
    if method is not None:
        query["code_challenge_method"] = method
    return query


@dataclasses.dataclass
class LoginForm:
    """The login page as a browser sees it: where it posts, and its CSRF token."""

    action: str
    csrf_token: str


def login_form(response: TestResponse) -> LoginForm:
    """Read the form's action and CSRF token from the login page."""
    page = response.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert action and csrf, page
    return LoginForm(html.unescape(action.group(1)), csrf.group(1))


def log_in(
    api: Api, challenge: str, username: str = "jansen", password: str = PASSWORD
) -> TestResponse:
    """GET the login page for an authorization request, then POST the credentials."""
    page = api.client.get("/oauth/authorize", query_string=authorize_query(challenge))
    assert page.status_code == 200, page.get_data(as_text=True)
    form = login_form(page)
    return api.client.post(
        form.action,
        data={"csrf_token": form.csrf_token, "username": username, "password": password},
    )


def code_from(response: TestResponse, state: str = "st-1") -> str:
    """The code in the redirect back to the portal (which also returns the state)."""
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def exchange(api: Api, code: str, verifier: str | None) -> TestResponse:
    """POST /oauth/token with grant_type=authorization_code (a public client: no secret)."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": PORTAL,
        "redirect_uri": REDIRECT,
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    return api.client.post("/oauth/token", data=data)


def events(api: Api, name: str) -> list[Any]:
    """The audit entries of one event, in order."""
    return [r.entry for r in api.audit_records() if r.entry.event == name]


def audit_dump(api: Api) -> str:
    """Every audit record as text: entries and sealed bodies."""
    records = api.audit_records()
    return repr([r.entry for r in records]) + "".join(r.body.decode() for r in records)


def new_case(api: Api) -> str:
    """A case opened by a police signal (from an operator token)."""
    response = api.signal("jansen", {"bsn": BSN}, {"surname": "Kramer", "given_names": "Jesse"})
    assert response.status_code == 201, response.json
    return str(response.json["case_id"])


# ── metadata and keys ───────────────────────────────────────────────────────────────────────


def test_metadata_describes_the_server(api: Api) -> None:
    """/.well-known/oauth-authorization-server is valid RFC 8414 metadata for our issuer:
    both grants, S256 only, and endpoints that exist."""
    response = api.client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    metadata = AuthorizationServerMetadata(response.json)
    metadata.validate()
    assert metadata["issuer"] == api.app.config["ISSUER"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert set(metadata["grant_types_supported"]) == {"client_credentials", "authorization_code"}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        path = urlsplit(metadata[name]).path
        assert any(rule.rule == path for rule in api.app.url_map.iter_rules()), name


def test_jwks_publishes_the_public_signing_key(api: Api) -> None:
    """/.well-known/jwks.json holds the signing key's public half, with its kid."""
    keys = api.client.get("/.well-known/jwks.json").json["keys"]
    with api.app.app_context():
        kid = runtime().tokens.key.kid
    assert [k["kid"] for k in keys] == [kid]
    assert keys[0]["kty"] == "EC" and keys[0]["alg"] == "ES256" and "d" not in keys[0]


# ── client credentials ──────────────────────────────────────────────────────────────────────


def test_client_credentials_round_trip(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    """A partner system gets an RFC 9068 token for its party, submits a signal (201, audited
    with its client_id) and is refused every read (403); its secret is nowhere."""
    secret = make_client(api.app)
    assert secret is not None
    response = client_token(api, secret)
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "Bearer" and response.json["expires_in"] <= 900
    assert response.headers["Cache-Control"] == "no-store"
    token = response.json["access_token"]
    header, claims = segments(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
    assert (claims["sub"], claims["client_id"], claims["party"], claims["roles"]) == (
        PARTNER,
        PARTNER,
        "politie",
        ["system"],
    )
    assert claims["iss"] == api.app.config["ISSUER"]
    assert claims["aud"] == api.app.config["AUDIENCE"]
    assert 0 < claims["exp"] - claims["iat"] <= 900 and claims["jti"]

    signal = api.client.post(
        "/api/v1/signals",
        headers=bearer(token),
        json={"subject": {"bsn": BSN}, "fields": {"surname": "Kramer", "incident_count": 1}},
    )
    assert signal.status_code == 201, signal.json
    case_id = signal.json["case_id"]
    created = events(api, "signal.create")[-1]
    assert (created.client_id, created.party, created.person_id) == (PARTNER, "politie", None)

    for path in (f"/api/v1/cases/{case_id}", "/api/v1/cases", "/api/v1/convenant", "/api/v1/audit"):
        refused = api.client.get(
            path, headers=bearer(token), query_string={"purpose": "casusoverleg"}
        )
        assert refused.status_code == 403, (path, refused.json)
        assert refused.json["code"] == "client_not_allowed"
    track = api.client.post(
        f"/api/v1/cases/{case_id}/track",
        headers=bearer(token),
        json={"track": "pga", "reason": "x"},
    )
    assert track.status_code == 403
    issued = events(api, "token.issue")[-1]
    assert (issued.outcome, issued.client_id, issued.party) == ("success", PARTNER, "politie")
    assert issued.detail["grant_type"] == "client_credentials"
    assert issued.detail["jti"] == claims["jti"]
    assert secret not in audit_dump(api) and token not in audit_dump(api)
    assert secret not in capsys.readouterr().out


def test_client_secret_post_is_accepted(api: Api) -> None:
    """The client may also send its id and secret in the form (client_secret_post)."""
    secret = make_client(api.app)
    response = api.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": PARTNER, "client_secret": secret},
    )
    assert response.status_code == 200, response.json


def test_the_token_endpoint_over_plain_http_is_refused_not_a_500(api: Api) -> None:
    """Over plain http to another host than this one (a proxy that does not say https), the
    token endpoint answers OAuth's 400 insecure_transport, issues nothing and audits it."""
    secret = make_client(api.app)
    response = api.client.post(
        "/oauth/token",
        base_url="http://broker.example",
        data={"grant_type": "client_credentials", "client_id": PARTNER, "client_secret": secret},
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"] == "insecure_transport" and "access_token" not in response.json
    refused = events(api, "token.issue")[-1]
    assert (refused.outcome, refused.detail["error"]) == ("invalid", "insecure_transport")


@pytest.mark.parametrize(
    "case", ["wrong_secret", "unknown_client", "disabled_client", "public_client", "no_credentials"]
)
def test_client_credentials_refused(api: Api, case: str) -> None:
    """A wrong secret, an unknown, disabled or public client, or no credentials: no token,
    RFC 6749 invalid_client, and the refusal is audited."""
    secret = make_client(api.app)
    make_portal(api.app)
    assert secret is not None
    auth: tuple[str, str] | None = {
        "wrong_secret": (PARTNER, secret[:-2] + "xx"),
        "unknown_client": ("niemand-systeem", secret),
        "disabled_client": (PARTNER, secret),
        "public_client": (PORTAL, "anything-at-all"),
        "no_credentials": None,
    }[case]
    if case == "disabled_client":
        with api.app.app_context(), transaction() as session:
            set_client_disabled(session, PARTNER, True)
    before = len(events(api, "token.issue"))
    response = api.client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=auth)
    assert response.status_code in (400, 401)
    assert response.json["error"] == "invalid_client" and "access_token" not in response.json
    refusals = events(api, "token.issue")[before:]
    assert [(e.outcome, e.detail["error"]) for e in refusals] == [
        ("unauthorized", "invalid_client")
    ]
    assert secret not in audit_dump(api)


# ── authorization code with PKCE ────────────────────────────────────────────────────────────


def test_authorization_code_with_pkce_round_trip(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    """Login page, credentials with the CSRF token, redirect with a code, the code and its
    verifier for a token, and with that token the person's case view — all audited."""
    make_portal(api.app)
    give_password(api.app)
    case_id = new_case(api)
    verifier, challenge = pkce()
    page = api.client.get("/oauth/authorize", query_string=authorize_query(challenge))
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Systeem mt-portaal" in page.get_data(as_text=True)
    code = code_from(log_in(api, challenge))
    response = exchange(api, code, verifier)
    assert response.status_code == 200, response.json
    token = response.json["access_token"]
    header, claims = segments(token)
    assert header["typ"] == "at+jwt"
    assert (claims["sub"], claims["client_id"], claims["party"], claims["roles"]) == (
        "jansen",
        PORTAL,
        "politie",
        ["case_worker"],
    )
    view = api.client.get(
        f"/api/v1/cases/{case_id}", headers=bearer(token), query_string={"purpose": "casusoverleg"}
    )
    assert view.status_code == 200, view.json
    assert view.json["fields"]["surname"] == "Kramer"
    assert events(api, "case.view")[-1].client_id == PORTAL
    login = events(api, "login")[-1]
    assert (login.outcome, login.person_id, login.client_id) == ("success", "jansen", PORTAL)
    issued = events(api, "token.issue")[-1]
    assert (issued.outcome, issued.person_id, issued.client_id) == ("success", "jansen", PORTAL)
    assert issued.detail["grant_type"] == "authorization_code"
    dump = audit_dump(api) + capsys.readouterr().out
    for secret in (PASSWORD, code, verifier, token):
        assert secret not in dump


def test_a_wrong_verifier_is_rejected(api: Api) -> None:
    """The code with another verifier gives invalid_grant and no token."""
    make_portal(api.app)
    give_password(api.app)
    _, challenge = pkce()
    code = code_from(log_in(api, challenge))
    response = exchange(api, code, pkce()[0])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"
    assert "access_token" not in response.json
    assert events(api, "token.issue")[-1].outcome == "denied"


def test_a_missing_verifier_is_rejected(api: Api) -> None:
    """The code without its verifier gives invalid_request and no token."""
    make_portal(api.app)
    give_password(api.app)
    _, challenge = pkce()
    response = exchange(api, code_from(log_in(api, challenge)), None)
    assert response.status_code == 400 and "access_token" not in response.json


def test_a_code_is_used_once(api: Api) -> None:
    """A second exchange of the same code is refused (invalid_grant), and audited so."""
    make_portal(api.app)
    give_password(api.app)
    verifier, challenge = pkce()
    code = code_from(log_in(api, challenge))
    assert exchange(api, code, verifier).status_code == 200
    again = exchange(api, code, verifier)
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"
    refused = events(api, "token.issue")[-1]
    assert (refused.outcome, refused.detail["reason"], refused.person_id) == (
        "denied",
        "code_reused",
        "jansen",
    )


def test_an_expired_code_is_rejected(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A code older than its lifetime is refused."""
    make_portal(api.app)
    give_password(api.app)
    verifier, challenge = pkce()
    code = code_from(log_in(api, challenge))
    later = utcnow() + dt.timedelta(seconds=AUTHORIZATION_CODE_TTL + 1)
    monkeypatch.setattr("broker.oauth.grants.utcnow", lambda: later)
    response = exchange(api, code, verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"
    assert events(api, "token.issue")[-1].detail["reason"] == "code_expired"


@pytest.mark.parametrize(
    ("challenge", "method"),
    [(None, None), (None, "S256"), ("A" * 43, "plain"), ("A" * 43, None)],
    ids=["no_pkce", "method_without_challenge", "plain", "method_missing_means_plain"],
)
def test_pkce_s256_is_required(api: Api, challenge: str | None, method: str | None) -> None:
    """An authorization request without a code_challenge, or with method plain (also by
    default), goes back to the client as invalid_request: no login page, no code."""
    make_portal(api.app)
    response = api.client.get("/oauth/authorize", query_string=authorize_query(challenge, method))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["invalid_request"] and "code" not in query
    assert query["state"] == ["st-1"]


@pytest.mark.parametrize(
    "query",
    [
        {"response_type": "code", "client_id": "onbekend"},
        {"response_type": "code", "client_id": PORTAL, "redirect_uri": "https://evil.example/cb"},
        {"response_type": "code", "client_id": PORTAL, "redirect_uri": 'http://x/"\\é'},
        {},
    ],
    ids=["unknown_client", "foreign_redirect_uri", "unprintable_redirect_uri", "empty"],
)
def test_a_request_that_cannot_go_back_gets_a_page(api: Api, query: dict[str, str]) -> None:
    """An unknown client or a redirect URI it did not register is never redirected to: a
    Dutch error page (400) instead."""
    make_portal(api.app)
    response = api.client.get("/oauth/authorize", query_string=query)
    assert response.status_code == 400 and "Location" not in response.headers
    assert "Inloggen is niet mogelijk" in response.get_data(as_text=True)


def test_the_login_page_has_no_script_and_a_strict_policy(api: Api) -> None:
    """The page: Dutch labels, a CSRF field, no script; CSP without scripts, not framable,
    not cached."""
    make_portal(api.app)
    page = api.client.get("/oauth/authorize", query_string=authorize_query(pkce()[1]))
    text = page.get_data(as_text=True)
    assert "Gebruikersnaam" in text and "Wachtwoord" in text and 'lang="nl"' in text
    assert "<script" not in text.lower() and "style=" not in text.lower()
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    css = api.client.get("/static/login.css")
    css.close()  # a file response
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_login_needs_the_forms_csrf_token(api: Api) -> None:
    """Credentials posted without (or with another) CSRF token give no code."""
    make_portal(api.app)
    give_password(api.app)
    _, challenge = pkce()
    form = login_form(api.client.get("/oauth/authorize", query_string=authorize_query(challenge)))
    for token in ("", "forged-" + form.csrf_token):
        response = api.client.post(
            form.action, data={"csrf_token": token, "username": "jansen", "password": PASSWORD}
        )
        assert response.status_code == 400 and "Location" not in response.headers
    fresh = Api(api.app, api.app.test_client(), {})  # another browser: no session at all
    response = fresh.client.post(
        form.action,
        data={"csrf_token": form.csrf_token, "username": "jansen", "password": PASSWORD},
    )
    assert response.status_code == 400 and "Location" not in response.headers
    assert events(api, "login") == []


@pytest.mark.parametrize("case", ["wrong_password", "unknown_account", "no_password", "disabled"])
def test_a_failed_login_is_audited_without_the_password(
    api: Api, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong password, an unknown or disabled account, or one without a password: the form
    again with one message, an audit record `login` (unauthorized) — and the password that
    was tried is in no response, log line or audit record; an unknown username is not kept."""
    make_portal(api.app)
    give_password(api.app)
    tried = "Geheim-" + secrets.token_hex(8)
    username = {
        "wrong_password": "jansen",
        "unknown_account": tried + "x",
        "no_password": "bakker",
        "disabled": "jansen",
    }[case]
    password = PASSWORD if case == "disabled" else tried
    if case == "disabled":
        with api.app.app_context(), transaction() as session:
            set_person_disabled(session, "jansen", True)
    response = log_in(api, pkce()[1], username, password)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "Gebruikersnaam of wachtwoord onjuist." in response.get_data(as_text=True)
    login = events(api, "login")[-1]
    assert (login.outcome, login.detail["reason"]) == ("unauthorized", case)
    assert login.person_id == (None if case == "unknown_account" else username)
    leaked = audit_dump(api) + capsys.readouterr().out + response.get_data(as_text=True)
    assert tried not in leaked and PASSWORD not in leaked


# ── the resource protector: every class of rejected token ───────────────────────────────────


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(value: Any) -> str:
    return _b64(json.dumps(value).encode())


def _good_claims(api: Api) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": api.app.config["ISSUER"],
        "aud": api.app.config["AUDIENCE"],
        "sub": "jansen",
        "client_id": "broker-cli",
        "iat": now,
        "exp": now + 600,
        "jti": secrets.token_hex(16),
        "party": "politie",
        "roles": ["case_worker"],
    }


def _signed(
    api: Api, header: dict[str, Any] | None = None, key: ECKey | None = None, **claims: Any
) -> str:
    """A token signed with the broker's own key (unless told), header and claims changed."""
    with api.app.app_context():
        own = runtime().tokens.key
    signing = key or own
    head = {"alg": "ES256", "typ": "at+jwt", "kid": own.kid, **(header or {})}
    head = {k: v for k, v in head.items() if v is not None}
    body = {k: v for k, v in {**_good_claims(api), **claims}.items() if v is not None}
    return jwt.encode(head, body, signing, algorithms=["ES256"], default_type=None)


def _other_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True)


def _alg_none(api: Api) -> str:
    with api.app.app_context():
        kid = runtime().tokens.key.kid
    return (
        f"{_b64json({'alg': 'none', 'typ': 'at+jwt', 'kid': kid})}.{_b64json(_good_claims(api))}."
    )


def _tampered(api: Api) -> str:
    head, _, signature = _signed(api).split(".")
    return f"{head}.{_b64json({**_good_claims(api), 'sub': 'mulder'})}.{signature}"


def _lifetime(api: Api, seconds: int) -> str:
    now = int(time.time())
    return _signed(api, iat=now, exp=now + seconds)


REJECTED: dict[str, tuple[Callable[[Api], str], str]] = {
    "bad_signature": (lambda api: _signed(api, key=_other_key()), "bad_signature"),
    "tampered_payload": (_tampered, "bad_signature"),
    "alg_none": (_alg_none, "ES256"),
    "wrong_issuer": (lambda api: _signed(api, iss="https://issuer.invalid"), "iss"),
    "wrong_audience": (lambda api: _signed(api, aud="another-service"), "aud"),
    "expired": (
        lambda api: _signed(api, iat=int(time.time()) - 1000, exp=int(time.time()) - 100),
        "exp",
    ),
    "missing_typ": (lambda api: _signed(api, {"typ": None}), "at+jwt"),
    "wrong_typ": (lambda api: _signed(api, {"typ": "JWT"}), "at+jwt"),
    "unknown_kid": (lambda api: _signed(api, {"kid": "unknown-kid"}), "unknown key"),
    "no_kid": (lambda api: _signed(api, {"kid": None}), "unknown key"),
    "missing_client_id": (lambda api: _signed(api, client_id=None), "client_id"),
    "thirty_year_lifetime": (
        lambda api: _signed(api, exp=int(time.time()) + 30 * 365 * 24 * 3600),
        "invalid_claim: exp, its lifetime exp - iat must be over 0 and at most 900 seconds",
    ),
    "lifetime_over_token_ttl": (lambda api: _lifetime(api, 901), "at most 900 seconds"),
    "iat_in_the_future": (
        lambda api: _signed(api, iat=int(time.time()) + 3600, exp=int(time.time()) + 3900),
        "invalid_claim: iat, issued in the future",
    ),
    "missing_iat": (lambda api: _signed(api, iat=None), "iat"),
}


def test_a_well_formed_token_is_accepted(api: Api) -> None:
    """The control for the rejections below: the same construction, unchanged, is 200."""
    response = api.client.get("/api/v1/convenant", headers=bearer(_signed(api)))
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("kind", REJECTED)
def test_each_class_of_bad_token_is_401(api: Api, kind: str) -> None:
    """Bad signature, alg none, wrong iss or aud, expired, missing or wrong typ, unknown kid,
    missing client_id, a lifetime over TOKEN_TTL (30 years, signed with the real key), iat in
    the future or missing: 401 invalid_token problem+json naming the reason, and audited."""
    make, says = REJECTED[kind]
    before = len(api.audit_records())
    response = api.client.get("/api/v1/convenant", headers=bearer(make(api)))
    assert response.status_code == 401, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "invalid_token"
    assert says in response.json["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    records = api.audit_records()
    assert len(records) == before + 1 and records[-1].entry.outcome == "unauthorized"
    assert records[-1].entry.detail == {"status": 401, "code": "invalid_token"}


def test_the_configured_token_ttl_bounds_the_lifetime(api: Api) -> None:
    """With TOKEN_TTL 300, a token of the broker's key living 301 seconds is refused (naming
    exp) and audited; 300 seconds is accepted; the operator cannot issue a longer one."""
    rt = api.app.extensions["broker"]
    rt.token_settings = dataclasses.replace(rt.token_settings, ttl=300)
    now = int(time.time())
    ok = api.client.get("/api/v1/convenant", headers=bearer(_signed(api, iat=now, exp=now + 300)))
    assert ok.status_code == 200, ok.json
    before = len(api.audit_records())
    refused = api.client.get(
        "/api/v1/convenant", headers=bearer(_signed(api, iat=now, exp=now + 301))
    )
    assert refused.status_code == 401 and refused.json["code"] == "invalid_token"
    assert "exp" in refused.json["detail"] and "at most 300 seconds" in refused.json["detail"]
    records = api.audit_records()
    assert len(records) == before + 1 and records[-1].entry.outcome == "unauthorized"
    result = api.app.test_cli_runner().invoke(args=["token", "jansen", "--ttl", "600"])
    assert result.exit_code != 0 and "300" in result.output
    issued = segments(api.token("jansen"))[1]
    assert issued["exp"] - issued["iat"] == 300


# ── disabling ends access at once ───────────────────────────────────────────────────────────


def person_token(api: Api) -> str:
    """jansen's token through the portal (authorization code with PKCE)."""
    verifier, challenge = pkce()
    response = exchange(api, code_from(log_in(api, challenge)), verifier)
    assert response.status_code == 200, response.json
    return str(response.json["access_token"])


def refusal(api: Api, token: str) -> TestResponse:
    """GET /api/v1/convenant with the token, expected to be refused (401) and audited."""
    before = len(api.audit_records())
    response = api.client.get("/api/v1/convenant", headers=bearer(token))
    assert response.status_code == 401, response.json
    assert response.json["code"] == "invalid_token"
    records = api.audit_records()
    assert len(records) == before + 1 and records[-1].entry.outcome == "unauthorized"
    return response


def system_signal(api: Api, token: str) -> TestResponse:
    """A partner system's signal with the token."""
    return api.client.post(
        "/api/v1/signals",
        headers=bearer(token),
        json={"subject": {"bsn": BSN}, "fields": {"surname": "X"}},
    )


def test_a_disabled_persons_issued_token_stops_at_once(api: Api) -> None:
    """A token from the authorization server works, the person is disabled, the same token is
    401 on the very next request; enabled again, that token stays refused (naming iat) and a
    token issued after the enable works."""
    make_portal(api.app)
    give_password(api.app)
    token = person_token(api)
    assert api.client.get("/api/v1/convenant", headers=bearer(token)).status_code == 200
    with api.app.app_context(), transaction() as session:
        set_person_disabled(session, "jansen", True)
    assert "disabled" in refusal(api, token).json["detail"]
    with api.app.app_context(), transaction() as session:
        set_person_disabled(session, "jansen", False)
    detail = refusal(api, token).json["detail"]
    assert "before its person was last disabled" in detail and "iat" in detail
    api.clock_ahead(1)  # iat counts whole seconds: a token of the disable's second is refused
    fresh = person_token(api)
    assert api.client.get("/api/v1/convenant", headers=bearer(fresh)).status_code == 200
    with api.app.app_context():
        operator = issue_token("jansen")
    assert api.client.get("/api/v1/convenant", headers=bearer(operator)).status_code == 200
    assert refusal(api, token).json["detail"] == detail


def test_a_disabled_person_enabled_again_keeps_an_older_operator_token_refused(api: Api) -> None:
    """The same for an operator token (`broker token`): from before the disable, refused after
    the enable; tokens of other persons are untouched."""
    old, other = api.token("jansen"), api.token("visser")
    with api.app.app_context(), transaction() as session:
        set_person_disabled(session, "jansen", True)
        set_person_disabled(session, "jansen", False)
    assert "iat" in refusal(api, old).json["detail"]
    assert api.client.get("/api/v1/convenant", headers=bearer(other)).status_code == 200


def test_a_disabled_client_ends_its_tokens_and_its_persons_tokens(api: Api) -> None:
    """Disabling a client stops its own tokens and the tokens persons got through it."""
    secret = make_client(api.app)
    make_portal(api.app)
    give_password(api.app)
    system = client_token(api, str(secret)).json["access_token"]
    verifier, challenge = pkce()
    person = exchange(api, code_from(log_in(api, challenge)), verifier).json["access_token"]
    with api.app.app_context(), transaction() as session:
        set_client_disabled(session, PARTNER, True)
        set_client_disabled(session, PORTAL, True)
    signal = api.client.post(
        "/api/v1/signals",
        headers=bearer(system),
        json={"subject": {"bsn": BSN}, "fields": {"surname": "X"}},
    )
    assert signal.status_code == 401 and signal.json["code"] == "invalid_token"
    assert api.client.get("/api/v1/convenant", headers=bearer(person)).status_code == 401


def test_a_client_enabled_again_does_not_revive_its_tokens(api: Api) -> None:
    """A partner system and a portal are disabled and enabled again: the system's token and
    the person's token through the portal, both from before, stay 401 naming iat (audited);
    tokens issued after the enable work."""
    secret = str(make_client(api.app))
    make_portal(api.app)
    give_password(api.app)
    system, person = client_token(api, secret).json["access_token"], person_token(api)
    assert system_signal(api, system).status_code == 201
    assert api.client.get("/api/v1/convenant", headers=bearer(person)).status_code == 200
    with api.app.app_context(), transaction() as session:
        set_client_disabled(session, PARTNER, True)
        set_client_disabled(session, PORTAL, True)
    with api.app.app_context(), transaction() as session:
        set_client_disabled(session, PARTNER, False)
        set_client_disabled(session, PORTAL, False)
    for token in (system, person):
        detail = refusal(api, token).json["detail"]
        assert "before its client was last disabled" in detail and "iat" in detail
    api.clock_ahead(1)  # iat counts whole seconds: a token of the disable's second is refused
    new_system = client_token(api, secret)
    assert new_system.status_code == 200, new_system.json
    signal = system_signal(api, new_system.json["access_token"])
    assert signal.status_code == 201, signal.json
    refused = system_signal(api, system)
    assert refused.status_code == 401 and "iat" in refused.json["detail"]
    fresh = person_token(api)
    assert api.client.get("/api/v1/convenant", headers=bearer(fresh)).status_code == 200
    assert refusal(api, system).status_code == refusal(api, person).status_code == 401


# ── keys ────────────────────────────────────────────────────────────────────────────────────


def test_rotation_keeps_issued_tokens_valid_and_publishes_both_keys(api: Api) -> None:
    """After `keys rotate` (no restart): a token signed before still works, new tokens carry
    the new kid, and the JWKS lists both keys."""
    before = api.token("jansen")
    old_kid = segments(before)[0]["kid"]
    result = api.app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert api.client.get("/api/v1/convenant", headers=bearer(before)).status_code == 200
    with api.app.app_context():
        after = issue_token("jansen")
    new_kid = segments(after)[0]["kid"]
    assert new_kid != old_kid and new_kid in result.output and old_kid in result.output
    assert api.client.get("/api/v1/convenant", headers=bearer(after)).status_code == 200
    kids = [k["kid"] for k in api.client.get("/.well-known/jwks.json").json["keys"]]
    assert kids == [new_kid, old_kid]
    rotated = events(api, "keys.rotate")[-1]
    assert (rotated.detail["kid"], rotated.detail["retired_kid"]) == (new_kid, old_kid)


def test_a_retired_key_lapses_when_its_tokens_have_expired(tmp_path: Path) -> None:
    """A retired key verifies for keep_for seconds after the rotation, then not, and the
    next rotation drops it from the file; every process sees a rotation without restart."""
    now = [1_900_000_000.0]
    ring = KeyRing(tmp_path, keep_for=960, clock=lambda: now[0])
    other = KeyRing(tmp_path, keep_for=960, clock=lambda: now[0])  # another process
    first = ring.keys().current
    second, retired = ring.rotate()
    assert retired.kid == first.kid
    assert other.keys().current.kid == second.kid
    assert [k.kid for k in other.keys().retired] == [first.kid]
    now[0] += 959
    assert [k.kid for k in other.keys().retired] == [first.kid]
    now[0] += 1
    assert other.keys().retired == ()
    third, _ = ring.rotate()
    assert [r.key.kid for r in ring.retired()] == [second.kid]
    assert ring.keys().current.kid == third.kid
    assert all("d" not in r.key.as_dict(private=False) for r in ring.retired())


def test_token_lifetime_over_15_minutes_is_refused(tmp_path: Path) -> None:
    """A configured token lifetime over 900 seconds stops the app from starting."""
    with pytest.raises(ValueError, match="TOKEN_TTL"):
        create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                "TOKEN_TTL": 3600,
                "INSTANCE_PATH": str(tmp_path / "instance"),
                "LOG_LEVEL": "WARNING",
            }
        )
