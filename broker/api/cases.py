"""The JSON API under /api/v1: thin adapters from HTTP to the services."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import text

from audit import looks_like_bsn
from broker.casework.signals import submit_signal
from broker.casework.tracks import change_track
from broker.casework.views import case_view, explain, list_cases
from broker.core.auth import authenticate, choose_role, request_id, source_address
from broker.core.context import Context
from broker.core.limits import ViewLimits
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime
from broker.identity.actors import Actor

from .openapi import openapi_document

__all__ = ["api", "authenticate_request", "current_actor", "health", "int_arg"]

api = Blueprint("api", __name__, url_prefix="/api/v1")
health = Blueprint("health", __name__)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CASE_ID = re.compile(r"^case-[0-9a-f]{32}$")
PUBLIC_ENDPOINTS = {"api.openapi"}
# What a partner system (client credentials) may do: submit signals. Never read.
CLIENT_ENDPOINTS = {"api.signals_create"}


@api.before_request
def authenticate_request() -> None:
    """Every /api/v1 request but the public ones carries a valid bearer token; a partner
    system's token only reaches the endpoints for partner systems (403 elsewhere)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    actor = authenticate()
    if actor.is_client and request.endpoint not in CLIENT_ENDPOINTS:
        raise Problem(
            403,
            "client_not_allowed",
            "A partner system (client credentials) may only submit signals; reading case "
            "views and the audit log needs a person's token.",
        )


def current_actor() -> Actor:
    actor: Actor = g.actor
    return actor


def _json_body() -> Any:
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes
        body = None
    if body is None:
        raise Problem(400, "malformed_json", "The body is not valid JSON (send application/json).")
    return body


def _purpose() -> str:
    purpose = request.args.get("purpose") or request.headers.get("X-Purpose")
    if not purpose:
        raise Problem(
            403,
            "purpose_missing",
            "Every read names its purpose: add ?purpose= (or the X-Purpose header).",
            purposes=sorted(runtime().convenant.purposes),
        )
    if not _NAME.match(purpose):
        raise Problem(403, "purpose_unknown", "The purpose is not a purpose of the convenant.")
    return purpose


def _context(purpose: str | None) -> Context:
    actor = current_actor()
    role = None
    g.purpose = purpose
    if purpose is not None:
        asked = request.args.get("role")
        role = choose_role(runtime().convenant, actor, purpose, asked)
    g.role = role
    return Context(actor, request_id(), source_address(), role=role, purpose=purpose)


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise Problem(400, "bad_parameter", f"{name} must be a whole number from {lo} to {hi}.")
    return int(raw)


@api.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document())


@api.post("/signals")
def signals_create() -> tuple[Response, int]:
    """Submit a signal about a young person."""
    rt = runtime()
    body = _json_body()
    ctx = _context(None)
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
    ctx = _context(_purpose())
    page = int_arg("page", 1, 1, 100_000)
    per_page = int_arg("per_page", 20, 1, 100)
    return jsonify(list_cases(db_session(), runtime(), ctx, page, per_page))


def _case_id(case_id: str) -> str:
    if not _CASE_ID.match(case_id):
        raise Problem(404, "case_not_found", "There is no case with this id.")
    return case_id


@api.get("/cases/<case_id>")
def cases_get(case_id: str) -> Response:
    """One case, as the convenant lets the caller see it (within the person's view limits)."""
    ctx = _context(_purpose())
    config = current_app.config
    limits = ViewLimits(int(config["VIEW_RATE_LIMIT"]), int(config["BULK_VIEW_LIMIT"]))
    return jsonify(case_view(db_session(), runtime(), ctx, _case_id(case_id), limits))


@api.post("/cases/<case_id>/track")
def cases_track(case_id: str) -> Response:
    """Assign the case to a track (coordinator only)."""
    body = _json_body()
    purpose = request.args.get("purpose") or request.headers.get("X-Purpose") or "triage"
    if not _NAME.match(purpose):
        raise Problem(403, "purpose_unknown", "The purpose is not a purpose of the convenant.")
    ctx = _context(purpose)
    if ctx.role != "coordinator":
        raise Problem(403, "coordinator_only", "Only the coordinator assigns tracks.")
    return jsonify(change_track(db_session(), runtime(), ctx, _case_id(case_id), body))


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
        if not _NAME.match(value) or looks_like_bsn(value):
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


@health.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers."""
    return jsonify({"status": "ok"})


@health.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: the database answers and the audit log's head can be read."""
    rt = runtime()
    checks: dict[str, str] = {"convenant": rt.convenant.hash}
    try:
        session = db_session()
        session.execute(text("SELECT 1"))
        head = rt.audit.head(session)
        session.rollback()
        checks["database"] = "ok"
        checks["audit_seq"] = str(head.seq)
    except Exception as exc:
        checks["database"] = f"unavailable ({type(exc).__name__})"
        return jsonify({"status": "unavailable", "checks": checks}), 503
    return jsonify({"status": "ok", "checks": checks}), 200
