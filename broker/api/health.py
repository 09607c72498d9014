"""Liveness and readiness for the operator's load balancer and monitoring: /healthz answers while
the process runs; /readyz when the database answers and the audit log's head can be read.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from broker.core.runtime import db_session, runtime

from . import responses as out
from .declare import Answer, Operation, declare

__all__ = [
    "health",
    "healthz",
    "readyz",
]


health = Blueprint("health", __name__)


@health.get("/healthz")
@declare(Operation("Liveness: the process answers", (Answer(200, "ok", out.HEALTH),), public=True))
def healthz() -> Response:
    """Liveness: the process answers."""
    return jsonify({"status": "ok"})


@health.get("/readyz")
@declare(
    Operation(
        "Readiness: the database answers and the audit log's head can be read",
        (Answer(200, "Ready", out.READY), Answer(503, "Not ready", out.READY)),
        public=True,
    )
)
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
