"""What the privacy officer's requests about a young person's rights share: the officer acting for
inzageverzoek, the young person found by the keyed pseudonym of the BSN, and checks of the input
whose errors name the field and the rule, never the value.
"""

from __future__ import annotations

from typing import Any

from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.identity.actors import Actor
from broker.identity.subjects import subject_key

__all__ = [
    "MAX_REASON",
    "MAX_TARGETS",
]


MAX_REASON = 2000


MAX_TARGETS = 64


def member_problems(body: Any, allowed: set[str], code: str) -> list[dict[str, str]]:
    if not isinstance(body, dict):
        raise Problem(422, code, "The body must be a JSON object; nothing was changed.")
    return [{"field": k, "problem": "unknown member"} for k in sorted(set(body) - allowed)]


def checked_reason(reason: Any, errors: list[dict[str, str]]) -> str:
    if (
        not isinstance(reason, str)
        or not reason.strip()
        or len(reason) > MAX_REASON
        or not _is_clean(reason)
    ):
        errors.append(
            {"field": "reason", "problem": f"give the reason (1–{MAX_REASON} characters of text)"}
        )
        return ""
    return reason.strip()


def _is_clean(text: str) -> bool:
    return all(ch >= " " or ch in "\t\n\r" for ch in text) and "\x7f" not in text


def refuse(code: str, detail: str, errors: list[dict[str, str]]) -> None:
    if errors:
        raise Problem(422, code, detail, errors=errors)


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
