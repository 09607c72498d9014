"""The monitoring figures under /api/v1/stats: the coordinator, purpose `uitvoering`."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from broker.casework.services import Context
from broker.core.auth import Actor, choose_role, request_id, source_address
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime
from broker.figures.stats import PURPOSE, ROLE, StatsRequestError, parse_request, stats_report
from broker.storage.models import utcnow

from .cases import authenticate_request, current_actor

__all__ = ["coordinator_context", "stats"]

stats = Blueprint("stats", __name__, url_prefix="/api/v1")
stats.before_request(authenticate_request)


def coordinator_context(actor: Actor, asked: str | None) -> Context:
    """The coordinator acting for the purpose `uitvoering` (403 when another purpose is asked
    or the actor is not the coordinator); the request's purpose and role are kept in `g` for
    its audit record. The API and the monitoring page share it."""
    if asked is not None and asked != PURPOSE:
        raise Problem(
            403,
            "purpose_not_for_endpoint",
            f"The monitoring figures serve the purpose {PURPOSE!r}.",
        )
    g.purpose = PURPOSE
    role = runtime().convenant.roles.get(ROLE)
    if ROLE not in actor.roles or role is None or actor.party not in role.parties:
        raise Problem(403, "coordinator_only", "Only the coordinator asks for the figures.")
    g.role = choose_role(runtime().convenant, actor, PURPOSE, ROLE)
    return Context(actor, request_id(), source_address(), role=g.role, purpose=PURPOSE)


def _context() -> Context:
    """The API's caller as the coordinator, for the purpose asked (query or X-Purpose)."""
    asked = request.args.get("purpose") or request.headers.get("X-Purpose")
    return coordinator_context(current_actor(), asked)


@stats.get("/stats")
def stats_get() -> Response:
    """Young people per track and per wijk, cases started and ended, and the median days to
    triage, for the range and each month (or quarter) in it; small counts suppressed."""
    ctx = _context()
    try:
        asked = parse_request(
            request.args.get("from"), request.args.get("to"), request.args.get("by")
        )
    except StatsRequestError as exc:
        raise Problem(
            422,
            exc.code,
            "The period is not valid: from the first day of a month to the last day of a "
            "month, at most five years, by month or quarter.",
            errors=exc.errors,
        ) from None
    return jsonify(stats_report(db_session(), runtime(), ctx, asked, utcnow()))
