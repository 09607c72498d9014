"""The OpenAPI 3.1 document, generated: one operation for each route of the app (but the pages and
static files), from the declaration its view carries (`broker.api.declare`) — parameters from
the `Param`s the endpoint reads through, request bodies from the Cerberus schemas the use cases
check with (the signal's from the convenant in force), answers from the response schemas — and
errors as RFC 9457 problem+json. The authorization server's endpoints are Authlib's: described
here, in `OAUTH`, as they answer (RFC 6749, 8414, 7517), not checked by schemas of ours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Flask

from broker.core.runtime import Runtime

from . import responses as out
from .declare import Answer, Operation
from .jsonschema import object_schema
from .requests import MAX_DEPTH

__all__ = ["OAUTH", "openapi_document"]

_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
_PROBLEM = {"$ref": "#/components/responses/Problem"}
_FORM = "application/x-www-form-urlencoded"

_TOKEN_REQUEST = {
    "grant_type": {"type": "string", "allowed": ["client_credentials", "authorization_code"]},
    **{
        name: {"type": "string", "required": False}
        for name in ("client_id", "client_secret", "code", "code_verifier", "redirect_uri", "scope")
    },
}
_TOKEN = {
    "access_token": {"type": "string"},
    "token_type": {"type": "string", "allowed": ["Bearer"]},
    "expires_in": {"type": "integer", "max": 900},
    "scope": {"type": "string", "required": False},
}
_OAUTH_ERROR = {
    "error": {"type": "string"},
    "error_description": {"type": "string", "required": False},
}

# The authorization server's routes (Authlib's), as they answer.
OAUTH: Mapping[str, Operation] = {
    "oauth.token": Operation(
        "Token endpoint (RFC 6749): client_credentials, authorization_code",
        (
            Answer(200, "An RFC 9068 access token for at most 15 minutes", _TOKEN),
            Answer(400, "RFC 6749 §5.2 error (invalid_request, invalid_grant, …)", _OAUTH_ERROR),
            Answer(401, "RFC 6749 §5.2 error invalid_client", _OAUTH_ERROR),
        ),
        description="Partner systems authenticate with their client id and secret (HTTP Basic "
        "or client_secret_post) and grant_type=client_credentials. An application exchanges a "
        "person's authorization code with grant_type=authorization_code, the code_verifier "
        "(PKCE) and its redirect_uri.",
        body=_TOKEN_REQUEST,
        problems=(503,),
        public=True,
    ),
    "oauth.authorize": Operation(
        "Authorization endpoint: the login page for persons (GET), the login itself (POST)",
        (
            Answer(200, "The login form", None, "text/html"),
            Answer(302, "Back to the client with a code or an error"),
            Answer(
                400,
                "An invalid request from an unknown client, or an expired form",
                None,
                "text/html",
            ),
        ),
        description="response_type=code, client_id, redirect_uri, state and a PKCE "
        "code_challenge with code_challenge_method=S256 (required); then the username, password "
        "and second factor.",
        problems=(503,),
        public=True,
    ),
    "oauth.metadata": Operation(
        "Authorization server metadata (RFC 8414)",
        (Answer(200, "The metadata", {"issuer": {"type": "string"}}, open=True),),
        public=True,
    ),
    "oauth.jwks": Operation(
        "The public keys that verify access tokens (JWKS, RFC 7517)",
        (Answer(200, "The JSON Web Key Set", {"keys": {"type": "list"}}),),
        public=True,
    ),
}


def _is_api(endpoint: str) -> bool:
    """Not a static file, not a page (HTML for browsers behind a session login)."""
    return endpoint != "static" and not endpoint.startswith("web.")


def _schema(schema: Any, rt: Runtime) -> Mapping[str, Any]:
    return schema(rt) if callable(schema) else schema


def _answers(op: Operation, rt: Runtime) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for answer in op.answers:
        entry = found.setdefault(str(answer.status), {"description": answer.description})
        if answer.schema is not None:
            members = _schema(answer.schema, rt)
            body = object_schema(members, response=True, allow_unknown=answer.open)
            entry.setdefault("content", {})[answer.media_type] = {"schema": body}
        elif answer.media_type != "application/json":
            entry.setdefault("content", {})[answer.media_type] = {"schema": {"type": "string"}}
    return found


def _operation(endpoint: str, op: Operation, rt: Runtime, max_body: int) -> dict[str, Any]:
    """One operation of the document."""
    doc: dict[str, Any] = {"operationId": endpoint.replace(".", "_"), "summary": op.summary}
    if op.description:
        doc["description"] = op.description
    if op.params:
        doc["parameters"] = [param.document(rt) for param in op.params]
    problems = set(op.problems)
    if op.body is not None:
        media = _FORM if endpoint == "oauth.token" else "application/json"
        doc["requestBody"] = {
            "description": f"{media}, at most {max_body} bytes"
            + (f", nested at most {MAX_DEPTH} deep" if media == "application/json" else ""),
            "required": op.body_required,
            "content": {media: {"schema": object_schema(_schema(op.body, rt))}},
        }
        if media == "application/json":
            problems |= {400, 413, 415, 422}
    problems |= {param.status for param in op.params}  # each parameter's refusal
    problems |= {403 for param in op.params if param.name == "purpose"}
    if op.public:
        doc["security"] = []
    else:
        problems |= {401, 503}
    responses = _answers(op, rt)
    for code in sorted(problems):
        responses.setdefault(str(code), _PROBLEM)
    doc["responses"] = dict(sorted(responses.items()))
    return doc


def openapi_document(app: Flask, rt: Runtime) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app`'s API under the convenant in force."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not _is_api(rule.endpoint):
            continue
        view = app.view_functions[rule.endpoint]
        op = getattr(view, "operation", None) or OAUTH.get(rule.endpoint)
        if op is None:
            raise LookupError(f"{rule.endpoint} declares no operation (broker.api.declare)")
        path = _VARIABLE.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule.endpoint, op, rt, int(app.config["MAX_CONTENT_LENGTH"])
            )
    c = rt.convenant
    issuer = str(app.config["ISSUER"]).rstrip("/")
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "MultiTeam broker API",
            "version": "1",
            "description": "Signals in, filtered case views out, under the privacy convenant "
            f"{c.meta.id} {c.version} ({c.hash}). Every read names its purpose; every access "
            "and refusal is audited. Errors are RFC 9457 problem+json. Request bodies are "
            f"application/json, at most {app.config['MAX_CONTENT_LENGTH']} bytes, nested at "
            f"most {MAX_DEPTH} deep. The format bsn: nine digits passing the eleven-check.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (RFC 9068)"},
                "oauth2": {
                    "type": "oauth2",
                    "description": "Where bearer tokens come from. A partner system's token "
                    "(client credentials) may only submit signals: every other endpoint "
                    "answers it 403 client_not_allowed.",
                    "flows": {
                        "clientCredentials": {"tokenUrl": f"{issuer}/oauth/token", "scopes": {}},
                        "authorizationCode": {
                            "authorizationUrl": f"{issuer}/oauth/authorize",
                            "tokenUrl": f"{issuer}/oauth/token",
                            "scopes": {},
                        },
                    },
                },
            },
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {
                        "application/problem+json": {
                            "schema": object_schema(out.PROBLEM, response=True, allow_unknown=True)
                        }
                    },
                }
            },
        },
    }
