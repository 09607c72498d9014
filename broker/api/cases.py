"""The case worker's API under /api/v1: submitting a signal, case lists and case views for a
purpose, a track, the convenant in force and its explanation of a cell — thin adapters from
HTTP to `broker.casework`.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from audit import looks_like_bsn
from broker.casework.signals import submit_signal
from broker.casework.tracks import change_track
from broker.casework.views import case_view, explain, list_cases
from broker.core.auth import request_id, source_address
from broker.core.context import Context
from broker.core.limits import ViewLimits
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime

from .openapi import openapi_document
from .requests import (
    NAME,
    authenticate_request,
    case_id_arg,
    current_actor,
    int_arg,
    json_body,
    purpose_arg,
    request_context,
)

__all__ = [
    "api",
]


api = Blueprint("api", __name__, url_prefix="/api/v1")
api.before_request(authenticate_request)


@api.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document())


@api.post("/signals")
def signals_create() -> tuple[Response, int]:
    """Submit a signal about a young person."""
    rt = runtime()
    body = json_body()
    ctx = request_context(None)
    actor = current_actor()
    signal = rt.validator.validate(actor.party, body)
    receipt = submit_signal(db_session(), rt, ctx, signal)
    response = jsonify(
        {"signal_id": receipt.signal_id, "case_id": receipt.case_id, "new_case": receipt.new_case}
    )
    response.headers["Location"] = f"/api/v1/cases/{receipt.case_id}"
    return response, 201


@api.get("/cases")
def cases_list() -> Response:
    """The cases the caller may see, for a purpose, paginated."""
    ctx = request_context(purpose_arg())
    page = int_arg("page", 1, 1, 100_000)
    per_page = int_arg("per_page", 20, 1, 100)
    return jsonify(list_cases(db_session(), runtime(), ctx, page, per_page))


@api.get("/cases/<case_id>")
def cases_get(case_id: str) -> Response:
    """One case, as the convenant lets the caller see it (within the person's view limits)."""
    ctx = request_context(purpose_arg())
    config = current_app.config
    limits = ViewLimits(int(config["VIEW_RATE_LIMIT"]), int(config["BULK_VIEW_LIMIT"]))
    return jsonify(case_view(db_session(), runtime(), ctx, case_id_arg(case_id), limits))


@api.post("/cases/<case_id>/track")
def cases_track(case_id: str) -> Response:
    """Assign the case to a track (coordinator only)."""
    body = json_body()
    purpose = request.args.get("purpose") or request.headers.get("X-Purpose") or "triage"
    if not NAME.match(purpose):
        raise Problem(403, "purpose_unknown", "The purpose is not a purpose of the convenant.")
    ctx = request_context(purpose)
    if ctx.role != "coordinator":
        raise Problem(403, "coordinator_only", "Only the coordinator assigns tracks.")
    return jsonify(change_track(db_session(), runtime(), ctx, case_id_arg(case_id), body))


@api.get("/convenant")
def convenant_info() -> Response:
    """The convenant in force: id, title, version, effective date and hash."""
    c = runtime().convenant
    return jsonify(
        {
            "id": c.meta.id,
            "title": c.meta.title,
            "version": c.version,
            "effective_date": c.meta.effective_date.isoformat(),
            "hash": c.hash,
        }
    )


@api.get("/convenant/explain")
def convenant_explain() -> Response:
    """Every field with effect, rule, legal basis and explanation for a request."""
    names = {}
    errors = []
    for name in ("party", "role", "purpose", "track"):
        value = request.args.get(name, "")
        if not NAME.match(value) or looks_like_bsn(value):
            errors.append({"field": name, "problem": "required: a name from the convenant"})
        names[name] = value
    if errors:
        raise Problem(
            422,
            "invalid_parameters",
            "explain needs party, role, purpose and track.",
            errors=errors,
        )
    ctx = Context(current_actor(), request_id(), source_address())
    return jsonify(explain(db_session(), runtime(), ctx, **names))
