"""The young person's rights over HTTP: corrections, deletions and objections (the privacy
officer, purpose `inzageverzoek`), and a case's explanation with its objections (case workers
and the coordinator). Thin adapters over `broker.rights`."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime
from broker.identity.subjects import FALLBACK_IDENTITY
from broker.privacy.objections import (
    explain_case,
    lift_objection,
    list_objections,
    record_objection,
)
from broker.privacy.rights import correct_value, delete_signal

from .privacy import officer_context
from .requests import authenticate_request, case_id_arg, purpose_arg, request_context

__all__ = ["rights"]


rights = Blueprint("rights", __name__, url_prefix="/api/v1")
rights.before_request(authenticate_request)

RIGHTS_PURPOSE = "inzageverzoek"
_SIGNAL_ID = re.compile(r"^sig-[0-9a-f]{32}$")
_OBJECTION_ID = re.compile(r"^[1-9][0-9]{0,17}$")


def _officer() -> Context:
    """The privacy officer, acting for the young person's rights (403 for anyone else)."""
    return officer_context(RIGHTS_PURPOSE)


def _body(required: bool = True) -> Any:
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:
        body = None
    if body is None and (required or request.get_data()):
        raise Problem(400, "malformed_json", "The body is not valid JSON (send application/json).")
    return body


@rights.post("/subjects/corrections")
def corrections_create() -> tuple[Response, int]:
    """Correct a value on a young person's open case (privacy officer)."""
    ctx = _officer()
    return jsonify(correct_value(db_session(), runtime(), ctx, _body())), 201


@rights.delete("/signals/<signal_id>")
def signals_delete(signal_id: str) -> Response:
    """Delete a signal and its values (privacy officer); the reason in the body or ?reason=."""
    ctx = _officer()
    body = _body(required=False)
    reason = body.get("reason") if isinstance(body, dict) else request.args.get("reason")
    if not _SIGNAL_ID.match(signal_id):
        raise Problem(404, "signal_not_found", "There is no signal with this id.")
    return jsonify(delete_signal(db_session(), runtime(), ctx, signal_id, reason))


@rights.post("/subjects/objections")
def objections_create() -> tuple[Response, int]:
    """Record a young person's objection (privacy officer)."""
    ctx = _officer()
    return jsonify(record_objection(db_session(), runtime(), ctx, _body())), 201


@rights.get("/subjects/objections")
def objections_list() -> Response:
    """A young person's objections, by ?bsn= or the five identity fields (privacy officer)."""
    ctx = _officer()
    args = request.args
    subject: dict[str, str] = (
        {"bsn": args["bsn"]}
        if "bsn" in args
        else {name: args[name] for name in FALLBACK_IDENTITY if name in args}
    )
    return jsonify(list_objections(db_session(), runtime(), ctx, subject))


@rights.post("/subjects/objections/<objection_id>/lift")
def objections_lift(objection_id: str) -> Response:
    """Lift an objection (privacy officer)."""
    ctx = _officer()
    if not _OBJECTION_ID.match(objection_id):
        raise Problem(404, "objection_not_found", "There is no objection with this id.")
    return jsonify(lift_objection(db_session(), runtime(), ctx, int(objection_id)))


@rights.get("/cases/<case_id>/explain")
def cases_explain(case_id: str) -> Response:
    """Why the caller sees each field of this case as it does, objections included."""
    ctx = request_context(purpose_arg())
    return jsonify(explain_case(db_session(), runtime(), ctx, case_id_arg(case_id)))
