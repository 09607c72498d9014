"""The request bodies of the acts on a case (track, case director, closing, plan) as Cerberus
schemas: checked here with messages that name the field and the rule, never the value, and
described from the same schemas in the OpenAPI document.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from cerberus import Validator

import policies
from broker.core.problems import Problem
from broker.core.validation import _Validator, _ValueFreeErrors

__all__ = [
    "BODY_SCHEMAS",
    "CLOSE_REASONS",
    "MAX_REASON",
    "MAX_TEXT",
    "BodyValidator",
    "body_schema",
    "checked_body",
    "clean_text",
    "flatten_errors",
    "refusal",
]


MAX_REASON = 2000


MAX_TEXT = 4000


CLOSE_REASONS: Mapping[str, str] = {
    "doel_bereikt": "Doelen van het plan van aanpak bereikt",
    "verhuisd": "Jongere is verhuisd buiten het werkgebied",
    "leeftijdsgrens": "Jongere heeft de leeftijdsgrens (23 jaar) bereikt",
    "overgedragen": "Overgedragen aan een andere aanpak of organisatie",
    "geen_grond": "Geen grond voor een aanpak door het MultiTeam",
}


class BodyValidator(_Validator):
    """The signal validator's checks (clean text, not blank, dates) for the acts on a case."""


def clean_text(max_length: int) -> dict[str, Any]:
    return {
        "type": "string",
        "empty": False,
        "maxlength": max_length,
        "check_with": ["clean_text", "not_blank"],
    }


BODY_SCHEMAS: Mapping[str, dict[str, Any]] = {
    "track": {
        "track": {"type": "string", "required": True, "empty": False},
        "reason": {**clean_text(MAX_REASON), "required": True},
        "case_director": {"type": "string", "nullable": True, "maxlength": 64},
    },
    "director": {
        "case_director": {"type": "string", "required": True, "empty": False, "maxlength": 64},
        "reason": {**clean_text(MAX_REASON), "required": True},
    },
    "close": {
        "reason_code": {
            "type": "string",
            "required": True,
            "empty": False,
            "allowed": list(CLOSE_REASONS),
        },
        "note": {**clean_text(MAX_REASON), "nullable": True},
    },
    "plan": {
        "concerns": {**clean_text(MAX_TEXT), "required": True},
        "goals": {
            "type": "list",
            "required": True,
            "empty": False,
            "minlength": 1,
            "maxlength": 20,
            "schema": clean_text(1000),
        },
        "agreements": {
            "type": "list",
            "required": True,
            "maxlength": 50,
            "schema": {
                "type": "dict",
                "schema": {
                    "party": {
                        "type": "string",
                        "required": True,
                        "empty": False,
                        "maxlength": 64,
                        "meta": {"description": "A party on the case team of the current track"},
                    },
                    "agreement": {**clean_text(MAX_REASON), "required": True},
                },
            },
        },
        "review_date": {
            "type": "string",
            "required": True,
            "check_with": "date",
            "meta": {"description": "Today or later"},
        },
    },
}


_local = threading.local()


def flatten_errors(tree: Mapping[Any, Any], prefix: str = "") -> list[dict[str, str]]:
    """Cerberus' nested errors as [{field: "agreements.0.party", problem: ...}]."""
    out: list[dict[str, str]] = []
    for key, messages in sorted(tree.items(), key=lambda item: str(item[0])):
        name = f"{prefix}.{key}" if prefix else str(key)
        for message in messages:
            if isinstance(message, Mapping):
                out += flatten_errors(message, name)
            else:
                out.append({"field": name, "problem": str(message)})
    return out


def body_schema(kind: str, convenant: policies.Convenant) -> dict[str, Any]:
    """The Cerberus schema of a body `kind` under the convenant in force (a track change names
    one of its tracks but the initial one)."""
    schema = dict(BODY_SCHEMAS[kind])
    if kind == "track":
        tracks = [t for t in convenant.tracks if t != convenant.initial_track]
        schema["track"] = {**schema["track"], "allowed": tracks}
    return schema


def checked_body(
    kind: str, body: Any, code: str, what: str, convenant: policies.Convenant
) -> tuple[dict[str, Any], list[Any]]:
    """The body checked against its schema, and the errors found (field paths, no values)."""
    if not isinstance(body, dict):
        raise refusal(code, what, [{"field": "body", "problem": "must be a JSON object"}])
    cache: dict[tuple[str, str], Validator] = _local.__dict__.setdefault("validators", {})
    key = (kind, convenant.hash)
    if key not in cache:
        cache[key] = BodyValidator(body_schema(kind, convenant), error_handler=_ValueFreeErrors)
    validator = cache[key]
    if validator.validate(body):
        return dict(validator.document), []
    return dict(body), flatten_errors(validator.errors)


def refusal(code: str, what: str, errors: list[dict[str, str]], **audit: Any) -> Problem:
    return Problem(
        422,
        code,
        f"The {what} is not valid; nothing was changed.",
        errors=errors,
        audit={"problems": len(errors), **audit},
    )
