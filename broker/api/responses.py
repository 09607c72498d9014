"""What the API answers, as Cerberus-style schemas declared once per endpoint: every member is
required unless it says `required: False`, and no member is left out (a dict without `schema`
holds whatever its description says, e.g. field name: value). The OpenAPI document is generated
from them, and the schemathesis test in the suite checks every answer against them.
"""

from __future__ import annotations

from typing import Any

from broker.core.problems import PROBLEM_TYPE_BASE

__all__ = [
    "ACCESS_REPORT",
    "ANOMALIES",
    "AUDIT_PAGE",
    "CASE_CLOSED",
    "CASE_DIRECTOR",
    "CASE_HISTORY",
    "CASE_LIST",
    "CASE_TRACK",
    "CASE_VIEW",
    "CHECKPOINT",
    "CHECKPOINTS",
    "CONSISTENCY_PROOF",
    "CONVENANT",
    "CORRECTION",
    "DELETION",
    "EXPLANATION",
    "HEALTH",
    "INCLUSION_PROOF",
    "NOTIFICATION",
    "NOTIFICATIONS",
    "OBJECTION",
    "OBJECTIONS",
    "PLAN",
    "PLAN_VERSIONS",
    "PROBLEM",
    "READY",
    "SIGNAL_RECEIPT",
    "STATS",
    "TRIAGE_QUEUE",
    "VERIFICATION",
]


def _s(description: str = "", **rules: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", **rules}
    if description:
        out["meta"] = {"description": description}
    return out


def _obj(
    members: dict[str, Any] | None = None, description: str = "", **rules: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "dict", **rules}
    if members is not None:
        out["schema"] = members
    if description:
        out["meta"] = {"description": description}
    return out


def _list(item: dict[str, Any], **rules: Any) -> dict[str, Any]:
    return {"type": "list", "schema": item, **rules}


def _opt(rules: dict[str, Any]) -> dict[str, Any]:
    return {**rules, "required": False}


def _null(rules: dict[str, Any]) -> dict[str, Any]:
    return {**rules, "nullable": True}


STR = _s()
INT = {"type": "integer"}
COUNT = {"type": "integer", "min": 0}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "meta": {"format": "date-time"}}
DATE = {"type": "string", "check_with": "date"}
CASE_ID = _s(regex="case-[0-9a-f]{32}")
SIGNAL_ID = _s(regex="sig-[0-9a-f]{32}")
ANY = _obj(description="Any members")
NAMES = _list(STR)
PERSON = _obj({"username": STR, "name": STR, "party": STR})
PAGE = {"page": INT, "per_page": INT, "total": COUNT}

PROBLEM = {
    "type": _s("A URI naming the problem", regex=f"{PROBLEM_TYPE_BASE}[a-z_]+"),
    "title": STR,
    "status": {"type": "integer", "min": 400, "max": 599},
    "code": _s("The problem's stable code"),
    "detail": _s("What went wrong; names fields and rules, never a value"),
    "instance": _null(STR),
    "request_id": _opt(STR),
    "errors": _opt(_list(_obj({"field": STR, "problem": STR}))),
    "purposes": _opt(NAMES),
    "newest_version": _opt(INT),
    "retry_after": _opt(INT),
}

HEALTH = {"status": _s(allowed=["ok"])}
READY = {
    "status": _s(allowed=["ok", "unavailable"]),
    "checks": _obj(valuesrules=STR, description="convenant, database, audit_seq"),
}

SIGNAL_RECEIPT = {"signal_id": SIGNAL_ID, "case_id": CASE_ID, "new_case": BOOL}

CASE_LIST = {
    "items": _list(
        _obj(
            {
                "case_id": CASE_ID,
                "track": STR,
                "opened_at": TIME,
                "updated_at": TIME,
                "name": _obj(description="The identifying fields the caller may see"),
            }
        )
    ),
    **PAGE,
    "purpose": STR,
    "role": STR,
}

_WITHHELD = _obj(
    {"field": STR, "reason": STR, "rule": STR, "legal_basis": _null(STR)},
)
_INVOLVEMENT = _obj(
    {
        "categories": NAMES,
        "parties": NAMES,
        "signals": _list(_obj({"party": STR, "received_at": TIME})),
    }
)

CASE_VIEW = {
    "case_id": CASE_ID,
    "track": STR,
    "purpose": STR,
    "role": STR,
    "convenant_version": STR,
    "convenant_hash": STR,
    "on_case_team": BOOL,
    "fields": _obj(description="Field name: value, as the convenant lets the caller see it"),
    "effects": _obj(valuesrules=STR, description="Field name: how it is shown (show, mask, …)"),
    "own_data": NAMES,
    "withheld": _list(_WITHHELD),
    "sources": _obj(valuesrules=_obj({"party": STR, "supplied_at": TIME})),
    "case_director": _opt(_null(STR)),
    "opened_at": _opt(TIME),
    "closed_at": _opt(_null(TIME)),
    "involvement": _opt(_INVOLVEMENT),
}

TRIAGE_QUEUE = {
    "items": _list(
        _obj(
            {
                "case_id": CASE_ID,
                "opened_at": TIME,
                "updated_at": TIME,
                "identification": ANY,
                "effects": _obj(valuesrules=STR),
                "involvement": _INVOLVEMENT,
                "matches": _list(
                    _obj(
                        {
                            "kind": _s(allowed=["second_party", "address", "parent"]),
                            "case_id": _opt(_null(CASE_ID)),
                            "parties": _opt(NAMES),
                        }
                    )
                ),
            }
        )
    ),
    **PAGE,
    "purpose": STR,
    "role": STR,
    "track": STR,
}

_STEP = _obj(
    {
        "kind": STR,
        "from_track": _null(STR),
        "to_track": _null(STR),
        "case_director": _null(_obj({"username": STR, "name": STR})),
        "reason": _null(STR),
        "decided_by": _null(PERSON),
        "decided_at": TIME,
    },
    allow_unknown=True,
    description="A step: track, director or close (close steps add their reason code)",
)
CASE_HISTORY = {
    "case_id": CASE_ID,
    "track": STR,
    "case_director": _null(STR),
    "opened_at": TIME,
    "closed_at": _null(TIME),
    "close_reason": _null(STR),
    "history": _list(_STEP),
}
CASE_TRACK = {
    "case_id": CASE_ID,
    "track": STR,
    "case_director": _null(STR),
    "history": _list(_STEP),
}
CASE_DIRECTOR = {"case_id": CASE_ID, "track": STR, "case_director": STR}
CASE_CLOSED = {
    "case_id": CASE_ID,
    "track": STR,
    "closed_at": TIME,
    "close_reason": STR,
    "closed_by": STR,
}

PLAN = {
    "case_id": CASE_ID,
    "version": {"type": "integer", "min": 1},
    "versions": {"type": "integer", "min": 1},
    "concerns": STR,
    "goals": NAMES,
    "agreements": _list(_obj({"party": STR, "agreement": STR})),
    "review_date": _null(DATE),
    "author": PERSON,
    "created_at": TIME,
}
PLAN_VERSIONS = {
    "case_id": CASE_ID,
    "items": _list(_obj({"version": INT, "created_at": TIME, "author": PERSON})),
}

NOTIFICATION = {
    "id": INT,
    "case_id": _null(STR),
    "kind": STR,
    "message": STR,
    "created_at": TIME,
    "read_at": _null(TIME),
}
NOTIFICATIONS = {"items": _list(_obj(NOTIFICATION)), **PAGE, "unread": COUNT}

CONVENANT = {"id": STR, "title": STR, "version": STR, "effective_date": DATE, "hash": STR}

EXPLANATION = {
    "allowed": BOOL,
    "case_id": _opt(CASE_ID),
    "convenant": _obj({"id": STR, "version": STR, "hash": STR}),
    "denial": _null(STR),
    "denial_reason": _null(STR),
    "fields": _list(
        _obj(
            {
                "field": STR,
                "effect": STR,
                "explanation": _null(STR),
                "generaliser": _null(STR),
                "keep_last": _null(INT),
                "special_basis": _null(STR),
                "rule": _opt(_null(STR)),
                "legal_basis": _opt(_null(STR)),
            }
        )
    ),
    "own_data": _null(ANY),
    "purpose_legal_basis": _null(STR),
    "request": _obj({"party": STR, "role": STR, "purpose": STR, "track": STR}),
    "view": _null(STR),
    "withheld_by_objection": _opt(NAMES),
}

_STATS_COUNT = {
    "anyof": [{"type": "integer", "min": 5}, {"type": "string", "allowed": ["<5", "x"]}],
    "meta": {"description": "A count of 5 or more, '<5', or 'x' (withheld to protect a '<5')"},
}
STATS = {
    "from": DATE,
    "to": DATE,
    "by": _s(allowed=["month", "quarter"]),
    "periods": _list(
        _obj(
            {
                "period": STR,
                "kind": _s(allowed=["range", "month", "quarter"]),
                "from": DATE,
                "to": DATE,
                "young_people": _STATS_COUNT,
                "by_track": _obj(valuesrules=_STATS_COUNT),
                "by_wijk": _obj(valuesrules=_STATS_COUNT),
                "started": _STATS_COUNT,
                "ended": _STATS_COUNT,
                "median_days_to_triage": {
                    "anyof": [
                        {"type": "number", "nullable": True},
                        {"type": "string", "allowed": ["<5"]},
                    ]
                },
            }
        )
    ),
    "suppression": ANY,
    "definitions": ANY,
}

AUDIT_PAGE = {
    "items": _list(_obj(description="An audit record: names and pseudonyms, never a value")),
    "next_after_seq": _null(INT),
}
VERIFICATION = {
    "is_intact": BOOL,
    "description": STR,
    "first_seq": _null(INT),
    "last_seq": _null(INT),
    "anchor_seq": _null(INT),
    "records_checked": COUNT,
    "checkpoints_matched": COUNT,
    "signatures_checked": BOOL,
    "first_bad_seq": _null(INT),
    "reason": _null(STR),
    "column": _null(STR),
    "head_hash": _null(STR),
    "columns_checked": BOOL,
    "tree_hashes_checked": COUNT,
    "tree_size": _null(COUNT),
    "tree_root": _null(STR),
    "purged": COUNT,
    "purged_checked": BOOL,
    "checked": _list(STR),
}
CHECKPOINT = {
    "format": STR,
    "seq": INT,
    "head_hash": STR,
    "time": TIME,
    "key_id": STR,
    "signature": STR,
}
CHECKPOINTS = {"public_key": STR, "checkpoints": _list(_obj(CHECKPOINT))}
INCLUSION_PROOF = {"seq": INT, "tree_size": INT, "leaf": STR, "proof": _list(STR)}
CONSISTENCY_PROOF = {"old_size": INT, "new_size": INT, "proof": _list(STR)}
ANOMALIES = {
    "since": TIME,
    "until": TIME,
    "settings": ANY,
    "alarms": _list(ANY),
    "bulk_views": _list(ANY),
    "outside_case_team": _list(ANY),
    "outside_office_hours": _list(ANY),
    "refused": _list(ANY),
}
ACCESS_REPORT = {
    "subject": STR,
    "known": BOOL,
    "generated_at": TIME,
    "period_from": TIME,
    "convenant": ANY,
    "cases": _list(ANY),
    "data_held": _list(ANY),
    "disclosures": _list(ANY),
}

OBJECTION = {
    "objection_id": INT,
    "targets": NAMES,
    "parties": NAMES,
    "reason": STR,
    "recorded_by": _null(STR),
    "recorded_at": TIME,
    "lifted_at": _null(TIME),
    "lifted_by": _null(STR),
    "in_force": BOOL,
    "fields": _opt(NAMES),
}
OBJECTIONS = {"subject": STR, "items": _list(_obj(OBJECTION))}
CORRECTION = {
    "correction_id": INT,
    "case_id": CASE_ID,
    "field": STR,
    "supplier": STR,
    "superseded": COUNT,
    "corrected_at": TIME,
}
DELETION = {"signal_id": SIGNAL_ID, "case_id": CASE_ID, "values_deleted": COUNT, "deleted_at": TIME}
