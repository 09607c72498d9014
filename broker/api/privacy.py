"""The privacy officer's API: audit log, verification, checkpoints, anomalies, access reports."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, Response, g, jsonify, render_template, request

from audit import (
    ACTIONS,
    OUTCOMES,
    AuditEntryError,
    AuditQuery,
    looks_like_bsn,
)
from broker.core.auth import choose_role, request_id, source_address
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import db_session, read_session, runtime
from broker.identity.subjects import is_valid_bsn, subject_key
from broker.privacy.access_report import access_report
from broker.privacy.anomalies import anomalies
from broker.privacy.audit_log import (
    AMSTERDAM,
    checkpoint_dict,
    checkpoint_now,
    public_key_pem,
    query_audit,
    verification_entry,
    verification_problem,
    verify_log,
)

from .requests import authenticate_request, current_actor, int_arg

__all__ = ["privacy"]


privacy = Blueprint("privacy", __name__, url_prefix="/api/v1")
privacy.before_request(authenticate_request)

NAME = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


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


def _time_arg(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise Problem(
            400,
            "bad_parameter",
            f"{name} must be an ISO 8601 date or time (e.g. 2026-11-23 or 2026-11-23T08:00+01:00).",
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=AMSTERDAM)


def _bsn_subject(errors: list[dict[str, str]]) -> str | None:
    bsn = request.args.get("bsn")
    if bsn is None:
        return None
    if not is_valid_bsn(bsn):
        errors.append({"field": "bsn", "problem": "is not a valid BSN (eleven-check)"})
        return None
    return subject_key(runtime().subject_secret, bsn=bsn)


@privacy.get("/audit")
def audit_query() -> Response:
    """Audit records by BSN (pseudonymised here), person, party, purpose, action, outcome,
    event, case and time range; paged by after_seq."""
    ctx = officer_context("toezicht")
    errors: list[dict[str, str]] = []
    subject = _bsn_subject(errors)
    filters: dict[str, Any] = {}
    for arg, key, pattern in (
        ("person", "person_id", _TOKEN),
        ("party", "party", NAME),
        ("purpose", "purpose", NAME),
        ("event", "event", NAME),
        ("case_id", "case_id", _TOKEN),
    ):
        value = request.args.get(arg)
        if value is not None:
            if not pattern.match(value):
                errors.append({"field": arg, "problem": "has the wrong format"})
            elif looks_like_bsn(value):
                errors.append(
                    {"field": arg, "problem": "looks like a BSN: search a young person with bsn="}
                )
            filters[key] = value
    for arg, allowed in (("action", ACTIONS), ("outcome", OUTCOMES)):
        value = request.args.get(arg)
        if value is not None:
            if value not in allowed:
                errors.append({"field": arg, "problem": f"must be one of {sorted(allowed)}"})
            filters[arg] = value
    if errors:
        raise Problem(422, "invalid_filters", "The audit query is not valid.", errors=errors)
    try:
        query = AuditQuery(
            subject=subject,
            since=_time_arg("since"),
            until=_time_arg("until"),
            after_seq=int_arg("after_seq", 0, 0, 2**62),
            limit=int_arg("limit", 100, 1, 1000),
            **filters,
        )
    except AuditEntryError as exc:
        raise Problem(422, "invalid_filters", str(exc)) from None
    result = query_audit(db_session(), runtime(), ctx, query, bsn_given=subject is not None)
    return jsonify(result)


@privacy.get("/audit/verify")
def audit_verify() -> Response:
    """Verify the log whole against the kept checkpoints: every column of every record, the
    chain, the tree, purged records and what lies past the head. A log that cannot be
    appended to answers 503 with what the verification found."""
    ctx = officer_context("toezicht")
    rt = runtime()
    session = db_session()
    session.rollback()  # end the request's transaction: on SQLite it holds the write lock
    with read_session() as reader:
        result = verify_log(reader, rt, deep=request.args.get("deep") in ("1", "true"))
    try:
        audit_and_commit(session, rt, [verification_entry(ctx, result)])
    except Problem:
        raise verification_problem(result) from None
    return jsonify(result.as_dict())


@privacy.get("/audit/checkpoints")
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
def audit_checkpoint_now() -> tuple[Response, int]:
    """Sign a checkpoint of the current head now."""
    ctx = officer_context("toezicht")
    checkpoint = checkpoint_now(db_session(), runtime(), ctx)
    return jsonify(checkpoint_dict(checkpoint)), 201


@privacy.get("/audit/anomalies")
def audit_anomalies() -> Response:
    """Refused attempts, access outside the case team, bulk views, views outside office hours."""
    ctx = officer_context("toezicht")
    rt = runtime()
    until = _time_arg("until") or dt.datetime.now(dt.UTC)
    since = _time_arg("since") or until - dt.timedelta(days=7)
    from flask import current_app

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
def subject_access_report() -> Response | str:
    """For a data subject's access request: data held, from whom, and every disclosure.

    `?format=html` gives the printable page.
    """
    ctx = officer_context("inzageverzoek")
    bsn = request.args.get("bsn", "")
    if not is_valid_bsn(bsn):
        raise Problem(
            422,
            "invalid_bsn",
            "bsn must be a valid BSN (eleven-check).",
            errors=[{"field": "bsn", "problem": "is not a valid BSN"}],
        )
    report = access_report(db_session(), runtime(), ctx, bsn)
    if request.args.get("format") == "html":
        return render_template(
            "access_report.html",
            report=report,
            convenant=runtime().convenant,
            officer=current_actor(),
        )
    return jsonify(report)
