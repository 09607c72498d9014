"""The coordinator's work under /api/v1: triage queue, tracks, case director, closing, history,
notifications and the plan of approach — thin adapters from HTTP to `broker.casework`, each
declared once (`broker.api.declare`) for its checks and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from broker.casework.notifications import list_notifications, mark_notification_read
from broker.casework.plan import plan_versions, read_plan, write_plan
from broker.casework.schemas import body_schema
from broker.casework.tracks import case_history, close_case, name_case_director
from broker.casework.triage import triage_queue
from broker.core.runtime import db_session, runtime

from . import responses as out
from .declare import Answer, Operation, Param, declare
from .requests import (
    CASE_ID,
    PAGE,
    PER_PAGE,
    PURPOSE,
    ROLE,
    PurposeParam,
    authenticate_request,
    json_body,
    request_context,
    write_purpose,
)

__all__ = ["casework"]


casework = Blueprint("casework", __name__, url_prefix="/api/v1")
casework.before_request(authenticate_request)

_TRIAGE = PurposeParam(
    "purpose",
    default="triage",
    enum=("triage",),
    only=True,
    description="The triage queue serves the purpose triage only (also X-Purpose).",
)
_DIRECTOR_PURPOSE = write_purpose("casusoverleg")
_CLOSE_PURPOSE = write_purpose("uitvoering")
_PLAN_PURPOSE = write_purpose("casusoverleg")
_VERSION = Param(
    "version", "integer", minimum=1, maximum=1_000_000, description="A version (default: newest)"
)
_BASE_VERSION = Param(
    "base_version",
    "integer",
    minimum=0,
    maximum=1_000_000,
    description="The version these changes start from (0: none); when another version was "
    "saved since, nothing is saved: 409 plan_changed with newest_version.",
)
_UNREAD = Param("unread", "boolean", default=False, description="Only the unread ones")
_NOTIFICATION_ID = Param(
    "notification_id",
    where="path",
    pattern="[0-9]{1,18}",
    status=404,
    code="notification_not_found",
)
_CASE_TEAM_READ = (CASE_ID, PURPOSE, ROLE)


@casework.get("/triage")
@declare(
    Operation(
        "The triage queue (coordinator, purpose triage)",
        (Answer(200, "A page of the queue", out.TRIAGE_QUEUE),),
        description="Open cases in track signaal with DAT-information only: which parties "
        "signalled and when, which categories hold data, the identification the convenant "
        "shows for triage, and matches as the Verwijsindex flags them (second_party, address, "
        "parent) with the other case's id, never the value that matched. Every listed case is "
        "audited.",
        params=(_TRIAGE, PAGE, PER_PAGE),
        problems=(400, 403),
    )
)
def triage() -> Response:
    """The triage queue: cases in track signaal with DAT-information and matches."""
    purpose = _TRIAGE.read()
    page, per_page = PAGE.read(), PER_PAGE.read()
    ctx = request_context(purpose)
    return jsonify(triage_queue(db_session(), runtime(), ctx, page, per_page))


@casework.post("/cases/<case_id>/case-director")
@declare(
    Operation(
        "Name or change the case director (coordinator)",
        (Answer(200, "The case's track and case director", out.CASE_DIRECTOR),),
        params=(CASE_ID, _DIRECTOR_PURPOSE, ROLE),
        body=lambda rt: body_schema("director", rt.convenant),
        problems=(403, 404, 409, 422),
    )
)
def cases_director(case_id: str) -> Response:
    """Name or change the case director (coordinator)."""
    case, body = CASE_ID.read(), json_body()
    ctx = request_context(_DIRECTOR_PURPOSE.read())
    return jsonify(name_case_director(db_session(), runtime(), ctx, case, body))


@casework.post("/cases/<case_id>/close")
@declare(
    Operation(
        "Close the case with a reason (coordinator)",
        (Answer(200, "The closed case", out.CASE_CLOSED),),
        params=(CASE_ID, _CLOSE_PURPOSE, ROLE),
        body=lambda rt: body_schema("close", rt.convenant),
        problems=(403, 404, 409, 422),
    )
)
def cases_close(case_id: str) -> Response:
    """Close the case with a reason (coordinator)."""
    case, body = CASE_ID.read(), json_body()
    ctx = request_context(_CLOSE_PURPOSE.read())
    return jsonify(close_case(db_session(), runtime(), ctx, case, body))


@casework.get("/cases/<case_id>/history")
@declare(
    Operation(
        "Who decided what about the case, when and why (case team)",
        (Answer(200, "Track, director and close steps, oldest first", out.CASE_HISTORY),),
        params=_CASE_TEAM_READ,
        problems=(400, 403, 404),
    )
)
def cases_history(case_id: str) -> Response:
    """Who decided what about the case, when and why (case team)."""
    ctx = request_context(PURPOSE.read())
    return jsonify(case_history(db_session(), runtime(), ctx, CASE_ID.read()))


@casework.get("/cases/<case_id>/plan")
@declare(
    Operation(
        "The plan of approach, newest version or ?version=N (case team)",
        (Answer(200, "The newest version, or the one asked", out.PLAN),),
        params=(*_CASE_TEAM_READ, _VERSION),
        problems=(400, 403, 404),
    )
)
def plan_get(case_id: str) -> Response:
    """The plan of approach, newest version or ?version=N (case team)."""
    ctx = request_context(PURPOSE.read())
    version = _VERSION.read()
    return jsonify(read_plan(db_session(), runtime(), ctx, CASE_ID.read(), version))


@casework.put("/cases/<case_id>/plan")
@declare(
    Operation(
        "Save a new version of the plan of approach (coordinator or case director)",
        (Answer(201, "The new version; Location names it", out.PLAN),),
        params=(CASE_ID, _PLAN_PURPOSE, ROLE, _BASE_VERSION),
        body=lambda rt: body_schema("plan", rt.convenant),
        problems=(403, 404, 409, 422),
    )
)
def plan_put(case_id: str) -> tuple[Response, int]:
    """Save a new version of the plan of approach (coordinator or case director); with
    ?base_version=N only when N is still the newest version (else 409 plan_changed)."""
    case, body, base = CASE_ID.read(), json_body(), _BASE_VERSION.read()
    ctx = request_context(_PLAN_PURPOSE.read())
    plan = write_plan(db_session(), runtime(), ctx, case, body, base_version=base)
    response = jsonify(plan)
    response.headers["Location"] = f"/api/v1/cases/{plan['case_id']}/plan?version={plan['version']}"
    return response, 201


@casework.get("/cases/<case_id>/plan/versions")
@declare(
    Operation(
        "The versions of the plan of approach (case team)",
        (Answer(200, "Version, author and time of each, newest first", out.PLAN_VERSIONS),),
        params=_CASE_TEAM_READ,
        problems=(400, 403, 404),
    )
)
def plan_versions_list(case_id: str) -> Response:
    """The versions of the plan of approach (case team)."""
    ctx = request_context(PURPOSE.read())
    return jsonify(plan_versions(db_session(), runtime(), ctx, CASE_ID.read()))


@casework.get("/notifications")
@declare(
    Operation(
        "Your own notifications, newest first",
        (Answer(200, "A page of notifications with the unread count", out.NOTIFICATIONS),),
        params=(_UNREAD, PAGE, PER_PAGE),
        problems=(400, 403),
    )
)
def notifications_list() -> Response:
    """The caller's own notifications, newest first; ?unread=true for the unread ones."""
    unread, page, per_page = _UNREAD.read(), PAGE.read(), PER_PAGE.read()
    ctx = request_context(None)
    return jsonify(list_notifications(db_session(), runtime(), ctx, unread, page, per_page))


@casework.post("/notifications/<notification_id>/read")
@declare(
    Operation(
        "Mark one of your notifications read",
        (Answer(200, "The notification", out.NOTIFICATION),),
        params=(_NOTIFICATION_ID,),
        problems=(403, 404),
    )
)
def notifications_read(notification_id: str) -> Response:
    """Mark one of the caller's own notifications read."""
    number = int(_NOTIFICATION_ID.read())
    ctx = request_context(None)
    return jsonify(mark_notification_read(db_session(), runtime(), ctx, number))
