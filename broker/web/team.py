"""The case team's pages: the plan of approach (read by the case team, written by the
coordinator or the case director, versioned), the case's history, and each person's
notifications.

As everywhere in the pages, each calls the use case the API calls (`broker.casework`), so every
read and write is decided, audited and committed exactly as there.
"""

from __future__ import annotations

import re
from typing import Any

from flask import flash, g, redirect, request, url_for
from werkzeug.wrappers import Response

from broker.casework.notifications import list_notifications, mark_notification_read
from broker.casework.plan import plan_rights, read_plan, write_plan
from broker.casework.tracks import case_history
from broker.core.auth import request_id, source_address
from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime
from policies import View

from .blueprint import REFUSAL_EVENTS, audit_shown, page, register_nav, web
from .cases import (
    CASE_ROLES,
    case_purposes,
    known_case_id,
    page_number,
    require_case_role,
    web_context,
)
from .coordinator import CaseForm
from .forms import iso_date
from .i18n import gettext
from .session import page_actor

__all__ = ["PLAN_LABELS", "PlanForm", "texts"]

PER_PAGE = 20
GOAL_SLOTS = 3  # empty goal inputs offered beyond the plan's goals
AGREEMENT_SLOTS = 3  # empty agreement rows offered beyond the plan's agreements
MAX_GOALS, MAX_AGREEMENTS = 20, 50  # as the use case allows
# The plan form's labels ({n}: the goal's or the agreement's number).
PLAN_LABELS = {
    "concerns": "Zorgen",
    "goal": "Doel {n}",
    "agreement_party": "Partij bij afspraak {n}",
    "agreement": "Afspraak {n}",
    "review_date": "Evaluatiedatum",
}

register_nav("web.notifications", "Meldingen", CASE_ROLES, order=30)
REFUSAL_EVENTS.update(
    {
        "web.plan": ("plan.view", "read"),
        "web.plan_form": ("plan.view", "read"),
        "web.plan_submit": ("plan.write", "create"),
        "web.history": ("case.history", "read"),
        "web.notifications": ("notification.list", "search"),
        "web.notification_read": ("notification.read", "update"),
    }
)


def _case_and_purpose(case_id: str) -> tuple[str, str | None]:
    """A case page's case id (404 for a malformed one) and the purpose asked, for a person
    with a role that works on cases (403 for anyone else)."""
    require_case_role(page_actor())
    return known_case_id(case_id), request.args.get("purpose")


def _choose_purpose(case_id: str, endpoint: str, views: frozenset[View] | None) -> Response:
    """The purpose choice before a page of the case opens (doelbinding)."""
    return page(
        "web/purpose.html",
        purposes=case_purposes(page_actor(), views),
        case_id=case_id,
        action=url_for(endpoint, case_id=case_id),
    )


def _plan_or_none(ctx: Context, case_id: str, version: int | None) -> dict[str, Any] | None:
    """The plan (newest, or the version asked); None when the case has none yet — for the case
    team, which may see the case, and audited as not found. An unknown version is refused."""
    try:
        return read_plan(db_session(), runtime(), ctx, case_id, version)
    except Problem as problem:
        if problem.code != "plan_not_found" or version is not None:
            raise
        audit_shown(problem)
        return None


# ── the plan of approach ────────────────────────────────────────────────────────────────────

_CASE_VIEW = frozenset({View.CASE})


@web.get("/cases/<case_id>/plan")
def plan(case_id: str) -> Response:
    """The plan of approach, newest version or ?version=N, for the case team."""
    case_id, purpose = _case_and_purpose(case_id)
    if not purpose:
        return _choose_purpose(case_id, "web.plan", _CASE_VIEW)
    ctx = web_context(purpose)
    raw = request.args.get("version")
    if raw is not None and (
        not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1_000_000
    ):
        raise Problem(400, "bad_parameter", "version must be a whole number from 1.")
    shown = _plan_or_none(ctx, case_id, int(raw) if raw else None)
    return page(
        "web/plan.html",
        200 if shown is not None else 404,
        case_id=case_id,
        plan=shown,
        purpose=purpose,
        rights=plan_rights(db_session(), runtime(), ctx, case_id),
        asked_version=int(raw) if raw else None,
    )


class PlanForm(CaseForm):
    """The plan form: concerns, goals (goal-1…), agreements (agreement-1-party and
    agreement-1-text …) and the review date, with the version it starts from."""

    def __init__(self, team: tuple[str, ...], goals: int, agreements: int) -> None:
        labels = {"concerns": PLAN_LABELS["concerns"]}
        labels.update({f"goal-{i}": PLAN_LABELS["goal"] for i in range(1, goals + 1)})
        for i in range(1, agreements + 1):
            labels[f"agreement-{i}-party"] = PLAN_LABELS["agreement_party"]
            labels[f"agreement-{i}-text"] = PLAN_LABELS["agreement"]
        labels["review_date"] = PLAN_LABELS["review_date"]
        super().__init__(labels)
        self.team = team
        self.goal_count = goals
        self.agreement_count = agreements
        self.base_version = 0
        self.inputs: dict[str, str] = {}  # a problem's field → the input it concerns

    @classmethod
    def empty(cls, team: tuple[str, ...], plan: dict[str, Any] | None) -> PlanForm:
        """The form filled in with a plan (the newest), to write its next version."""
        goals = list(plan["goals"]) if plan else []
        agreements = list(plan["agreements"]) if plan else []
        form = cls(
            team,
            min(MAX_GOALS, len(goals) + GOAL_SLOTS),
            min(MAX_AGREEMENTS, len(agreements) + AGREEMENT_SLOTS),
        )
        if plan:
            form.base_version = int(plan["version"])
            form.values["concerns"] = plan["concerns"]
            form.values["review_date"] = plan["review_date"] or ""
            for i, goal in enumerate(goals, 1):
                form.values[f"goal-{i}"] = goal
            for i, agreement in enumerate(agreements, 1):
                form.values[f"agreement-{i}-party"] = agreement["party"]
                form.values[f"agreement-{i}-text"] = agreement["agreement"]
        return form

    @classmethod
    def read(cls, team: tuple[str, ...], posted: Any) -> PlanForm:
        """The form as posted; as many goal and agreement inputs as were posted (bounded)."""
        goals = _slots(posted, "goal-{}", MAX_GOALS)
        agreements = _slots(posted, "agreement-{}-party", MAX_AGREEMENTS)
        form = cls(team, max(goals, 1), max(agreements, 1))
        for name in form.labels:
            form.values[name] = str(posted.get(name, ""))[:5000]
        raw = str(posted.get("base_version", "0"))
        form.base_version = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 9 else 0
        return form

    def body(self) -> dict[str, Any]:
        """The body the use case takes: filled-in goals and agreement rows, in order."""
        goals: list[str] = []
        agreements: list[dict[str, str]] = []
        self.inputs = {"concerns": "concerns", "review_date": "review_date", "goals": "goal-1"}
        self.inputs["agreements"] = "agreement-1-party"
        for i in range(1, self.goal_count + 1):
            text = self.get(f"goal-{i}")
            if text.strip():
                self.inputs[f"goals.{len(goals)}"] = f"goal-{i}"
                goals.append(text)
        for i in range(1, self.agreement_count + 1):
            party, text = self.get(f"agreement-{i}-party"), self.get(f"agreement-{i}-text")
            if party or text.strip():
                k = len(agreements)
                self.inputs[f"agreements.{k}.party"] = f"agreement-{i}-party"
                self.inputs[f"agreements.{k}.agreement"] = f"agreement-{i}-text"
                self.inputs[f"agreements.{k}"] = f"agreement-{i}-party"
                agreements.append({"party": party, "agreement": text})
        return {
            "concerns": self.get("concerns"),
            "goals": goals,
            "agreements": agreements,
            "review_date": iso_date(self.get("review_date").strip()),
        }

    def label(self, name: str) -> str:
        """An input's label in the person's language, with its number."""
        number = re.search(r"-([0-9]+)", name)
        return gettext(self.labels[name], n=number.group(1) if number else "")


def _slots(posted: Any, pattern: str, most: int) -> int:
    """How many numbered inputs of a kind were posted (the highest number, at most `most`)."""
    count = 0
    for i in range(1, most + 1):
        if pattern.format(i) in posted:
            count = i
    return count


def _plan_page(
    case_id: str, form: PlanForm, purpose: str, status: int = 200, **extra: Any
) -> Response:
    return page(
        "web/plan_form.html",
        status,
        case_id=case_id,
        form=form,
        purpose=purpose,
        **extra,
    )


@web.get("/cases/<case_id>/plan/edit")
def plan_form(case_id: str) -> Response:
    """The form for the next version of the plan, filled in with the newest."""
    case_id, purpose = _case_and_purpose(case_id)
    if not purpose:
        return _choose_purpose(case_id, "web.plan_form", _CASE_VIEW)
    ctx = web_context(purpose)
    newest = _plan_or_none(ctx, case_id, None)
    rights = plan_rights(db_session(), runtime(), ctx, case_id)
    if not rights.may_write:
        raise Problem(
            403,
            "plan_writer_only",
            "Only the coordinator or the case director writes the plan of approach, "
            "while the case is open.",
            audit={"case_id": case_id},
        )
    return _plan_page(case_id, PlanForm.empty(rights.case_team, newest), purpose)


@web.post("/cases/<case_id>/plan/edit")
def plan_submit(case_id: str) -> Response:
    """Save the next version of the plan; problems beside their inputs, nothing saved."""
    case_id, _ = _case_and_purpose(case_id)
    purpose = request.form.get("purpose") or "casusoverleg"
    ctx = web_context(purpose)
    form = PlanForm.read((), request.form)
    body = form.body()
    try:
        saved = write_plan(
            db_session(), runtime(), ctx, case_id, body, base_version=form.base_version
        )
    except Problem as problem:
        errors = problem.extra.get("errors")
        if problem.code == "plan_changed":
            audit_shown(problem)
            form.team = plan_rights(db_session(), runtime(), ctx, case_id).case_team
            changed_from, form.base_version = (
                form.base_version,
                int(problem.extra["newest_version"]),
            )
            return _plan_page(
                case_id, form, purpose, 409, newer=form.base_version, changed_from=changed_from
            )
        if problem.status != 422 or not errors:
            raise
        audit_shown(problem)
        form.add_all(errors, form.inputs)
        form.team = plan_rights(db_session(), runtime(), ctx, case_id).case_team
        return _plan_page(case_id, form, purpose, 422)
    flash(
        gettext("Versie {version} van het plan van aanpak is opgeslagen.", version=saved["version"])
    )
    return redirect(url_for("web.plan", case_id=case_id, purpose=purpose), 303)


# ── the case's history ──────────────────────────────────────────────────────────────────────


@web.get("/cases/<case_id>/history")
def history(case_id: str) -> Response:
    """Who decided what about the case, when and why."""
    case_id, purpose = _case_and_purpose(case_id)
    if not purpose:
        return _choose_purpose(case_id, "web.history", None)
    ctx = web_context(purpose)
    state = case_history(db_session(), runtime(), ctx, case_id)
    return page("web/history.html", case=state, purpose=purpose)


# ── notifications ───────────────────────────────────────────────────────────────────────────


def _person_context() -> Context:
    actor = page_actor()
    require_case_role(actor)
    g.purpose = None
    return Context(actor, request_id(), source_address())


@web.get("/notifications")
def notifications() -> Response:
    """The person's own notifications, newest first (?unread=1: only the unread ones)."""
    ctx = _person_context()
    unread = request.args.get("unread") == "1"
    number = page_number()
    result = list_notifications(db_session(), runtime(), ctx, unread, number, PER_PAGE)
    return page(
        "web/notifications.html",
        result=result,
        unread_only=unread,
        pages=max(1, -(-result["total"] // PER_PAGE)),
    )


@web.post("/notifications/<notification_id>/read")
def notification_read(notification_id: str) -> Response:
    """Mark one of the person's notifications read, back to the list."""
    ctx = _person_context()
    if not notification_id.isascii() or not notification_id.isdigit() or len(notification_id) > 18:
        raise Problem(404, "notification_not_found", "There is no notification with this id.")
    mark_notification_read(db_session(), runtime(), ctx, int(notification_id))
    target = url_for("web.notifications", unread="1" if request.form.get("unread") == "1" else None)
    return redirect(target, 303)


def texts() -> list[str]:
    """The Dutch texts this module holds (the plan form's labels), to check their translation."""
    return list(PLAN_LABELS.values())
