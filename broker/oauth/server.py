"""The embedded OAuth 2.0 authorization server (Authlib).

- client credentials for partner systems: the token's `sub` is the client id, its party the
  client's, its roles ["system"];
- authorization code with PKCE (S256 only, required) for persons, who log in on a small
  server-rendered form;
- the tokens are the broker's RFC 9068 access tokens (`TokenService`), the same as
  `broker token` prints; the keys that verify them are at /.well-known/jwks.json and the
  server's metadata (RFC 8414) at /.well-known/oauth-authorization-server.

Coordinators and privacy officers (and anyone enrolled) give a TOTP code after the password,
in a second form step; a code is accepted once, and without an enrolled second factor those
roles cannot log in through the browser.

Every token issue and every login, refused or not, is audited (`token.issue`, `login`);
passwords, client secrets, codes (authorization and TOTP), TOTP secrets and tokens never reach
a log line, an audit record or an error answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    make_response,
    render_template,
    request,
    session,
)
from sqlalchemy import delete, or_, select, update

from audit import AuditEntry
from broker.core.auth import request_id, source_address
from broker.core.context import Context, audit_and_commit
from broker.core.limits import count_records
from broker.core.observability import audit_apart
from broker.core.problems import Problem
from broker.core.runtime import Runtime, db_session, runtime
from broker.identity.accounts import MAX_PASSWORD_LENGTH, find_person, needs_second_factor
from broker.identity.actors import SYSTEM_ROLE
from broker.identity.passwords import verify_password, verify_secret
from broker.identity.totp import matching_step
from broker.storage.models import AuthorizationCode, OAuthClient, Person, utcnow

__all__ = ["AUTHORIZATION_CODE_TTL", "init_app", "oauth"]

oauth = Blueprint("oauth", __name__)

AUTHORIZATION_CODE_TTL = 120  # seconds
_CLIENT_ID = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
GRANTS = ("authorization_code", "client_credentials")
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


# ── what Authlib asks of clients and codes ──────────────────────────────────────────────────


@dataclass(frozen=True)
class Client(ClientMixin):  # type: ignore[misc]
    """A registered client as Authlib sees it (a snapshot of its row)."""

    client_id: str
    name: str
    party: str
    secret_hash: str | None
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]

    @classmethod
    def from_row(cls, row: OAuthClient) -> Client:
        return cls(
            row.client_id,
            row.name,
            row.party,
            row.secret_hash,
            tuple(row.grant_types),
            tuple(row.redirect_uris),
            tuple(row.scopes),
        )

    @property
    def is_public(self) -> bool:
        """Whether the client has no secret (it proves itself with PKCE alone)."""
        return self.secret_hash is None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        return " ".join(s for s in dict.fromkeys(scope.split()) if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_secret(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint != "token":
            return True
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass(frozen=True)
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    """An authorization code claimed for one exchange."""

    client_id: str
    person_id: int
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def query_client(client_id: Any) -> Client | None:
    """The enabled client with this id (None for unknown, disabled or malformed ids)."""
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        return None
    row = db_session().scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if row is None or row.disabled:
        return None
    g.oauth_client = row.client_id  # for the audit record of a refused request
    return Client.from_row(row)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """Authorization code for persons; the code is stored hashed and used at most once."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]

    def save_authorization_code(self, code: str, request: Any) -> None:
        person: Person = request.user
        now = utcnow()
        data = request.payload.data
        s = db_session()
        s.execute(
            delete(AuthorizationCode).where(
                AuthorizationCode.expires_at < now - dt.timedelta(days=1)
            )
        )
        s.add(
            AuthorizationCode(
                code_hash=_code_hash(code),
                client_id=request.client.client_id,
                person_id=person.id,
                redirect_uri=request.payload.redirect_uri or "",
                scope=request.scope or "",
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                created_at=now,
                expires_at=now + dt.timedelta(seconds=AUTHORIZATION_CODE_TTL),
            )
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        """Claim the code for this exchange: unused, unexpired and the client's own.

        The claim commits with the token's audit record; a refused exchange rolls it back.
        Of two exchanges of one code at the same time, only one can claim it.
        """
        s = db_session()
        row = s.scalar(
            select(AuthorizationCode).where(AuthorizationCode.code_hash == _code_hash(code))
        )
        if row is None or row.client_id != client.client_id:
            return None
        g.oauth_person = row.person_id
        now = utcnow()
        if row.used_at is not None:
            g.oauth_refusal = "code_reused"
            return None
        if row.expires_at <= now:
            g.oauth_refusal = "code_expired"
            return None
        claimed = s.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            g.oauth_refusal = "code_reused"
            return None
        return Code(
            row.client_id,
            row.person_id,
            row.redirect_uri,
            row.scope,
            row.code_challenge,
            row.code_challenge_method,
        )

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Nothing to do: the code was marked used when it was claimed."""

    def authenticate_user(self, authorization_code: Code) -> Person | None:
        person = db_session().get(Person, authorization_code.person_id)
        return person if person is not None and not person.disabled else None


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """Client credentials for partner systems (confidential clients only)."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]


class RequiredS256(CodeChallenge):  # type: ignore[misc]
    """PKCE is required for every authorization request, and only with S256."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: Any) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class BrokerTokenGenerator(BearerTokenGenerator):  # type: ignore[misc]
    """Issues the broker's own RFC 9068 tokens (`TokenService`) for Authlib's grants."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(self._access_token, None, self._expires_in)
        self._rt = rt

    def _expires_in(self, client: Client, grant_type: str) -> int:
        return self._rt.tokens.ttl

    def _access_token(
        self, client: Client, grant_type: str, user: Person | None, scope: str | None
    ) -> str:
        tokens = self._rt.tokens
        if user is None:
            token, claims = tokens.issue(
                subject=client.client_id,
                party=client.party,
                roles=[SYSTEM_ROLE],
                name=client.name,
                client_id=client.client_id,
                scope=scope,
            )
        else:
            token, claims = tokens.issue(
                subject=user.username,
                party=user.party,
                roles=list(user.roles),
                name=user.name,
                client_id=client.client_id,
                scope=scope,
            )
        g.oauth_issued = claims
        return token


def _entry(event: str, outcome: str, **fields: Any) -> AuditEntry:
    rt = runtime()
    ctx = Context(None, request_id(), source_address())
    return ctx.entry(event, "execute", outcome, convenant_hash=rt.convenant.hash, **fields)


def save_token(token: dict[str, Any], oauth_request: Any) -> None:
    """Audit the issue in the request's transaction and commit it (with the code's claim);
    503 and no token when the audit record cannot be written."""
    claims = g.pop("oauth_issued")
    client: Client = oauth_request.client
    user: Person | None = oauth_request.user
    grant_type = oauth_request.payload.grant_type
    entry = _entry(
        "token.issue",
        "success",
        person_id=user.username if user else None,
        person_name=user.name if user else None,
        party=user.party if user else client.party,
        client_id=client.client_id,
        detail={
            "jti": claims["jti"],
            "expires": claims["exp"],
            "grant_type": grant_type,
            "issued_by": "oauth",
        },
    )
    audit_and_commit(db_session(), runtime(), [entry])


def _audit_unavailable() -> Problem:
    return Problem(
        503,
        "audit_unavailable",
        "The audit log could not be written; the request was refused.",
        audit={"skip": True},
    )


# ── endpoints ───────────────────────────────────────────────────────────────────────────────


def _server() -> AuthorizationServer:
    server: AuthorizationServer = current_app.extensions["broker.oauth"]
    return server


_TOKEN_OUTCOMES = {
    "invalid_client": "unauthorized",
    "unauthorized_client": "denied",
    "invalid_grant": "denied",
    "access_denied": "denied",
}


@oauth.post("/oauth/token")
def token() -> Response:
    """The token endpoint (RFC 6749 §3.2): client credentials and authorization code."""
    try:
        response: Response = _server().create_token_response()
    except ValueError:  # Authlib refuses to put some request values into an error message
        response = make_response(
            jsonify({"error": "invalid_request"}), 400, {"Cache-Control": "no-store"}
        )
    if response.status_code >= 400:
        body = response.get_json(silent=True) or {}
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, str) and _ERROR_CODE.match(error) else "invalid_request"
        grant_type = request.form.get("grant_type")
        person = db_session().get(Person, g.oauth_person) if g.get("oauth_person") else None
        entry = _entry(
            "token.issue",
            _TOKEN_OUTCOMES.get(error, "invalid"),
            client_id=g.get("oauth_client"),
            person_id=person.username if person else None,
            party=person.party if person else None,
            detail={
                "grant_type": grant_type if grant_type in GRANTS else "other",
                "error": error,
                "reason": g.get("oauth_refusal"),
            },
        )
        if not audit_apart(entry):
            raise _audit_unavailable()
    return response


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
        response: Response = _server().handle_error_response(request, error)
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
    person = find_person(db_session(), username) if _CLIENT_ID.match(username) else None
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
    entry = _entry(
        "login",
        "unauthorized",
        person_id=person.username if person else None,
        party=person.party if person else None,
        client_id=client.client_id,
        detail=detail,
    )
    if not audit_apart(entry):
        raise _audit_unavailable()


def _logged_in(grant: Any, client: Client, person: Person, second_factor: str) -> Response:
    """The code for the client, committed with the audit record of the login."""
    session.pop(CSRF_KEY, None)
    session.pop(PENDING_KEY, None)
    response: Response = _server().create_authorization_response(grant=grant, grant_user=person)
    entry = _entry(
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
    server = _server()
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


@oauth.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    """The authorization server's metadata (RFC 8414)."""
    issuer = current_app.config["ISSUER"].rstrip("/")
    response = jsonify(
        {
            "issuer": current_app.config["ISSUER"],
            "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "response_types_supported": ["code"],
            "grant_types_supported": list(GRANTS),
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "code_challenge_methods_supported": ["S256"],
            "service_documentation": f"{issuer}/api/v1/openapi.json",
        }
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@oauth.get("/.well-known/jwks.json")
def jwks() -> Response:
    """The public keys that verify the broker's tokens: the signing key and retired keys
    whose tokens may still be valid."""
    response = jsonify(runtime().tokens.jwks())
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


def init_app(app: Flask) -> None:
    """Bind the authorization server to the app and register its routes."""
    rt: Runtime = app.extensions["broker"]
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_token_generator("default", BrokerTokenGenerator(rt))
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(AuthorizationCodeGrant, [RequiredS256(required=True)])
    app.extensions["broker.oauth"] = server
    app.register_blueprint(oauth)
    # Authlib logs issued tokens at DEBUG; they never reach our log, whatever its level.
    logging.getLogger("authlib").setLevel(logging.INFO)
