"""The monitoring figures under /api/v1/stats: the coordinator, purpose `uitvoering`."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from broker.core.auth import request_id, source_address
from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime
from broker.figures.periods import PURPOSE, StatsRequestError, coordinator_role, parse_request
from broker.figures.stats import stats_report
from broker.identity.actors import Actor
from broker.storage.models import utcnow

from .requests import authenticate_request, current_actor

__all__ = ["stats"]


stats = Blueprint("stats", __name__, url_prefix="/api/v1")
stats.before_request(authenticate_request)


def request_context() -> Context:
    """The API's caller as the coordinator, for the purpose asked (query or X-Purpose)."""
    asked = request.args.get("purpose") or request.headers.get("X-Purpose")
    return coordinator_context(current_actor(), asked)


def coordinator_context(actor: Actor, asked: str | None) -> Context:
    """The coordinator acting for the purpose `uitvoering` (403 for another purpose or
    another actor); the purpose and role are kept in `g` for the request's audit record."""
    g.purpose = PURPOSE if asked is None or asked == PURPOSE else None
    g.role = coordinator_role(runtime().convenant, actor, asked)
    return Context(actor, request_id(), source_address(), role=g.role, purpose=PURPOSE)


@stats.get("/stats")
def stats_get() -> Response:
    """Young people per track and per wijk, cases started and ended, and the median days to
    triage, for the range and each month (or quarter) in it; small counts suppressed."""
    ctx = request_context()
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
