"""Logs and refusal audits at the edge: one JSON line per request, never a field value."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import structlog
from flask import Flask, Response, g, request
from sqlalchemy.exc import SQLAlchemyError

from audit import AuditEntry, AuditError

from .auth import request_id, source_address
from .context import Context
from .problems import Problem, problem_response
from .runtime import runtime

__all__ = ["audit_apart", "configure_logging", "init_app"]

# Which audit event and action a refusal on each endpoint stands for.
EVENTS = {
    "api.signals_create": ("signal.create", "create"),
    "api.cases_list": ("case.list", "search"),
    "api.cases_get": ("case.view", "read"),
    "api.cases_track": ("track.change", "update"),
    "api.convenant_explain": ("convenant.explain", "read"),
    "api.convenant_info": ("convenant.read", "read"),
    "privacy.audit_query": ("audit.query", "search"),
    "privacy.audit_verify": ("audit.verify", "execute"),
    "privacy.audit_checkpoints": ("audit.checkpoints", "read"),
    "privacy.audit_checkpoint_now": ("audit.checkpoint", "create"),
    "privacy.audit_anomalies": ("audit.anomalies", "search"),
    "proofs.log_checkpoint": ("audit.log_checkpoint", "read"),
    "proofs.inclusion_proof": ("audit.inclusion_proof", "read"),
    "proofs.consistency_proof": ("audit.consistency_proof", "read"),
    "privacy.subject_access_report": ("subject.access_report", "read"),
    "rights.corrections_create": ("subject.correction", "update"),
    "rights.signals_delete": ("signal.delete", "delete"),
    "rights.objections_create": ("subject.objection", "create"),
    "rights.objections_list": ("subject.objections", "read"),
    "rights.objections_lift": ("subject.objection_lift", "update"),
    "rights.cases_explain": ("case.explain", "read"),
    "casework.triage": ("triage.list", "search"),
    "casework.cases_director": ("case_director.change", "update"),
    "casework.cases_close": ("case.close", "update"),
    "casework.cases_history": ("case.history", "read"),
    "casework.plan_get": ("plan.view", "read"),
    "casework.plan_put": ("plan.write", "create"),
    "casework.plan_versions_list": ("plan.versions", "read"),
    "casework.notifications_list": ("notification.list", "search"),
    "casework.notifications_read": ("notification.read", "update"),
    "stats.stats_get": ("stats.read", "read"),
}
UNAUDITED = {"api.openapi"}


def configure_logging(level: str = "INFO") -> None:
    """structlog JSON lines on stdout."""
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level, force=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(),  # whatever sys.stdout is then
        cache_logger_on_first_use=False,
    )


def _audit_refusal(problem: Problem) -> bool:
    """Write the audit record of a refused API request; False when it could not be written."""
    event, action = EVENTS.get(request.endpoint or "", ("api.request", "read"))
    rt = runtime()
    ctx = Context(
        g.get("actor"), request_id(), source_address(), role=g.get("role"), purpose=g.get("purpose")
    )
    extra = {k: v for k, v in problem.audit.items() if k in ("subject", "case_id")}
    detail: dict[str, Any] = {"status": problem.status, "code": problem.code}
    detail.update({k: v for k, v in problem.audit.items() if k in ("reason", "track", "problems")})
    try:
        entry = ctx.entry(
            event,
            action,
            problem.outcome,
            convenant_hash=rt.convenant.hash,
            detail=detail,
            **{k: v for k, v in extra.items() if v},
        )
    except AuditError:
        return False
    return audit_apart(entry)


def audit_apart(entry: AuditEntry) -> bool:
    """Write one audit record in a transaction of its own, after ending the request's (on
    SQLite that holds the write lock); False when it could not be written."""
    request_session = g.pop("db_session", None)
    if request_session is not None:
        request_session.rollback()
        request_session.close()
    rt = runtime()
    session = rt.sessions()
    try:
        rt.audit.append(session, [entry])
        session.commit()
        return True
    except (AuditError, SQLAlchemyError, OSError):
        session.rollback()
        return False
    finally:
        session.close()


def init_app(app: Flask) -> None:
    """Time every request, audit every refused API request, log one line per request."""
    log = structlog.get_logger("broker.request")

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        request_id()

    @app.after_request
    def _finish(response: Response) -> Response:
        problem: Problem | None = g.get("problem")
        if (
            problem is not None
            and request.path.startswith("/api/")
            and request.endpoint not in UNAUDITED
            and not problem.audit.get("skip")
            and problem.status < 500
            and not _audit_refusal(problem)
        ):
            g.problem = Problem(503, "audit_unavailable", "The audit log could not be written.")
            response = problem_response(
                503,
                "audit_unavailable",
                "The audit log could not be written; the request was refused.",
            )
        actor = g.get("actor")
        outcome = g.problem.outcome if g.get("problem") else "success"
        log.info(
            "request",
            request_id=g.get("request_id"),
            method=request.method,
            route=request.url_rule.rule if request.url_rule else None,
            status=response.status_code,
            person=actor.username if actor and not actor.is_client else None,
            client_id=actor.client_id if actor else None,
            party=actor.party if actor else None,
            role=g.get("role"),
            purpose=g.get("purpose"),
            outcome=outcome,
            code=g.problem.code if g.get("problem") else None,
            latency_ms=round(
                (time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2
            ),
        )
        if g.get("request_id"):
            response.headers["X-Request-ID"] = g.request_id
        return response
