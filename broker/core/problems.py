"""RFC 9457 problem details: one exception type and one handler for every error response."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

import structlog
from flask import Flask, Response, g, json, request
from werkzeug.exceptions import HTTPException

__all__ = ["Problem", "init_app", "problem_response"]

PROBLEM_TYPE_BASE = "https://multiteam-broker.example/problems/"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_OUTCOMES = {
    401: "unauthorized",
    403: "denied",
    404: "not_found",
    409: "conflict",
    413: "invalid",
    429: "denied",
    400: "invalid",
    422: "invalid",
    415: "invalid",
    405: "invalid",
}


class Problem(Exception):
    """An error response: status, a stable `code`, a human `detail`, optional extra members.

    The detail and extras name fields and rules — never a field's value.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        audit: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra
        # What the refusal's audit record should add (subject, case id, reason): never shown.
        self.audit = audit or {}
        # Response headers the problem needs (Retry-After): never a value either.
        self.headers = dict(headers or {})

    @property
    def outcome(self) -> str:
        """The audit outcome this problem stands for."""
        return _OUTCOMES.get(self.status, "error")


def problem_response(status: int, code: str, detail: str, **extra: Any) -> Response:
    """An application/problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        "instance": request.path if request else None,
    }
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="multiteam-broker"'
    return response


def init_app(app: Flask) -> None:
    """Answer every error, expected or not, as problem+json."""
    log = structlog.get_logger("broker")

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        g.problem = exc
        response = problem_response(exc.status, exc.code, exc.detail, **exc.extra)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "request_too_large",
            415: "unsupported_media_type",
        }.get(status, "http_error")
        detail = {
            404: "There is no such resource.",
            405: f"{request.method} is not allowed here.",
            413: f"The request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes.",
        }.get(status, exc.description or _TITLES.get(status, "Error"))
        g.problem = Problem(status, code, detail)
        response = problem_response(status, code, detail)
        # A 405 names the methods the resource has (RFC 9110 §15.5.6): Werkzeug's Allow header
        response.headers.update({k: v for k, v in exc.get_headers() if k.lower() == "allow"})
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Only the exception type and where it was raised: an exception's message can carry
        # values (SQL parameters, a field's content), and those never reach a log line.
        frames = traceback.extract_tb(exc.__traceback__)[-6:]
        log.error(
            "unhandled_error",
            error_type=type(exc).__name__,
            where=[f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in frames],
        )
        g.problem = Problem(500, "internal_error", "An unexpected error occurred.")
        return problem_response(
            500, "internal_error", "An unexpected error occurred; it has been logged."
        )
