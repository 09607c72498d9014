"""The OpenAPI 3.1 description of /api/v1 and the authorization server's endpoints (checked
against the app's routes by the tests)."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]

_PROBLEM = {"$ref": "#/components/responses/Problem"}


def _problems(*codes: int) -> dict[str, Any]:
    return {str(code): _PROBLEM for code in codes}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


_PURPOSE = {
    "name": "purpose",
    "in": "query",
    "required": True,
    "description": "The purpose of the read (doelbinding); also accepted as X-Purpose.",
    "schema": {"type": "string", "enum": ["triage", "casusoverleg", "uitvoering"]},
}
_ROLE = {
    "name": "role",
    "in": "query",
    "required": False,
    "description": "The role to act in, when the person holds several.",
    "schema": {"type": "string"},
}
_CASE_ID = {
    "name": "case_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^case-[0-9a-f]{32}$"},
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MultiTeam broker API",
            "version": "1",
            "description": "Signals in, filtered case views out, under the privacy convenant "
            "of MultiTeam Leeuwarden Oost. Every read names its purpose; every "
            "access and refusal is audited. Errors are RFC 9457 problem+json.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/signals": {
                "post": {
                    "summary": "Submit a signal about a young person",
                    "requestBody": {
                        "required": True,
                        **_json({"$ref": "#/components/schemas/Signal"}),
                    },
                    "responses": {
                        "201": {
                            "description": "Stored",
                            **_json({"$ref": "#/components/schemas/SignalReceipt"}),
                        },
                        **_problems(400, 401, 403, 413, 422, 503),
                    },
                }
            },
            "/api/v1/cases": {
                "get": {
                    "summary": "The cases the caller may see",
                    "parameters": [
                        _PURPOSE,
                        _ROLE,
                        {
                            "name": "page",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1},
                        },
                        {
                            "name": "per_page",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of cases",
                            **_json({"$ref": "#/components/schemas/CaseList"}),
                        },
                        **_problems(400, 401, 403, 503),
                    },
                }
            },
            "/api/v1/cases/{case_id}": {
                "get": {
                    "summary": "One case, as the convenant lets the caller see it",
                    "parameters": [_CASE_ID, _PURPOSE, _ROLE],
                    "responses": {
                        "200": {
                            "description": "The case view",
                            **_json({"$ref": "#/components/schemas/CaseView"}),
                        },
                        # 429: over BROKER_VIEW_RATE_LIMIT views a minute; see Retry-After
                        **_problems(401, 403, 404, 429, 503),
                    },
                }
            },
            "/api/v1/cases/{case_id}/track": {
                "post": {
                    "summary": "Assign the case to a track (coordinator)",
                    "parameters": [_CASE_ID],
                    "requestBody": {
                        "required": True,
                        **_json({"$ref": "#/components/schemas/TrackChange"}),
                    },
                    "responses": {
                        "200": {"description": "The case's track and history"},
                        **_problems(400, 401, 403, 404, 409, 422, 503),
                    },
                }
            },
            "/api/v1/convenant": {
                "get": {
                    "summary": "The convenant in force",
                    "responses": {
                        "200": {"description": "id, title, version, effective date, hash"},
                        **_problems(401, 403, 503),
                    },
                }
            },
            "/api/v1/audit": {
                "get": {
                    "summary": "Audit records (privacy officer, purpose toezicht)",
                    "description": "Filters combine with AND. The BSN is turned into the young "
                    "person's keyed pseudonym on the server. Paged by after_seq.",
                    "parameters": [
                        *(
                            {"name": n, "in": "query", "schema": {"type": "string"}}
                            for n in (
                                "bsn",
                                "person",
                                "party",
                                "purpose",
                                "action",
                                "outcome",
                                "event",
                                "case_id",
                            )
                        ),
                        {
                            "name": "since",
                            "in": "query",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {
                            "name": "until",
                            "in": "query",
                            "schema": {"type": "string", "format": "date-time"},
                        },
                        {"name": "after_seq", "in": "query", "schema": {"type": "integer"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "maximum": 1000},
                        },
                    ],
                    "responses": {
                        "200": {"description": "A page of records (names, never values)"},
                        **_problems(400, 401, 403, 422, 503),
                    },
                }
            },
            "/api/v1/audit/verify": {
                "get": {
                    "summary": "Verify the chain against the kept checkpoints",
                    "parameters": [{"name": "deep", "in": "query", "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "intact, or the first bad seq"},
                        **_problems(401, 403, 503),
                    },
                }
            },
            "/api/v1/audit/checkpoints": {
                "get": {
                    "summary": "The signed checkpoints and their public key",
                    "responses": {
                        "200": {"description": "checkpoints"},
                        **_problems(401, 403, 503),
                    },
                },
                "post": {
                    "summary": "Sign a checkpoint of the current head now",
                    "responses": {
                        "201": {"description": "the checkpoint"},
                        **_problems(401, 403, 503),
                    },
                },
            },
            "/api/v1/audit/anomalies": {
                "get": {
                    "summary": "Refused attempts, access outside the case team, bulk views, views "
                    "outside office hours",
                    "parameters": [
                        {
                            "name": n,
                            "in": "query",
                            "schema": {"type": "string", "format": "date-time"},
                        }
                        for n in ("since", "until")
                    ],
                    "responses": {
                        "200": {"description": "the anomalies of the period"},
                        **_problems(400, 401, 403, 503),
                    },
                }
            },
            "/api/v1/subjects/access-report": {
                "get": {
                    "summary": "Access report for a young person (purpose inzageverzoek)",
                    "parameters": [
                        {
                            "name": "bsn",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "format",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["json", "html"]},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "data held, from whom, and every "
                            "disclosure (JSON or printable HTML)"
                        },
                        **_problems(401, 403, 422, 503),
                    },
                }
            },
            "/api/v1/convenant/explain": {
                "get": {
                    "summary": "Every field with effect, rule, legal basis and explanation",
                    "parameters": [
                        {"name": n, "in": "query", "required": True, "schema": {"type": "string"}}
                        for n in ("party", "role", "purpose", "track")
                    ],
                    "responses": {
                        "200": {"description": "The explanation"},
                        **_problems(401, 403, 422, 503),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
            "/oauth/token": {
                "post": {
                    "summary": "Token endpoint (RFC 6749): client_credentials, authorization_code",
                    "description": "Partner systems authenticate with their client id and "
                    "secret (HTTP Basic or client_secret_post) and grant_type="
                    "client_credentials. An application exchanges a person's authorization "
                    "code with grant_type=authorization_code, the code_verifier (PKCE) and "
                    "its redirect_uri. The answer is an RFC 9068 access token for 15 minutes. "
                    "Errors are RFC 6749 §5.2 JSON ({error, error_description}).",
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {"$ref": "#/components/schemas/TokenRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "An access token",
                            **_json({"$ref": "#/components/schemas/TokenResponse"}),
                        },
                        "400": {"description": "RFC 6749 error (invalid_request, invalid_grant…)"},
                        "401": {"description": "RFC 6749 error invalid_client"},
                        **_problems(503),
                    },
                }
            },
            "/oauth/authorize": {
                "get": {
                    "summary": "Authorization endpoint: the login page for persons",
                    "description": "response_type=code, client_id, redirect_uri, state and "
                    "a PKCE code_challenge with code_challenge_method=S256 (required).",
                    "security": [],
                    "parameters": [
                        {"name": n, "in": "query", "schema": {"type": "string"}}
                        for n in (
                            "response_type",
                            "client_id",
                            "redirect_uri",
                            "scope",
                            "state",
                            "code_challenge",
                            "code_challenge_method",
                        )
                    ],
                    "responses": {
                        "200": {"description": "The login form (text/html)"},
                        "302": {"description": "Back to the client with an error"},
                        "400": {"description": "An invalid request from an unknown client"},
                    },
                },
                "post": {
                    "summary": "Log in (the form's username, password and CSRF token)",
                    "security": [],
                    "responses": {
                        "200": {"description": "The form again: wrong username or password"},
                        "302": {"description": "Back to the client with a code (or an error)"},
                        "400": {"description": "Invalid request or expired form"},
                        **_problems(503),
                    },
                },
            },
            "/.well-known/oauth-authorization-server": {
                "get": {
                    "summary": "Authorization server metadata (RFC 8414)",
                    "security": [],
                    "responses": {"200": {"description": "The metadata"}},
                }
            },
            "/.well-known/jwks.json": {
                "get": {
                    "summary": "The public keys that verify access tokens (JWKS)",
                    "security": [],
                    "responses": {"200": {"description": "The JSON Web Key Set"}},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "security": [],
                    "responses": {"200": {"description": "ok"}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness (database and audit log)",
                    "security": [],
                    "responses": {
                        "200": {"description": "ready"},
                        "503": {"description": "not ready"},
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (RFC 9068)"},
                "oauth2": {
                    "type": "oauth2",
                    "description": "Where bearer tokens come from. A partner system's token "
                    "(client credentials) may only submit signals: every other endpoint answers "
                    "it 403 client_not_allowed.",
                    "flows": {
                        "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}},
                        "authorizationCode": {
                            "authorizationUrl": "/oauth/authorize",
                            "tokenUrl": "/oauth/token",
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
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "code": {"type": "string"},
                        "detail": {"type": "string"},
                        "instance": {"type": "string"},
                        "request_id": {"type": "string"},
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "field": {"type": "string"},
                                    "problem": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "Signal": {
                    "type": "object",
                    "required": ["subject", "fields"],
                    "additionalProperties": False,
                    "properties": {
                        "subject": {
                            "oneOf": [
                                {
                                    "type": "object",
                                    "required": ["bsn"],
                                    "properties": {
                                        "bsn": {"type": "string", "pattern": "^[0-9]{9}$"}
                                    },
                                },
                                {
                                    "type": "object",
                                    "required": [
                                        "surname",
                                        "given_names",
                                        "birth_date",
                                        "postcode",
                                        "house_number",
                                    ],
                                    "properties": {
                                        "surname": {"type": "string"},
                                        "given_names": {"type": "string"},
                                        "birth_date": {"type": "string", "format": "date"},
                                        "postcode": {"type": "string"},
                                        "house_number": {"type": "string"},
                                    },
                                },
                            ]
                        },
                        "fields": {
                            "type": "object",
                            "description": "Field name → value; only fields your party may supply.",
                        },
                        "summary": {"type": "string", "maxLength": 4000},
                    },
                },
                "SignalReceipt": {
                    "type": "object",
                    "properties": {
                        "signal_id": {"type": "string"},
                        "case_id": {"type": "string"},
                        "new_case": {"type": "boolean"},
                    },
                },
                "CaseList": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array"},
                        "page": {"type": "integer"},
                        "per_page": {"type": "integer"},
                        "total": {"type": "integer"},
                    },
                },
                "CaseView": {
                    "type": "object",
                    "required": [
                        "case_id",
                        "track",
                        "convenant_version",
                        "fields",
                        "withheld",
                        "sources",
                    ],
                    "properties": {
                        "case_id": {"type": "string"},
                        "track": {"type": "string"},
                        "convenant_version": {"type": "string"},
                        "convenant_hash": {"type": "string"},
                        "fields": {"type": "object"},
                        "effects": {"type": "object"},
                        "withheld": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "field": {"type": "string"},
                                    "reason": {"type": "string"},
                                    "rule": {"type": "string"},
                                    "legal_basis": {"type": ["string", "null"]},
                                },
                            },
                        },
                        "sources": {"type": "object"},
                        "involvement": {"type": "object"},
                    },
                },
                "TokenRequest": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {
                            "type": "string",
                            "enum": ["client_credentials", "authorization_code"],
                        },
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "code": {"type": "string"},
                        "code_verifier": {"type": "string"},
                        "redirect_uri": {"type": "string"},
                        "scope": {"type": "string"},
                    },
                },
                "TokenResponse": {
                    "type": "object",
                    "required": ["access_token", "token_type", "expires_in"],
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"type": "string", "enum": ["Bearer"]},
                        "expires_in": {"type": "integer", "maximum": 900},
                        "scope": {"type": "string"},
                    },
                },
                "TrackChange": {
                    "type": "object",
                    "required": ["track", "reason"],
                    "additionalProperties": False,
                    "properties": {
                        "track": {"type": "string"},
                        "case_director": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    }
