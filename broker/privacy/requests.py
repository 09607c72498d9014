"""What the privacy officer's requests about a young person's rights share: the officer acting for
inzageverzoek, the young person found by the keyed pseudonym of the BSN, and checks of the input
whose errors name the field and the rule, never the value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from broker.casework.schemas import BodyValidator, flatten_errors
from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.core.validation import _ValueFreeErrors
from broker.identity.actors import Actor
from broker.identity.subjects import subject_key

__all__ = [
    "MAX_REASON",
    "MAX_TARGETS",
    "REASON",
    "checked",
    "correction_schema",
    "deletion_schema",
    "objection_schema",
]


MAX_REASON = 2000


MAX_TARGETS = 64


# A reason given for a right exercised: clean text, not blank, at most MAX_REASON characters.
REASON: dict[str, Any] = {
    "type": "string",
    "required": True,
    "empty": False,
    "maxlength": MAX_REASON,
    "check_with": ["clean_text", "not_blank"],
}

_local = threading.local()


def correction_schema(rt: Runtime) -> dict[str, Any]:
    """A correction's body: the young person, a field of the convenant (not the BSN), a value
    of that field's type (as in a signal) and the reason."""
    names = [name for name in rt.convenant.fields if name != "bsn"]
    return {
        "subject": rt.validator.subject_rules,
        "field": {
            "type": "string",
            "required": True,
            "empty": False,
            "allowed": names,
            "meta": {"description": "A field of the convenant; the BSN is not corrected"},
        },
        "value": {
            "required": True,
            "nullable": False,
            "value_of": {
                "member": "field",
                "rules": {name: rt.validator.field_rules[name] for name in names},
            },
        },
        "reason": REASON,
    }


def objection_schema(rt: Runtime) -> dict[str, Any]:
    """An objection's body: the young person, the fields and categories it withholds, from
    which parties (none: every party), and the reason."""
    c = rt.convenant
    names = {"type": "string", "empty": False}
    return {
        "subject": rt.validator.subject_rules,
        "targets": {
            "type": "list",
            "required": True,
            "empty": False,
            "maxlength": MAX_TARGETS,
            "schema": {**names, "allowed": [*c.categories, *c.fields]},
            "meta": {"description": "Categories and fields of the convenant"},
        },
        "parties": {
            "type": "list",
            "maxlength": MAX_TARGETS,
            "schema": {**names, "allowed": list(c.parties)},
            "meta": {"description": "Receiving parties; none: every party"},
        },
        "reason": REASON,
    }


def deletion_schema(rt: Runtime) -> dict[str, Any]:
    """A deletion's body: the reason."""
    return {"reason": REASON}


def checked(
    kind: Callable[[Runtime], dict[str, Any]], rt: Runtime, body: Any, code: str, what: str
) -> dict[str, Any]:
    """`body` checked against the schema `kind` builds (a 422 Problem naming each field and
    rule, never a value, nothing changed); reasons come back stripped."""
    if not isinstance(body, dict):
        raise Problem(422, code, "The body must be a JSON object; nothing was changed.")
    cache: dict[tuple[str, str], Any] = _local.__dict__.setdefault("validators", {})
    key = (kind.__name__, rt.convenant.hash)
    if key not in cache:
        cache[key] = BodyValidator(kind(rt), error_handler=_ValueFreeErrors)
    validator = cache[key]
    if not validator.validate(body):
        errors = flatten_errors(validator.errors)
        raise Problem(422, code, f"The {what} is not valid; nothing was changed.", errors=errors)
    doc = dict(validator.document)
    if isinstance(doc.get("reason"), str):
        doc["reason"] = doc["reason"].strip()
    return doc


def young_person_key(rt: Runtime, subject: Any) -> str:
    bsn, identity = rt.validator.validate_subject(subject)
    return subject_key(rt.subject_secret, bsn=bsn, identity=identity)


def acting_officer(ctx: Context) -> Actor:
    actor = ctx.actor
    assert actor is not None and actor.person_id is not None
    return actor


def legal_basis(rt: Runtime, ctx: Context) -> str | None:
    purpose = rt.convenant.purposes.get(ctx.purpose or "")
    return purpose.legal_basis if purpose else None
