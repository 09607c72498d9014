"""The case worker's pages: my cases, choosing the purpose, the case view with what is shown,
generalised, masked or pseudonymised and what is withheld and why, and submitting a signal.

Every page calls the same services as the API (session, runtime, Context), so every list,
view and signal is decided, audited and committed exactly as there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

import policies
from broker.casework.signals import submit_signal
from broker.casework.views import case_view, list_cases
from broker.core.auth import choose_role, request_id, source_address
from broker.core.context import Context
from broker.core.limits import ViewLimits
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime
from broker.identity.actors import Actor

from .blueprint import REFUSAL_EVENTS, audit_shown, page, register_home, register_nav, web
from .forms import SignalForm
from .session import page_actor

__all__ = [
    "CASE_ROLES",
    "FieldRow",
    "case_purposes",
    "case_rows",
    "known_case_id",
    "page_number",
    "require_case_role",
    "web_context",
]

CASE_ROLES = frozenset({"case_worker", "coordinator"})
PER_PAGE = 20
RECEIPT_KEY = "web_receipt"
CASE_ID = re.compile(r"^case-[0-9a-f]{32}$")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

register_nav("web.cases", "Mijn casussen", CASE_ROLES, order=10, also={"web.case"})
register_nav("web.signal_form", "Signaal melden", CASE_ROLES, order=20, also={"web.signal_submit"})
register_home("case_worker", "web.cases")
REFUSAL_EVENTS.update(
    {
        "web.cases": ("case.list", "search"),
        "web.case": ("case.view", "read"),
        "web.signal_form": ("signal.create", "create"),
        "web.signal_submit": ("signal.create", "create"),
    }
)


def web_context(purpose: str) -> Context:
    """The context of a page request for `purpose`: the person, and the role that may use it
    (403 naming the purpose otherwise)."""
    if not NAME.match(purpose):
        raise Problem(403, "purpose_unknown", "The purpose is not a purpose of the convenant.")
    actor = page_actor()
    g.purpose = purpose
    role = choose_role(runtime().convenant, actor, purpose)
    g.role = role
    return Context(actor, request_id(), source_address(), role=role, purpose=purpose)


def case_purposes(
    actor: Actor, views: frozenset[policies.View] | None = None
) -> list[policies.Purpose]:
    """The purposes this person may open cases for (those that show case content, or those
    of the given views)."""
    c = runtime().convenant
    return [
        p
        for p in c.purposes.values()
        if (p.view in views if views is not None else p.view is not policies.View.NONE)
        and any(r in p.roles and actor.party in c.roles[r].parties for r in actor.roles)
    ]


def require_case_role(actor: Actor) -> None:
    """403 for a person without a role that works on cases."""
    if not CASE_ROLES.intersection(actor.roles):
        raise Problem(403, "role_required", "These pages are for case workers and coordinators.")


def known_case_id(case_id: str) -> str:
    """A case id of the form the broker makes (404 for anything else, before any lookup)."""
    if not CASE_ID.match(case_id):
        raise Problem(404, "case_not_found", "There is no case with this id.")
    return case_id


def page_number() -> int:
    """The page asked for (?page=, 1 when none); 400 for anything but 1 to 100000."""
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100_000:
        raise Problem(400, "bad_parameter", "page must be a whole number from 1 to 100000.")
    return int(raw)


@web.get("/cases")
def cases() -> Response:
    """My cases for a purpose; without one, first the choice of purpose."""
    actor = page_actor()
    require_case_role(actor)
    purpose = request.args.get("purpose")
    if not purpose:
        return page("web/purpose.html", purposes=case_purposes(actor), case_id=None)
    ctx = web_context(purpose)
    number = page_number()
    result = list_cases(db_session(), runtime(), ctx, number, PER_PAGE)
    pages = max(1, -(-result["total"] // PER_PAGE))
    return page(
        "web/cases.html",
        result=result,
        purpose=runtime().convenant.purposes[purpose],
        pages=pages,
    )


@dataclass(frozen=True)
class FieldRow:
    """One field of the case view: what the person sees of it, or why not."""

    name: str
    label: str
    status: str  # show, generalise, mask, pseudonymise, own, withhold, empty
    value: Any = None
    source: dict[str, str] | None = None
    rule: str | None = None
    legal_basis: str | None = None
    special_basis: str | None = None
    reason: str | None = None
    explanation: str | None = None

    @property
    def is_withheld(self) -> bool:
        """Whether the person does not get this field."""
        return self.status == "withhold"


def case_rows(
    c: policies.Convenant, view: dict[str, Any], explained: dict[str, Any]
) -> list[tuple[policies.Category, list[FieldRow]]]:
    """The case view's fields by category, each with its effect or its reason for withholding
    (the withheld list never holds a value, so neither does a row of it)."""
    withheld = {w["field"]: w for w in view["withheld"]}
    why = {f["field"]: f for f in explained["fields"]}
    own = set(view["own_data"])
    grouped = []
    for category in c.categories.values():
        rows = []
        for name in category.fields:
            label = c.fields[name].description or name
            rule = why.get(name, {})
            if name in view["fields"]:
                own_value = name in own
                rows.append(
                    FieldRow(
                        name,
                        label,
                        "own" if own_value else view["effects"][name],
                        view["fields"][name],
                        view["sources"].get(name),
                        rule="EIGEN-GEGEVENS" if own_value else rule.get("rule"),
                        legal_basis=rule.get("legal_basis"),
                        special_basis=rule.get("special_basis"),
                        explanation=rule.get("explanation"),
                    )
                )
            elif name in withheld:
                w = withheld[name]
                rows.append(
                    FieldRow(
                        name,
                        label,
                        "withhold",
                        rule=w["rule"],
                        legal_basis=w["legal_basis"],
                        reason=w["reason"],
                        explanation=rule.get("explanation"),
                    )
                )
            else:
                rows.append(
                    FieldRow(
                        name,
                        label,
                        "empty",
                        rule=rule.get("rule"),
                        legal_basis=rule.get("legal_basis"),
                        explanation=rule.get("explanation"),
                    )
                )
        grouped.append((category, rows))
    return grouped


@web.get("/cases/<case_id>")
def case(case_id: str) -> Response:
    """One case as the convenant lets this person see it, for the purpose chosen first."""
    actor = page_actor()
    require_case_role(actor)
    case_id = known_case_id(case_id)
    purpose = request.args.get("purpose")
    if not purpose:
        return page("web/purpose.html", purposes=case_purposes(actor), case_id=case_id)
    ctx = web_context(purpose)
    rt = runtime()
    config = current_app.config
    limits = ViewLimits(int(config["VIEW_RATE_LIMIT"]), int(config["BULK_VIEW_LIMIT"]))
    view = case_view(db_session(), rt, ctx, case_id, limits)
    assert ctx.role is not None
    explained = policies.explain(rt.convenant, actor.party, ctx.role, purpose, view["track"])
    return page(
        "web/case.html",
        view=view,
        rows=case_rows(rt.convenant, view, explained),
        explained=explained,
        purpose=rt.convenant.purposes[purpose],
        track=rt.convenant.tracks.get(view["track"]),
    )


# ── signals ─────────────────────────────────────────────────────────────────────────────────


def _signal_form(actor: Actor) -> SignalForm:
    require_case_role(actor)
    return SignalForm(runtime().convenant, actor.party)


@web.get("/signals/new")
def signal_form() -> Response:
    """The form for a new signal: who it is about, and the fields your party may supply."""
    form = _signal_form(page_actor())
    receipt = session.pop(RECEIPT_KEY, None)
    return page("web/signal_form.html", form=form, receipt=receipt)


@web.post("/signals/new")
def signal_submit() -> Response:
    """Submit the signal; every problem is shown by its field and nothing is stored."""
    actor = page_actor()
    form = _signal_form(actor)
    form.read(request.form)
    rt = runtime()
    try:
        signal = rt.validator.validate(actor.party, form.body())
    except Problem as problem:
        errors = problem.extra.get("errors")
        if not errors:
            raise  # shown and audited by the pages' error handler
        audit_shown(problem)  # the form shows the problems itself
        form.add_errors(errors)
        return page("web/signal_form.html", 422, form=form, receipt=None)
    ctx = Context(actor, request_id(), source_address())
    receipt = submit_signal(db_session(), rt, ctx, signal)
    session[RECEIPT_KEY] = {
        "case_id": receipt.case_id,
        "signal_id": receipt.signal_id,
        "new_case": receipt.new_case,
    }
    return redirect(url_for("web.signal_form"), 303)
