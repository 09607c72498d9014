"""The coordinator's work under /api/v1: triage queue, tracks, case director, closing, history,
notifications and the plan of approach — thin adapters from HTTP to `broker.casework`."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from broker.casework.notifications import list_notifications, mark_notification_read
from broker.casework.plan import plan_versions, read_plan, write_plan
from broker.casework.tracks import case_history, close_case, name_case_director
from broker.casework.triage import triage_queue
from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime

from .requests import NAME as PURPOSE_NAME
from .requests import (
    authenticate_request,
    case_id_arg,
    int_arg,
    json_body,
    purpose_arg,
    request_context,
)

__all__ = ["casework"]


casework = Blueprint("casework", __name__, url_prefix="/api/v1")
casework.before_request(authenticate_request)


def _purpose_or(default: str) -> Context:
    """The context of a write: the purpose asked (?purpose= or X-Purpose), else `default`."""
    purpose = request.args.get("purpose") or request.headers.get("X-Purpose") or default
    if not PURPOSE_NAME.match(purpose):
        raise Problem(403, "purpose_unknown", "The purpose is not a purpose of the convenant.")
    return request_context(purpose)


def _pages() -> tuple[int, int]:
    return int_arg("page", 1, 1, 100_000), int_arg("per_page", 20, 1, 100)


@casework.get("/triage")
def triage() -> Response:
    """The triage queue: cases in track signaal with DAT-information and matches."""
    asked = request.args.get("purpose") or request.headers.get("X-Purpose") or "triage"
    if asked != "triage":
        raise Problem(
            403,
            "purpose_not_for_endpoint",
            "The triage queue serves the purpose 'triage' only.",
        )
    ctx = request_context("triage")
    page, per_page = _pages()
    return jsonify(triage_queue(db_session(), runtime(), ctx, page, per_page))


@casework.post("/cases/<case_id>/case-director")
def cases_director(case_id: str) -> Response:
    """Name or change the case director (coordinator)."""
    body = json_body()
    ctx = _purpose_or("casusoverleg")
    return jsonify(name_case_director(db_session(), runtime(), ctx, case_id_arg(case_id), body))


@casework.post("/cases/<case_id>/close")
def cases_close(case_id: str) -> Response:
    """Close the case with a reason (coordinator)."""
    body = json_body()
    ctx = _purpose_or("uitvoering")
    return jsonify(close_case(db_session(), runtime(), ctx, case_id_arg(case_id), body))


@casework.get("/cases/<case_id>/history")
def cases_history(case_id: str) -> Response:
    """Who decided what about the case, when and why (case team)."""
    ctx = request_context(purpose_arg())
    return jsonify(case_history(db_session(), runtime(), ctx, case_id_arg(case_id)))


@casework.get("/cases/<case_id>/plan")
def plan_get(case_id: str) -> Response:
    """The plan of approach, newest version or ?version=N (case team)."""
    ctx = request_context(purpose_arg())
    version = int_arg("version", 0, 1, 1_000_000) if "version" in request.args else None
    return jsonify(read_plan(db_session(), runtime(), ctx, case_id_arg(case_id), version))


@casework.put("/cases/<case_id>/plan")
def plan_put(case_id: str) -> tuple[Response, int]:
    """Save a new version of the plan of approach (coordinator or case director); with
    ?base_version=N only when N is still the newest version (else 409 plan_changed)."""
    body = json_body()
    ctx = _purpose_or("casusoverleg")
    base = int_arg("base_version", 0, 0, 1_000_000) if "base_version" in request.args else None
    plan = write_plan(db_session(), runtime(), ctx, case_id_arg(case_id), body, base_version=base)
    response = jsonify(plan)
    response.headers["Location"] = f"/api/v1/cases/{plan['case_id']}/plan?version={plan['version']}"
    return response, 201


@casework.get("/cases/<case_id>/plan/versions")
def plan_versions_list(case_id: str) -> Response:
    """The versions of the plan of approach (case team)."""
    ctx = request_context(purpose_arg())
    return jsonify(plan_versions(db_session(), runtime(), ctx, case_id_arg(case_id)))


@casework.get("/notifications")
def notifications_list() -> Response:
    """The caller's own notifications, newest first; ?unread=true for the unread ones."""
    unread = request.args.get("unread", "false")
    if unread not in ("true", "false"):
        raise Problem(400, "bad_parameter", "unread must be true or false.")
    ctx = request_context(None)
    page, per_page = _pages()
    return jsonify(
        list_notifications(db_session(), runtime(), ctx, unread == "true", page, per_page)
    )


@casework.post("/notifications/<notification_id>/read")
def notifications_read(notification_id: str) -> Response:
    """Mark one of the caller's own notifications read."""
    if not notification_id.isascii() or not notification_id.isdigit() or len(notification_id) > 18:
        raise Problem(404, "notification_not_found", "There is no notification with this id.")
    ctx = request_context(None)
    return jsonify(mark_notification_read(db_session(), runtime(), ctx, int(notification_id)))
