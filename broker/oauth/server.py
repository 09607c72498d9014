"""The embedded OAuth 2.0 authorization server (Authlib): its token endpoint, metadata (RFC 8414)
and JWKS, and `init_app`, which binds the server and its grants to the app.

- client credentials for partner systems: the token's `sub` is the client id, its party the
  client's, its roles ["system"];
- authorization code with PKCE (S256 only, required) for persons, who log in on a small
  server-rendered form (`login`), with a TOTP code after the password for coordinators and
  privacy officers (and anyone enrolled); a code is accepted once;
- the tokens are the broker's RFC 9068 access tokens (`TokenService`), the same as
  `broker token` prints.

Every token issue and every login, refused or not, is audited (`token.issue`, `login`);
passwords, client secrets, codes (authorization and TOTP), TOTP secrets and tokens never reach
a log line, an audit record or an error answer.
"""

from __future__ import annotations

import logging

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from flask import (
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    make_response,
    request,
)

from broker.core.observability import audit_apart
from broker.core.runtime import Runtime, db_session, runtime
from broker.storage.models import Person

from . import login  # noqa: F401  (its /oauth/authorize joins the blueprint)
from .base import ERROR_CODE, audit_unavailable, authorization_server, oauth
from .grants import (
    GRANTS,
    AuthorizationCodeGrant,
    BrokerTokenGenerator,
    ClientCredentialsGrant,
    RequiredS256,
    audit_entry,
    query_client,
    save_token,
)

__all__ = [
    "init_app",
]


# ── what Authlib asks of clients and codes ──────────────────────────────────────────────────


# ── endpoints ───────────────────────────────────────────────────────────────────────────────


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
        response: Response = authorization_server().create_token_response()
    except OAuth2Error as error:  # raised before a grant is chosen: plain http, for one
        response = make_response(
            jsonify(dict(error.get_body())), error.status_code, {"Cache-Control": "no-store"}
        )
    except ValueError:  # Authlib refuses to put some request values into an error message
        response = make_response(
            jsonify({"error": "invalid_request"}), 400, {"Cache-Control": "no-store"}
        )
    if response.status_code >= 400:
        body = response.get_json(silent=True) or {}
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, str) and ERROR_CODE.match(error) else "invalid_request"
        grant_type = request.form.get("grant_type")
        person = db_session().get(Person, g.oauth_person) if g.get("oauth_person") else None
        entry = audit_entry(
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
            raise audit_unavailable()
    return response


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
