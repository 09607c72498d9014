"""The web pages' blueprint and what every page shares: the navigation per role, the security
headers, refusals rendered as pages (and audited), and the template helpers.

Pages of another role plug in the same way the case worker's and the privacy officer's do:
routes on `web`, `register_nav(...)` for their menu items, `register_home(...)` for the page a
role starts on, and `REFUSAL_EVENTS` for the audit event a refused request stands for. A page
that shows a refusal itself (a form with its problems) audits it with `audit_shown`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    make_response,
    render_template,
    request,
    session,
)
from werkzeug.exceptions import HTTPException

from audit import AuditError
from broker.core.auth import request_id, source_address
from broker.core.context import Context
from broker.core.observability import audit_apart
from broker.core.problems import Problem
from broker.core.runtime import runtime
from broker.privacy.audit_log import AMSTERDAM

from .i18n import (
    BADGE_LABELS,
    CHANGE_KINDS,
    EFFECT_LABELS,
    OUTCOME_LABELS,
    ROLE_LABELS,
    gettext,
    language,
    problem_message,
)

__all__ = [
    "HOME",
    "NAV",
    "REFUSAL_EVENTS",
    "NavItem",
    "audit_shown",
    "csrf_ok",
    "csrf_token",
    "home_endpoint",
    "nav_for",
    "page",
    "register_home",
    "register_nav",
    "web",
]

web = Blueprint("web", __name__)

CSRF_KEY = "web_csrf"  # in the session (the login form of the authorization server has its own)
CSRF_FIELD = "csrf_token"  # in every form that posts

# Pages: scripts and styles only from our own static folder, no inline code, never in a frame,
# forms only to ourselves, no referrer to anyone, nothing cached (they hold personal data).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass(frozen=True)
class NavItem:
    """A menu item: the page, its label (Dutch; translated when shown), the roles that see it,
    and the endpoints that count as being on it."""

    endpoint: str
    label: str
    roles: frozenset[str]
    order: int = 100
    also: frozenset[str] = field(default_factory=frozenset)

    def is_current(self, endpoint: str | None) -> bool:
        """Whether the request is on this item's page (or one belonging to it)."""
        return endpoint == self.endpoint or endpoint in self.also


NAV: list[NavItem] = []
# The page each role starts on; a person with several roles starts on the first that matches.
HOME: dict[str, str] = {}


def register_nav(
    endpoint: str, label: str, roles: Iterable[str], order: int = 100, also: Iterable[str] = ()
) -> None:
    """Add a menu item (once per endpoint) for the given roles."""
    if any(item.endpoint == endpoint for item in NAV):
        return
    NAV.append(NavItem(endpoint, label, frozenset(roles), order, frozenset(also)))
    NAV.sort(key=lambda item: (item.order, item.endpoint))


def register_home(role: str, endpoint: str) -> None:
    """The page a role starts on after logging in."""
    HOME[role] = endpoint


def nav_for(roles: Iterable[str]) -> list[NavItem]:
    """The menu of a person with these roles."""
    held = set(roles)
    return [item for item in NAV if held & item.roles]


def home_endpoint(roles: Iterable[str]) -> str | None:
    """Where a person with these roles starts (None when no page is for them)."""
    for role in roles:
        if role in HOME:
            return HOME[role]
    return None


# Which audit event and action a refused request on each page stands for.
REFUSAL_EVENTS: dict[str, tuple[str, str]] = {}


def audit_refusal(problem: Problem) -> bool:
    """Write the audit record of a refused page request; False when it could not be written."""
    event, action = REFUSAL_EVENTS.get(request.endpoint or "", ("web.request", "read"))
    ctx = Context(
        g.get("actor"), request_id(), source_address(), role=g.get("role"), purpose=g.get("purpose")
    )
    extra = {k: v for k, v in problem.audit.items() if k in ("subject", "case_id") and v}
    detail: dict[str, Any] = {"status": problem.status, "code": problem.code}
    detail.update({k: v for k, v in problem.audit.items() if k in ("reason", "track", "problems")})
    try:
        entry = ctx.entry(
            event,
            action,
            problem.outcome,
            convenant_hash=runtime().convenant.hash,
            detail=detail,
            **extra,
        )
    except AuditError:
        return False
    return audit_apart(entry)


def _audited(problem: Problem) -> Problem:
    """Audit a refusal; the problem to show, or one saying the audit log could not be
    written."""
    g.problem = problem
    if problem.status >= 500 or problem.audit.get("skip") or audit_refusal(problem):
        return problem
    failed = Problem(503, "audit_unavailable", "The audit log could not be written.")
    g.problem = failed
    return failed


def audit_shown(problem: Problem) -> None:
    """Audit a refusal that a page shows itself (a form with its problems). When its audit
    record cannot be written, the 503 problem is raised instead, so the page is not shown.

    Writing the record ends the request's session (see `observability.audit_apart`): use
    `db_session()` afterwards, never a session held from before."""
    shown = _audited(problem)
    if shown is not problem:
        raise shown


def page(template: str, http_status: int = 200, /, **context: Any) -> Response:
    """A rendered page (the security headers are added to every response of the blueprint)."""
    return make_response(render_template(template, **context), http_status)


@web.errorhandler(Problem)
def _problem(problem: Problem) -> Response:
    """A refused request as a page, audited like a refused API request."""
    shown = _audited(problem)
    response = page(
        "web/error.html",
        shown.status,
        status=shown.status,
        code=shown.code,
        message=problem_message(shown),
    )
    response.headers.update(shown.headers)
    return response


@web.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    problem = Problem(status, "http_error", exc.description or "")
    g.problem = problem
    return page("web/error.html", status, status=status, code="http_error", message=None)


@web.after_request
def _headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    response.headers.setdefault("Content-Language", language())
    return response


def _local(value: Any, with_time: bool = True) -> str:
    """An ISO time or datetime as Amsterdam time, the Dutch way (23-11-2026 14:05)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        local = value.astimezone(AMSTERDAM)
        return str(local.strftime("%d-%m-%Y %H:%M" if with_time else "%d-%m-%Y"))
    if isinstance(value, dt.date):
        return str(value.strftime("%d-%m-%Y"))
    return str(value)


def _shown(value: Any) -> str:
    """A field's value as text: booleans in words, the rest as they are."""
    if value is True:
        return gettext("ja")
    if value is False:
        return gettext("nee")
    return str(value)


@web.app_template_filter("local")
def _local_filter(value: Any) -> str:
    return _local(value)


@web.app_template_filter("local_date")
def _local_date_filter(value: Any) -> str:
    return _local(value, with_time=False)


@web.app_template_filter("shown")
def _shown_filter(value: Any) -> str:
    return _shown(value)


@web.context_processor
def _helpers() -> dict[str, Any]:
    actor = g.get("actor")
    return {
        "_": gettext,
        "lang": language(),
        "actor": actor,
        "nav": nav_for(actor.roles) if actor is not None else [],
        "convenant": runtime().convenant,
        "effect_labels": EFFECT_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "role_labels": ROLE_LABELS,
        "badge_labels": BADGE_LABELS,
        "change_kinds": CHANGE_KINDS,
        "csrf_token": csrf_token,
        "debug": current_app.debug,
    }


def csrf_token() -> str:
    """The session's CSRF token for the forms (made on first use)."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def csrf_ok() -> bool:
    """Whether the posted form carries the session's CSRF token."""
    expected = session.get(CSRF_KEY)
    given = request.form.get(CSRF_FIELD, "")
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and hmac.compare_digest(given.encode(), expected.encode())
    )
