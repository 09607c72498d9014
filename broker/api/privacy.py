"""The privacy officer's API: audit log, verification, checkpoints, anomalies, access reports —
each endpoint declared once (`broker.api.declare`) for its checks and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request

from audit import ACTIONS, OUTCOMES, AuditEntryError, AuditQuery, looks_like_bsn
from broker.core.auth import choose_role, request_id, source_address
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import db_session, read_session, runtime
from broker.identity.subjects import is_valid_bsn, subject_key
from broker.privacy.access_report import access_report
from broker.privacy.anomalies import anomalies
from broker.privacy.audit_log import (
    checkpoint_dict,
    checkpoint_now,
    public_key_pem,
    query_audit,
    verification_entry,
    verification_problem,
    verify_log,
)

from . import responses as out
from .declare import Answer, Operation, Param, RulesParam, declare
from .requests import authenticate_request, current_actor

__all__ = ["officer_context", "privacy"]


privacy = Blueprint("privacy", __name__, url_prefix="/api/v1")
privacy.before_request(authenticate_request)

NAME = "[a-z][a-z0-9_.]{0,63}"
_TOKEN = "[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}"
_NOT_A_BSN = " A value that looks like a BSN is refused: search a young person with bsn=."


def _filter(name: str, pattern: str, description: str) -> Param:
    return Param(
        name,
        pattern=pattern,
        status=422,
        code="invalid_filters",
        description=description + _NOT_A_BSN,
    )


def _bsn(status: int, code: str, required: bool = False) -> RulesParam:
    return RulesParam(
        "bsn",
        required=required,
        status=status,
        code=code,
        rules=lambda rt: rt.validator.field_rules["bsn"],
        description="The young person's BSN (nine digits passing the eleven-check); turned "
        "into the young person's keyed pseudonym on the server.",
    )


_FILTERS = {
    "person": _filter("person", _TOKEN, "A person's username"),
    "party": _filter("party", NAME, "A party"),
    "purpose": _filter("purpose", NAME, "A purpose"),
    "event": _filter("event", NAME, "An event (case.view, signal.create, …)"),
    "case_id": _filter("case_id", _TOKEN, "A case"),
}
_ACTION = Param("action", enum=sorted(ACTIONS), status=422, code="invalid_filters")
_OUTCOME = Param("outcome", enum=sorted(OUTCOMES), status=422, code="invalid_filters")
_AUDIT_BSN = _bsn(422, "invalid_filters")
_SINCE = Param(
    "since", "date-time", status=422, code="invalid_period", description="From (inclusive)"
)
_UNTIL = Param(
    "until", "date-time", status=422, code="invalid_period", description="Until (exclusive)"
)
_AFTER_SEQ = Param("after_seq", "integer", default=0, minimum=0, maximum=2**62)
_LIMIT = Param("limit", "integer", default=100, minimum=1, maximum=1000)
_DEEP = Param("deep", "boolean", default=False, description="Also check every stored column")
_REPORT_BSN = _bsn(422, "invalid_bsn", required=True)
_FORMAT = Param("format", enum=("json", "html"), default="json")


def officer_context(purpose: str) -> Context:
    """The privacy officer acting for `purpose` (403 for anyone else)."""
    actor = current_actor()
    asked = request.headers.get("X-Purpose") or purpose
    if asked != purpose:
        raise Problem(
            403,
            "purpose_not_for_endpoint",
            f"This endpoint serves the purpose {purpose!r}, not {asked!r}.",
        )
    role = choose_role(runtime().convenant, actor, purpose)
    g.purpose, g.role = purpose, role
    return Context(actor, request_id(), source_address(), role=role, purpose=purpose)


def _subject(param: RulesParam) -> str | None:
    """The keyed pseudonym of the BSN asked for (None when none is); 422 for a bad one."""
    bsn = param.read()
    if bsn is None:
        return None
    if not is_valid_bsn(bsn):
        raise param.refusal("is not a valid BSN (eleven-check)")
    return subject_key(runtime().subject_secret, bsn=bsn)


@privacy.get("/audit")
@declare(
    Operation(
        "Audit records (privacy officer, purpose toezicht)",
        (Answer(200, "A page of records (names, never values)", out.AUDIT_PAGE),),
        description="Filters combine with AND. Paged by after_seq (next_after_seq).",
        params=(
            _AUDIT_BSN,
            *_FILTERS.values(),
            _ACTION,
            _OUTCOME,
            _SINCE,
            _UNTIL,
            _AFTER_SEQ,
            _LIMIT,
        ),
        problems=(400, 403, 422),
    )
)
def audit_query() -> Response:
    """Audit records by BSN (pseudonymised here), person, party, purpose, action, outcome,
    event, case and time range; paged by after_seq."""
    ctx = officer_context("toezicht")
    subject = _subject(_AUDIT_BSN)
    filters: dict[str, Any] = {}
    for name, param in _FILTERS.items():
        key = "person_id" if name == "person" else name
        value = param.read()
        if value is not None and looks_like_bsn(value):
            raise param.refusal("looks like a BSN: search a young person with bsn=")
        if value is not None:
            filters[key] = value
    for param in (_ACTION, _OUTCOME):
        if (value := param.read()) is not None:
            filters[param.name] = value
    try:
        query = AuditQuery(
            subject=subject,
            since=_SINCE.read(),
            until=_UNTIL.read(),
            after_seq=_AFTER_SEQ.read(),
            limit=_LIMIT.read(),
            **filters,
        )
    except AuditEntryError as exc:
        raise Problem(422, "invalid_filters", str(exc)) from None
    result = query_audit(db_session(), runtime(), ctx, query, bsn_given=subject is not None)
    return jsonify(result)


@privacy.get("/audit/verify")
@declare(
    Operation(
        "Verify the log whole: every column of every record, the chain, the tree, purged "
        "records and what lies past the head, against the kept checkpoints",
        (Answer(200, "Intact, or the first bad seq and why", out.VERIFICATION),),
        params=(_DEEP,),
        problems=(400, 403, 503),
    )
)
def audit_verify() -> Response:
    """Verify the log whole against the kept checkpoints: every column of every record, the
    chain, the tree, purged records and what lies past the head. A log that cannot be
    appended to answers 503 with what the verification found."""
    ctx = officer_context("toezicht")
    deep = _DEEP.read()
    rt = runtime()
    session = db_session()
    session.rollback()  # end the request's transaction: on SQLite it holds the write lock
    with read_session() as reader:
        result = verify_log(reader, rt, deep=deep)
    try:
        audit_and_commit(session, rt, [verification_entry(ctx, result)])
    except Problem:
        raise verification_problem(result) from None
    return jsonify(result.as_dict())


@privacy.get("/audit/checkpoints")
@declare(
    Operation(
        "The signed checkpoints and the public key that verifies them",
        (Answer(200, "The checkpoints", out.CHECKPOINTS),),
        problems=(403,),
    )
)
def audit_checkpoints() -> Response:
    """The kept signed checkpoints and the public key that verifies them."""
    ctx = officer_context("toezicht")
    rt = runtime()
    session = db_session()
    kept = rt.audit.checkpoints(session)
    entry = ctx.entry("audit.checkpoints", "read", "success", detail={"count": len(kept)})
    audit_and_commit(session, rt, [entry])
    return jsonify(
        {"public_key": public_key_pem(rt), "checkpoints": [checkpoint_dict(c) for c in kept]}
    )


@privacy.post("/audit/checkpoints")
@declare(
    Operation(
        "Sign a checkpoint of the current head now",
        (Answer(201, "The checkpoint", out.CHECKPOINT),),
        problems=(403,),
    )
)
def audit_checkpoint_now() -> tuple[Response, int]:
    """Sign a checkpoint of the current head now."""
    ctx = officer_context("toezicht")
    checkpoint = checkpoint_now(db_session(), runtime(), ctx)
    return jsonify(checkpoint_dict(checkpoint)), 201


@privacy.get("/audit/anomalies")
@declare(
    Operation(
        "Refused attempts, access outside the case team, bulk views, views outside office hours",
        (Answer(200, "The anomalies of the period", out.ANOMALIES),),
        description="The period: since (default: until less 7 days) to until (default: now).",
        params=(_SINCE, _UNTIL),
        problems=(400, 403),
    )
)
def audit_anomalies() -> Response:
    """Refused attempts, access outside the case team, bulk views, views outside office hours."""
    ctx = officer_context("toezicht")
    rt = runtime()
    until = _UNTIL.read() or dt.datetime.now(dt.UTC)
    since = _SINCE.read() or until - dt.timedelta(days=7)
    config = current_app.config
    return jsonify(
        anomalies(
            db_session(),
            rt,
            ctx,
            since,
            until,
            config["OFFICE_HOURS"],
            int(config["BULK_VIEW_LIMIT"]),
        )
    )


@privacy.get("/subjects/access-report")
@declare(
    Operation(
        "Access report for a young person (privacy officer, purpose inzageverzoek)",
        (
            Answer(200, "Data held, from whom, and every disclosure", out.ACCESS_REPORT),
            Answer(200, "The printable report (?format=html)", None, "text/html"),
        ),
        params=(_REPORT_BSN, _FORMAT),
        problems=(400, 403, 422),
    )
)
def subject_access_report() -> Response | str:
    """For a data subject's access request: data held, from whom, and every disclosure.

    `?format=html` gives the printable page.
    """
    ctx = officer_context("inzageverzoek")
    bsn = _REPORT_BSN.read()
    if not is_valid_bsn(bsn):
        raise _REPORT_BSN.refusal("is not a valid BSN (eleven-check)")
    html = _FORMAT.read() == "html"
    report = access_report(db_session(), runtime(), ctx, bsn)
    if html:
        return render_template(
            "access_report.html",
            report=report,
            convenant=runtime().convenant,
            officer=current_actor(),
        )
    return jsonify(report)
