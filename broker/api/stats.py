"""The monitoring figures under /api/v1/stats: the coordinator, purpose `uitvoering`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify

from broker.core.auth import request_id, source_address
from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime
from broker.figures.periods import PURPOSE, StatsRequestError, coordinator_role, parse_request
from broker.figures.stats import stats_report
from broker.identity.actors import Actor
from broker.storage.models import utcnow

from . import responses as out
from .declare import Answer, Operation, Param, declare
from .requests import PurposeParam, authenticate_request, current_actor

__all__ = ["stats"]


stats = Blueprint("stats", __name__, url_prefix="/api/v1")
stats.before_request(authenticate_request)

_PURPOSE = PurposeParam(
    "purpose",
    default=PURPOSE,
    enum=(PURPOSE,),
    only=True,
    description=f"The figures serve the purpose {PURPOSE} only (also X-Purpose).",
)
_FROM = Param(
    "from",
    "date",
    required=True,
    status=422,
    code="invalid_period",
    description="The first day of a month (years 1900 to 2999).",
)
_TO = Param(
    "to",
    "date",
    required=True,
    status=422,
    code="invalid_period",
    description="The last day of a month; at most 5 years (60 months) from `from`.",
)
_BY = Param("by", enum=("month", "quarter"), default="month", status=422, code="invalid_period")


def request_context() -> Context:
    """The API's caller as the coordinator, for the purpose asked (query or X-Purpose)."""
    return coordinator_context(current_actor(), _PURPOSE.read())


def coordinator_context(actor: Actor, asked: str | None) -> Context:
    """The coordinator acting for the purpose `uitvoering` (403 for another purpose or
    another actor); the purpose and role are kept in `g` for the request's audit record."""
    g.purpose = PURPOSE if asked is None or asked == PURPOSE else None
    g.role = coordinator_role(runtime().convenant, actor, asked)
    return Context(actor, request_id(), source_address(), role=g.role, purpose=PURPOSE)


@stats.get("/stats")
@declare(
    Operation(
        "The monitoring figures (coordinator, purpose uitvoering)",
        (Answer(200, "The figures, suppressed", out.STATS),),
        description="Per period — the whole range, then each month or quarter in it — young "
        "people per track and per wijk, cases started and ended, and the median days from "
        "first signal to triage. Counts under 5 are '<5'; a count shown as 'x' (5 or more) is "
        "withheld so that no '<5' can be worked out from the other figures. Audited as a read "
        "without a subject.",
        params=(_PURPOSE, _FROM, _TO, _BY),
        problems=(403, 422),
    )
)
def stats_get() -> Response:
    """Young people per track and per wijk, cases started and ended, and the median days to
    triage, for the range and each month (or quarter) in it; small counts suppressed."""
    ctx = request_context()
    errors: list[dict[str, str]] = []
    given: dict[str, Any] = {}
    for param in (_FROM, _TO, _BY):
        try:
            given[param.name] = param.read()
        except Problem as exc:  # each parameter's problem, named; then all of them at once
            errors += exc.extra["errors"]
    try:
        if errors:
            raise StatsRequestError(errors)
        first, last = given["from"].isoformat(), given["to"].isoformat()
        asked = parse_request(first, last, given["by"])
    except StatsRequestError as exc:
        raise Problem(
            422,
            exc.code,
            "The period is not valid: from the first day of a month to the last day of a "
            "month, at most five years, by month or quarter.",
            errors=exc.errors,
        ) from None
    return jsonify(stats_report(db_session(), runtime(), ctx, asked, utcnow()))
