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
CASE_ID = {
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
                    "parameters": [CASE_ID, _PURPOSE, _ROLE],
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
                    "parameters": [CASE_ID],
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
            **_casework_paths(),
            **_rights_paths(),
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
            "/api/v1/stats": {
                "get": {
                    "summary": "The monitoring figures (coordinator, purpose uitvoering)",
                    "description": "Per period — the whole range, then each month or quarter "
                    "in it — young people per track and per wijk, cases started and ended, and "
                    "the median days from first signal to triage. Counts under 5 are '<5'; a "
                    "count shown as 'x' (5 or more) is withheld so that no '<5' can be worked "
                    "out from the other figures. Audited as a read without a subject.",
                    "parameters": [
                        {
                            "name": "from",
                            "in": "query",
                            "required": True,
                            "description": "The first day of a month.",
                            "schema": {"type": "string", "format": "date"},
                        },
                        {
                            "name": "to",
                            "in": "query",
                            "required": True,
                            "description": "The last day of a month; at most 5 years after from.",
                            "schema": {"type": "string", "format": "date"},
                        },
                        {
                            "name": "by",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["month", "quarter"]},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The figures, suppressed",
                            **_json(
                                {
                                    "type": "object",
                                    "required": ["from", "to", "by", "periods", "suppression"],
                                    "properties": {
                                        "from": {"type": "string", "format": "date"},
                                        "to": {"type": "string", "format": "date"},
                                        "by": {"type": "string", "enum": ["month", "quarter"]},
                                        "periods": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/StatsPeriod"},
                                        },
                                        "suppression": {"type": "object"},
                                        "definitions": {"type": "object"},
                                    },
                                }
                            ),
                        },
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
                **_casework_schemas(),
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
                        "case_director": {
                            "type": ["string", "null"],
                            "description": "For the case team only",
                        },
                        "opened_at": {
                            "type": "string",
                            "format": "date-time",
                            "description": "For the case team only",
                        },
                        "closed_at": {
                            "type": ["string", "null"],
                            "format": "date-time",
                            "description": "For the case team only; null while open",
                        },
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
                "StatsPeriod": {
                    "type": "object",
                    "properties": {
                        "period": {"type": "string", "examples": ["2026-01", "2026-Q1"]},
                        "kind": {"type": "string", "enum": ["range", "month", "quarter"]},
                        "from": {"type": "string", "format": "date"},
                        "to": {"type": "string", "format": "date"},
                        "young_people": {"$ref": "#/components/schemas/StatsCount"},
                        "by_track": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/components/schemas/StatsCount"},
                        },
                        "by_wijk": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/components/schemas/StatsCount"},
                        },
                        "started": {"$ref": "#/components/schemas/StatsCount"},
                        "ended": {"$ref": "#/components/schemas/StatsCount"},
                        "median_days_to_triage": {
                            "oneOf": [{"type": "number"}, {"type": "string", "enum": ["<5"]}]
                        },
                    },
                },
                "StatsCount": {
                    "description": "A count of 5 or more, '<5', or 'x' (withheld to protect a "
                    "'<5')",
                    "oneOf": [
                        {"type": "integer", "minimum": 5},
                        {"type": "string", "enum": ["<5", "x"]},
                    ],
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


def _casework_paths() -> dict[str, Any]:
    """The coordinator's work: triage, tracks, case director, closing, history, notifications
    and the plan of approach (broker.casework_api)."""
    case_team_read = [CASE_ID, {**_PURPOSE}, _ROLE]
    write_purpose = {
        "name": "purpose",
        "in": "query",
        "required": False,
        "description": "The purpose the change serves (doelbinding); also X-Purpose.",
        "schema": {"type": "string"},
    }
    pages = [
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {
            "name": "per_page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
        },
    ]
    return {
        "/api/v1/triage": {
            "get": {
                "summary": "The triage queue (coordinator, purpose triage)",
                "description": "Open cases in track signaal with DAT-information only: which "
                "parties signalled and when, which categories hold data, the identification the "
                "convenant shows for triage, and matches as the Verwijsindex flags them "
                "(second_party, address, parent) with the other case's id, never the value "
                "that matched. Every listed case is audited.",
                "parameters": pages,
                "responses": {
                    "200": {
                        "description": "A page of the queue",
                        **_json({"$ref": "#/components/schemas/TriageQueue"}),
                    },
                    **_problems(400, 401, 403, 503),
                },
            }
        },
        "/api/v1/cases/{case_id}/case-director": {
            "post": {
                "summary": "Name or change the case director (coordinator)",
                "parameters": [CASE_ID, write_purpose],
                "requestBody": {
                    "required": True,
                    **_json({"$ref": "#/components/schemas/DirectorChange"}),
                },
                "responses": {
                    "200": {"description": "The case's track and case director"},
                    **_problems(400, 401, 403, 404, 409, 422, 503),
                },
            }
        },
        "/api/v1/cases/{case_id}/close": {
            "post": {
                "summary": "Close the case with a reason (coordinator)",
                "parameters": [CASE_ID, write_purpose],
                "requestBody": {
                    "required": True,
                    **_json({"$ref": "#/components/schemas/CaseClose"}),
                },
                "responses": {
                    "200": {"description": "The closed case"},
                    **_problems(400, 401, 403, 404, 409, 422, 503),
                },
            }
        },
        "/api/v1/cases/{case_id}/history": {
            "get": {
                "summary": "Who decided what about the case, when and why (case team)",
                "parameters": case_team_read,
                "responses": {
                    "200": {"description": "Track, director and close steps, oldest first"},
                    **_problems(401, 403, 404, 503),
                },
            }
        },
        "/api/v1/cases/{case_id}/plan": {
            "get": {
                "summary": "The plan of approach (case team of the current track)",
                "parameters": [
                    *case_team_read,
                    {"name": "version", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {
                    "200": {
                        "description": "The newest version, or the one asked",
                        **_json({"$ref": "#/components/schemas/PlanVersion"}),
                    },
                    **_problems(400, 401, 403, 404, 503),
                },
            },
            "put": {
                "summary": "Save a new version of the plan (coordinator or case director)",
                "parameters": [
                    CASE_ID,
                    write_purpose,
                    {
                        "name": "base_version",
                        "in": "query",
                        "description": "The version these changes start from (0: none); when "
                        "another version was saved since, nothing is saved: 409 plan_changed "
                        "with newest_version",
                        "schema": {"type": "integer", "minimum": 0},
                    },
                ],
                "requestBody": {"required": True, **_json({"$ref": "#/components/schemas/Plan"})},
                "responses": {
                    "201": {
                        "description": "The new version",
                        **_json({"$ref": "#/components/schemas/PlanVersion"}),
                    },
                    **_problems(400, 401, 403, 404, 409, 422, 503),
                },
            },
        },
        "/api/v1/cases/{case_id}/plan/versions": {
            "get": {
                "summary": "The versions of the plan of approach (case team)",
                "parameters": case_team_read,
                "responses": {
                    "200": {"description": "Version, author and time of each, newest first"},
                    **_problems(401, 403, 404, 503),
                },
            }
        },
        "/api/v1/notifications": {
            "get": {
                "summary": "Your own notifications, newest first",
                "parameters": [
                    {"name": "unread", "in": "query", "schema": {"type": "boolean"}},
                    *pages,
                ],
                "responses": {
                    "200": {"description": "A page of notifications with the unread count"},
                    **_problems(400, 401, 403, 503),
                },
            }
        },
        "/api/v1/notifications/{notification_id}/read": {
            "post": {
                "summary": "Mark one of your notifications read",
                "parameters": [
                    {
                        "name": "notification_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {
                    "200": {"description": "The notification"},
                    **_problems(401, 403, 404, 503),
                },
            }
        },
    }


def _casework_schemas() -> dict[str, Any]:
    """Schemas of the coordinator's work."""
    text = {"type": "string", "minLength": 1}
    return {
        "TriageQueue": {
            "type": "object",
            "properties": {
                "track": {"type": "string"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "case_id": {"type": "string"},
                            "opened_at": {"type": "string", "format": "date-time"},
                            "identification": {"type": "object"},
                            "effects": {"type": "object"},
                            "involvement": {"type": "object"},
                            "matches": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "kind": {
                                            "type": "string",
                                            "enum": ["second_party", "address", "parent"],
                                        },
                                        "case_id": {"type": ["string", "null"]},
                                        "parties": {"type": "array"},
                                    },
                                },
                            },
                        },
                    },
                },
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
                "total": {"type": "integer"},
            },
        },
        "DirectorChange": {
            "type": "object",
            "required": ["case_director", "reason"],
            "additionalProperties": False,
            "properties": {"case_director": {"type": "string"}, "reason": text},
        },
        "CaseClose": {
            "type": "object",
            "required": ["reason_code"],
            "additionalProperties": False,
            "properties": {
                "reason_code": {
                    "type": "string",
                    "enum": [
                        "doel_bereikt",
                        "verhuisd",
                        "leeftijdsgrens",
                        "overgedragen",
                        "geen_grond",
                    ],
                },
                "note": {"type": ["string", "null"]},
            },
        },
        "Plan": {
            "type": "object",
            "required": ["concerns", "goals", "agreements", "review_date"],
            "additionalProperties": False,
            "properties": {
                "concerns": text,
                "goals": {"type": "array", "minItems": 1, "items": text},
                "agreements": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["party", "agreement"],
                        "additionalProperties": False,
                        "properties": {
                            "party": {
                                "type": "string",
                                "description": "A party on the case team of the current track",
                            },
                            "agreement": text,
                        },
                    },
                },
                "review_date": {"type": "string", "format": "date"},
            },
        },
        "PlanVersion": {
            "allOf": [
                {"$ref": "#/components/schemas/Plan"},
                {
                    "type": "object",
                    "properties": {
                        "case_id": {"type": "string"},
                        "version": {"type": "integer"},
                        "versions": {"type": "integer"},
                        "author": {"type": "object"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
            ]
        },
    }


def _rights_paths() -> dict[str, Any]:
    """The young person's rights: corrections, deletions and objections (privacy officer,
    purpose inzageverzoek; never a value in an answer), and a case's explanation with its
    objections (broker.rights_api)."""
    subject = {
        "oneOf": [
            {"type": "object", "required": ["bsn"], "properties": {"bsn": {"type": "string"}}},
            {
                "type": "object",
                "required": ["surname", "given_names", "birth_date", "postcode", "house_number"],
            },
        ],
        "description": "The young person, as in a signal: a BSN or the five identity fields.",
    }
    reason = {"type": "string", "minLength": 1, "maxLength": 2000}
    names = {"type": "array", "items": {"type": "string"}}
    objection = {
        "type": "object",
        "properties": {
            "objection_id": {"type": "integer"},
            "targets": names,
            "parties": names,
            "reason": {"type": "string"},
            "recorded_by": {"type": "string"},
            "recorded_at": {"type": "string", "format": "date-time"},
            "lifted_at": {"type": ["string", "null"], "format": "date-time"},
            "lifted_by": {"type": ["string", "null"]},
            "in_force": {"type": "boolean"},
        },
    }
    objection_id = {
        "name": "objection_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"},
    }
    return {
        "/api/v1/subjects/corrections": {
            "post": {
                "summary": "Correct a value on a young person's open case (privacy officer)",
                "description": "Every current value of the field is superseded and its content "
                "erased; the corrected value (checked against the field's type) keeps the "
                "supplier and regime of the value it replaces. The BSN is not corrected. "
                "Audited by field name, never a value.",
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["subject", "field", "value", "reason"],
                            "additionalProperties": False,
                            "properties": {
                                "subject": subject,
                                "field": {"type": "string"},
                                "value": {},
                                "reason": reason,
                            },
                        }
                    ),
                },
                "responses": {
                    "201": {"description": "What was done: case, field, values superseded"},
                    **_problems(400, 401, 403, 404, 422, 503),
                },
            }
        },
        "/api/v1/signals/{signal_id}": {
            "delete": {
                "summary": "Delete a signal and its values (privacy officer)",
                "description": 'The reason in the body ({"reason": …}) or as ?reason=. The '
                "audit records stay.",
                "parameters": [
                    {
                        "name": "signal_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^sig-[0-9a-f]{32}$"},
                    },
                    {"name": "reason", "in": "query", "schema": reason},
                ],
                "responses": {
                    "200": {"description": "What was deleted (counts)"},
                    **_problems(400, 401, 403, 404, 409, 422, 503),
                },
            }
        },
        "/api/v1/subjects/objections": {
            "get": {
                "summary": "A young person's objections, in force and lifted (privacy officer)",
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": "string"}}
                    for n in ("bsn", "surname", "given_names", "birth_date", "postcode")
                ]
                + [{"name": "house_number", "in": "query", "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": "The objections",
                        **_json({"type": "object", "properties": {"items": {"items": objection}}}),
                    },
                    **_problems(401, 403, 422, 503),
                },
            },
            "post": {
                "summary": "Record an objection: withhold fields or categories of one young "
                "person from some or all parties (privacy officer)",
                "description": "Layered over the convenant: it only withholds. A party keeps "
                "seeing the values it supplied itself. Honoured by every view, shown in "
                "explain with rule bezwaar (AVG art. 21).",
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["subject", "targets", "reason"],
                            "additionalProperties": False,
                            "properties": {
                                "subject": subject,
                                "targets": {**names, "minItems": 1},
                                "parties": {
                                    **names,
                                    "description": "Receiving parties; empty: every party.",
                                },
                                "reason": reason,
                            },
                        }
                    ),
                },
                "responses": {
                    "201": {"description": "The objection", **_json(objection)},
                    **_problems(400, 401, 403, 404, 422, 503),
                },
            },
        },
        "/api/v1/subjects/objections/{objection_id}/lift": {
            "post": {
                "summary": "Lift an objection (privacy officer)",
                "parameters": [objection_id],
                "responses": {
                    "200": {"description": "The objection, lifted", **_json(objection)},
                    **_problems(401, 403, 404, 409, 503),
                },
            }
        },
        "/api/v1/cases/{case_id}/explain": {
            "get": {
                "summary": "Why the caller sees each field of this case as it does",
                "description": "The convenant's explanation for the caller's party, role and "
                "purpose in the case's track, with the fields an objection of this young "
                "person withholds (rule bezwaar). The same refusals as the case view.",
                "parameters": [CASE_ID, _PURPOSE, _ROLE],
                "responses": {
                    "200": {"description": "The explanation"},
                    **_problems(401, 403, 404, 503),
                },
            }
        },
    }
