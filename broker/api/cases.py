"""The JSON API under /api/v1: signals in, case lists and views out, track changes, the
convenant in force and its explanation, and this API's OpenAPI document — thin adapters from HTTP
to the use cases, each declared once (`broker.api.declare`) for its checks and the document."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from broker.casework.schemas import body_schema
from broker.casework.signals import submit_signal
from broker.casework.tracks import change_track
from broker.casework.views import case_view, explain, list_cases
from broker.core.auth import request_id, source_address
from broker.core.context import Context
from broker.core.limits import ViewLimits
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime

from . import responses as out
from .declare import Answer, Operation, Param, declare
from .openapi import openapi_document
from .requests import (
    CASE_ID,
    PAGE,
    PER_PAGE,
    PURPOSE,
    ROLE,
    authenticate_request,
    current_actor,
    json_body,
    request_context,
    write_purpose,
)

__all__ = [
    "api",
]


api = Blueprint("api", __name__, url_prefix="/api/v1")
api.before_request(authenticate_request)

_TRACK_PURPOSE = write_purpose("triage")


@api.get("/openapi.json")
@declare(
    Operation(
        "This document (OpenAPI 3.1)",
        (
            Answer(
                200,
                "The OpenAPI document",
                {
                    "openapi": {"type": "string", "regex": r"3\.1\.[0-9]+"},
                    "paths": {"type": "dict"},
                },
                open=True,
            ),
        ),
        public=True,
    )
)
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API, generated from the declarations."""
    return jsonify(openapi_document(current_app, runtime()))


@api.post("/signals")
@declare(
    Operation(
        "Submit a signal about a young person",
        (Answer(201, "Stored; Location names the case", out.SIGNAL_RECEIPT),),
        description="A partner system's or a person's signal: the young person (subject) and "
        "the fields your party may supply (each field's x-suppliers). Checked against the "
        "convenant in force; nothing is stored when anything is wrong (422 naming each field).",
        body=lambda rt: rt.validator.signal_schema,
        problems=(403, 422),
    )
)
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
@declare(
    Operation(
        "The cases the caller may see, for a purpose, paginated",
        (Answer(200, "A page of cases", out.CASE_LIST),),
        params=(PURPOSE, ROLE, PAGE, PER_PAGE),
        problems=(400, 403),
    )
)
def cases_list() -> Response:
    """The cases the caller may see, for a purpose, paginated."""
    ctx = request_context(PURPOSE.read())
    page, per_page = PAGE.read(), PER_PAGE.read()
    return jsonify(list_cases(db_session(), runtime(), ctx, page, per_page))


@api.get("/cases/<case_id>")
@declare(
    Operation(
        "One case, as the convenant lets the caller see it",
        (Answer(200, "The case view", out.CASE_VIEW),),
        description="429 beyond BROKER_VIEW_RATE_LIMIT views a minute (see Retry-After).",
        params=(CASE_ID, PURPOSE, ROLE),
        problems=(400, 403, 404, 429),
    )
)
def cases_get(case_id: str) -> Response:
    """One case, as the convenant lets the caller see it (within the person's view limits)."""
    ctx = request_context(PURPOSE.read())
    config = current_app.config
    limits = ViewLimits(int(config["VIEW_RATE_LIMIT"]), int(config["BULK_VIEW_LIMIT"]))
    return jsonify(case_view(db_session(), runtime(), ctx, CASE_ID.read(), limits))


@api.post("/cases/<case_id>/track")
@declare(
    Operation(
        "Assign the case to a track (coordinator)",
        (Answer(200, "The case's track, case director and history", out.CASE_TRACK),),
        params=(CASE_ID, _TRACK_PURPOSE, ROLE),
        body=lambda rt: body_schema("track", rt.convenant),
        problems=(403, 404, 409, 422),
    )
)
def cases_track(case_id: str) -> Response:
    """Assign the case to a track (coordinator only)."""
    case = CASE_ID.read()
    body = json_body()
    ctx = request_context(_TRACK_PURPOSE.read())
    if ctx.role != "coordinator":
        raise Problem(403, "coordinator_only", "Only the coordinator assigns tracks.")
    return jsonify(change_track(db_session(), runtime(), ctx, case, body))


@api.get("/convenant")
@declare(
    Operation(
        "The convenant in force: id, title, version, effective date and hash",
        (Answer(200, "The convenant", out.CONVENANT),),
        problems=(403,),
    )
)
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


def _name(name: str, names: str) -> Param:
    return Param(
        name,
        required=True,
        enum=lambda rt: list(getattr(rt.convenant, names)),
        status=422,
        code="invalid_parameters",
    )


_EXPLAIN = (
    _name("party", "parties"),
    _name("role", "roles"),
    _name("purpose", "purposes"),
    _name("track", "tracks"),
)


@api.get("/convenant/explain")
@declare(
    Operation(
        "Every field with effect, rule, legal basis and explanation for a request",
        (Answer(200, "The explanation", out.EXPLANATION),),
        params=_EXPLAIN,
        problems=(403, 422),
    )
)
def convenant_explain() -> Response:
    """Every field with effect, rule, legal basis and explanation for a request."""
    names = {param.name: param.read() for param in _EXPLAIN}
    ctx = Context(current_actor(), request_id(), source_address())
    return jsonify(explain(db_session(), runtime(), ctx, **names))
