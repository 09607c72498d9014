"""The young person's rights over HTTP: corrections, deletions and objections (the privacy
officer, purpose `inzageverzoek`), and a case's explanation with its objections (case workers
and the coordinator). Thin adapters over `broker.privacy`, each declared once
(`broker.api.declare`) for its checks and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from broker.core.context import Context
from broker.core.runtime import db_session, runtime
from broker.identity.subjects import FALLBACK_IDENTITY
from broker.privacy.objections import (
    explain_case,
    lift_objection,
    list_objections,
    record_objection,
)
from broker.privacy.requests import REASON, correction_schema, objection_schema
from broker.privacy.rights import correct_value, delete_signal

from . import responses as out
from .declare import Answer, Operation, Param, RulesParam, declare
from .privacy import officer_context
from .requests import CASE_ID, PURPOSE, ROLE, authenticate_request, json_body, request_context

__all__ = ["rights"]


rights = Blueprint("rights", __name__, url_prefix="/api/v1")
rights.before_request(authenticate_request)

RIGHTS_PURPOSE = "inzageverzoek"
_SIGNAL_ID = Param(
    "signal_id", where="path", pattern="sig-[0-9a-f]{32}", status=404, code="signal_not_found"
)
_OBJECTION_ID = Param(
    "objection_id",
    where="path",
    pattern="[1-9][0-9]{0,17}",
    status=404,
    code="objection_not_found",
)
_REASON = RulesParam(
    "reason",
    required=True,
    rules=lambda rt: REASON,
    status=422,
    code="invalid_deletion",
    description="Why the signal is deleted (kept with the deletion, never in the audit log)",
)


def _identity(name: str) -> RulesParam:
    return RulesParam(
        name,
        rules=lambda rt: rt.validator.field_rules[name],
        description="The young person: bsn, or all of "
        + ", ".join(FALLBACK_IDENTITY)
        + " (as in a signal's subject)",
    )


_SUBJECT = tuple(_identity(name) for name in ("bsn", *FALLBACK_IDENTITY))


def _officer() -> Context:
    """The privacy officer, acting for the young person's rights (403 for anyone else)."""
    return officer_context(RIGHTS_PURPOSE)


@rights.post("/subjects/corrections")
@declare(
    Operation(
        "Correct a value on a young person's open case (privacy officer)",
        (Answer(201, "What was done: case, field, values superseded", out.CORRECTION),),
        description="Every current value of the field is superseded and its content erased; "
        "the corrected value (checked against the field's type, as in a signal) keeps the "
        "supplier and regime of the value it replaces. The BSN is not corrected. Audited by "
        "field name, never a value.",
        body=correction_schema,
        problems=(403, 404, 422),
    )
)
def corrections_create() -> tuple[Response, int]:
    """Correct a value on a young person's open case (privacy officer)."""
    ctx = _officer()
    return jsonify(correct_value(db_session(), runtime(), ctx, json_body())), 201


@rights.delete("/signals/<signal_id>")
@declare(
    Operation(
        "Delete a signal and its values (privacy officer)",
        (Answer(200, "What was deleted (counts)", out.DELETION),),
        description="The audit records stay.",
        params=(_SIGNAL_ID, _REASON),
        problems=(403, 404, 409, 422),
    )
)
def signals_delete(signal_id: str) -> Response:
    """Delete a signal and its values (privacy officer); the reason as ?reason= (or, for
    clients of old, in a JSON body {"reason": …})."""
    ctx = _officer()
    body = json_body(required=False)
    sid = _SIGNAL_ID.read()
    reason = body.get("reason") if isinstance(body, dict) else _REASON.read()
    return jsonify(delete_signal(db_session(), runtime(), ctx, sid, reason))


@rights.post("/subjects/objections")
@declare(
    Operation(
        "Record an objection: withhold fields or categories of one young person from some or "
        "all parties (privacy officer)",
        (Answer(201, "The objection", out.OBJECTION),),
        description="Layered over the convenant: it only withholds. A party keeps seeing the "
        "values it supplied itself. Honoured by every view, shown in explain with rule bezwaar "
        "(AVG art. 21).",
        body=objection_schema,
        problems=(403, 404, 422),
    )
)
def objections_create() -> tuple[Response, int]:
    """Record a young person's objection (privacy officer)."""
    ctx = _officer()
    return jsonify(record_objection(db_session(), runtime(), ctx, json_body())), 201


@rights.get("/subjects/objections")
@declare(
    Operation(
        "A young person's objections, in force and lifted (privacy officer)",
        (Answer(200, "The objections", out.OBJECTIONS),),
        params=_SUBJECT,
        problems=(403, 422),
    )
)
def objections_list() -> Response:
    """A young person's objections, by ?bsn= or the five identity fields (privacy officer)."""
    ctx = _officer()
    # every member given is checked, also beside a bsn (which then identifies)
    subject = {param.name: value for param in _SUBJECT if (value := param.read()) is not None}
    return jsonify(list_objections(db_session(), runtime(), ctx, subject))


@rights.post("/subjects/objections/<objection_id>/lift")
@declare(
    Operation(
        "Lift an objection (privacy officer)",
        (Answer(200, "The objection, lifted", out.OBJECTION),),
        params=(_OBJECTION_ID,),
        problems=(403, 404, 409),
    )
)
def objections_lift(objection_id: str) -> Response:
    """Lift an objection (privacy officer)."""
    ctx = _officer()
    number = int(_OBJECTION_ID.read())
    return jsonify(lift_objection(db_session(), runtime(), ctx, number))


@rights.get("/cases/<case_id>/explain")
@declare(
    Operation(
        "Why the caller sees each field of this case as it does, objections included",
        (Answer(200, "The explanation", out.EXPLANATION),),
        description="The convenant's explanation for the caller's party, role and purpose in "
        "the case's track, with the fields an objection of this young person withholds (rule "
        "bezwaar). The same refusals as the case view.",
        params=(CASE_ID, PURPOSE, ROLE),
        problems=(400, 403, 404),
    )
)
def cases_explain(case_id: str) -> Response:
    """Why the caller sees each field of this case as it does, objections included."""
    ctx = request_context(PURPOSE.read())
    return jsonify(explain_case(db_session(), runtime(), ctx, CASE_ID.read()))
