"""The coordinator's pages: the triage queue with its matches, assigning a track (and a case
director), naming a case director and closing a case.

Each page calls the same use cases as the API (`broker.casework`): the convenant decides, the
audit record is written in the same transaction as the change, and a refused request changes
nothing. A form with problems is shown again with each problem beside its field, and the
refusal is audited; any other refusal is the blueprint's error page (audited there).

The purpose of each act is the one the page was opened for (`?purpose=`), else the API's
default: `triage` for a track, `casusoverleg` for the case director, `uitvoering` for closing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import flash, redirect, request, url_for
from werkzeug.wrappers import Response

from broker.casework.tracks import (
    CLOSE_REASONS,
    assign_track,
    case_history,
    close_case,
    director_candidates,
    name_case_director,
)
from broker.casework.triage import triage_queue
from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import db_session, runtime

from .blueprint import REFUSAL_EVENTS, audit_shown, page, register_home, register_nav, web
from .cases import known_case_id, page_number, web_context
from .forms import FormField
from .i18n import field_problem, gettext

__all__ = ["MATCH_LABELS", "CaseForm", "coordinator_context", "texts"]

COORDINATOR = frozenset({"coordinator"})
PER_PAGE = 20
MAX_INPUT = 5000  # characters kept of one posted text (the use cases allow at most 2000)

register_nav("web.triage", "Triage", COORDINATOR, order=5)
register_home("coordinator", "web.triage")
REFUSAL_EVENTS.update(
    {
        "web.triage": ("triage.list", "search"),
        "web.track_form": ("case.history", "read"),
        "web.track_submit": ("track.change", "update"),
        "web.director_form": ("case.history", "read"),
        "web.director_submit": ("case_director.change", "update"),
        "web.close_form": ("case.history", "read"),
        "web.close_submit": ("case.close", "update"),
    }
)

# What each kind of match means (Verwijsindex): the triage queue names the kind, never a value.
MATCH_LABELS: Mapping[str, str] = {
    "second_party": "Signalen van meer dan één partij",
    "address": "Andere casus op hetzelfde adres",
    "parent": "Andere jongere met dezelfde ouder of verzorger",
}


def coordinator_context(purpose: str) -> Context:
    """The context of a coordinator's page for `purpose` (403 for anyone else)."""
    ctx = web_context(purpose)
    if ctx.role != "coordinator":
        raise Problem(403, "coordinator_only", "These pages are for the coordinator.")
    return ctx


def _acting(case_id: str, default_purpose: str) -> tuple[str, str, Context]:
    """The case id (404 for a malformed one), the purpose of the act (asked, else the API's
    default) and the coordinator's context for it (403 for anyone else)."""
    purpose = request.values.get("purpose") or default_purpose
    ctx = coordinator_context(purpose)
    return known_case_id(case_id), purpose, ctx


# ── forms ───────────────────────────────────────────────────────────────────────────────────


@dataclass
class CaseForm:
    """A form of the coordinator's or the case team's pages: what was typed, and the problems
    by input (the use cases name the field and the rule, never the value)."""

    labels: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    general_errors: list[str] = field(default_factory=list)

    @classmethod
    def posted(cls, labels: dict[str, str]) -> CaseForm:
        """The form as posted: an input per label (each text at most MAX_INPUT characters)."""
        return cls(labels, {name: request.form.get(name, "")[:MAX_INPUT] for name in labels})

    def get(self, name: str) -> str:
        """What was typed in an input ('' when nothing)."""
        return self.values.get(name, "")

    def add(self, name: str, problem: str) -> None:
        """A problem with an input (or with the whole form, for a name without an input)."""
        message = field_problem(problem)
        if name in self.labels:
            self.errors.setdefault(name, []).append(message)
        else:
            self.general_errors.append(message)

    def add_all(
        self, errors: list[dict[str, str]], inputs: Mapping[str, str] | None = None
    ) -> None:
        """The use case's problems; `inputs` maps a problem's field to the input it concerns."""
        for error in errors:
            name = error.get("field", "")
            self.add((inputs or {}).get(name, name), error.get("problem", ""))

    def summary(self) -> list[tuple[str, str, str]]:
        """(input, label, problem) for the error summary at the top of the page."""
        return [
            (name, self.label(name), message)
            for name in self.labels
            for message in self.errors.get(name, [])
        ]

    def label(self, name: str) -> str:
        """An input's label in the person's language."""
        return gettext(self.labels[name])

    def field(self, name: str, kind: str = "text") -> FormField:
        """An input for the pages' input macro: label, what was typed, its problems."""
        return FormField(
            name, name, self.label(name), kind, self.get(name), self.errors.get(name, [])
        )


# Conflicts a form shows beside an input: nothing would change (problem code → the problem).
_NO_CHANGE = {
    "same_track": {"field": "track", "problem": "is already the case's track"},
    "same_case_director": {"field": "case_director", "problem": "is already the case director"},
}


def _refused_form(problem: Problem, form: CaseForm) -> bool:
    """A 422 (or a change that changes nothing) whose problems the form shows itself: audit it
    and put the problems in the form (True); any other problem is for the error page (False)."""
    errors = problem.extra.get("errors")
    if problem.code in _NO_CHANGE:
        errors = [_NO_CHANGE[problem.code]]
    elif problem.status != 422 or not errors:
        return False
    audit_shown(problem)  # ends the request's session: use db_session() afterwards
    form.add_all(errors)
    return True


# ── the triage queue ────────────────────────────────────────────────────────────────────────


@web.get("/triage")
def triage() -> Response:
    """The open cases in track signaal, oldest first, with DAT information and matches."""
    ctx = coordinator_context("triage")
    result = triage_queue(db_session(), runtime(), ctx, page_number(), PER_PAGE)
    c = runtime().convenant
    return page(
        "web/triage.html",
        result=result,
        pages=max(1, -(-result["total"] // PER_PAGE)),
        field_labels={name: f.description or name for name, f in c.fields.items()},
        match_labels=MATCH_LABELS,
        track=c.tracks[result["track"]],
    )


# ── assigning a track ───────────────────────────────────────────────────────────────────────

_TRACK_LABELS = {
    "track": "Traject",
    "case_director": "Casusregisseur",
    "reason": "Reden",
}


def _case_state(case_id: str, ctx: Context) -> dict[str, Any]:
    """The case's track, director, state and history (audited: a read by the case team)."""
    return case_history(db_session(), runtime(), ctx, case_id)


def _track_page(case: dict[str, Any], form: CaseForm, purpose: str, status: int = 200) -> Response:
    c = runtime().convenant
    return page(
        "web/track_form.html",
        status,
        case=case,
        form=form,
        purpose=purpose,
        tracks=[t for t in c.tracks.values() if t.id != c.initial_track],
        candidates=director_candidates(db_session(), runtime()),
        initial_track=c.initial_track,
    )


@web.get("/cases/<case_id>/track")
def track_form(case_id: str) -> Response:
    """The form to assign the case to a track, with a reason and optionally a case director."""
    case_id, purpose, ctx = _acting(case_id, "triage")
    case = _case_state(case_id, ctx)
    form = CaseForm(_TRACK_LABELS, {"case_director": case["case_director"] or ""})
    return _track_page(case, form, purpose)


@web.post("/cases/<case_id>/track")
def track_submit(case_id: str) -> Response:
    """Assign the track; the persons of the parties that join the case team are notified."""
    case_id, purpose, ctx = _acting(case_id, "triage")
    form = CaseForm.posted(_TRACK_LABELS)
    body: dict[str, Any] = {"track": form.get("track"), "reason": form.get("reason")}
    if form.get("case_director"):
        body["case_director"] = form.get("case_director")
    try:
        done = assign_track(db_session(), runtime(), ctx, case_id, body)
    except Problem as problem:
        if not _refused_form(problem, form):
            raise
        return _track_page(_case_state(case_id, ctx), form, purpose, 422)
    track = runtime().convenant.tracks[done["track"]]
    flash(
        gettext(
            "Casus {case} is toegewezen aan traject {track} ({description}).",
            case=case_id,
            track=track.id,
            description=track.description,
        )
    )
    if purpose == "triage":
        return redirect(url_for("web.triage"), 303)
    return redirect(url_for("web.case", case_id=case_id, purpose=purpose), 303)


# ── the case director ───────────────────────────────────────────────────────────────────────

_DIRECTOR_LABELS = {"case_director": "Casusregisseur", "reason": "Reden"}


def _director_page(
    case: dict[str, Any], form: CaseForm, purpose: str, status: int = 200
) -> Response:
    rt = runtime()
    team = rt.convenant.tracks[case["track"]].case_team
    candidates = [p for p in director_candidates(db_session(), rt) if p["party"] in team]
    return page(
        "web/director_form.html",
        status,
        case=case,
        form=form,
        purpose=purpose,
        candidates=candidates,
        initial_track=rt.convenant.initial_track,
    )


@web.get("/cases/<case_id>/director")
def director_form(case_id: str) -> Response:
    """The form to name or change the case director."""
    case_id, purpose, ctx = _acting(case_id, "casusoverleg")
    case = _case_state(case_id, ctx)
    form = CaseForm(_DIRECTOR_LABELS, {"case_director": case["case_director"] or ""})
    return _director_page(case, form, purpose)


@web.post("/cases/<case_id>/director")
def director_submit(case_id: str) -> Response:
    """Name the case director; they are notified."""
    case_id, purpose, ctx = _acting(case_id, "casusoverleg")
    form = CaseForm.posted(_DIRECTOR_LABELS)
    body = {"case_director": form.get("case_director"), "reason": form.get("reason")}
    try:
        done = name_case_director(db_session(), runtime(), ctx, case_id, body)
    except Problem as problem:
        if not _refused_form(problem, form):
            raise
        return _director_page(_case_state(case_id, ctx), form, purpose, 422)
    flash(
        gettext(
            "{person} is nu casusregisseur van casus {case}.",
            person=done["case_director"],
            case=case_id,
        )
    )
    return redirect(url_for("web.case", case_id=case_id, purpose=purpose), 303)


# ── closing ─────────────────────────────────────────────────────────────────────────────────

_CLOSE_LABELS = {"reason_code": "Reden van afsluiten", "note": "Toelichting"}


def _close_page(case: dict[str, Any], form: CaseForm, purpose: str, status: int = 200) -> Response:
    return page(
        "web/close_form.html",
        status,
        case=case,
        form=form,
        purpose=purpose,
        reasons=CLOSE_REASONS,
        retention=runtime().convenant.retention,
    )


@web.get("/cases/<case_id>/close")
def close_form(case_id: str) -> Response:
    """The form to close the case, with its reason."""
    case_id, purpose, ctx = _acting(case_id, "uitvoering")
    case = _case_state(case_id, ctx)
    return _close_page(case, CaseForm(_CLOSE_LABELS), purpose)


@web.post("/cases/<case_id>/close")
def close_submit(case_id: str) -> Response:
    """Close the case: it takes no more changes, and its retention period starts."""
    case_id, purpose, ctx = _acting(case_id, "uitvoering")
    form = CaseForm.posted(_CLOSE_LABELS)
    body: dict[str, Any] = {"reason_code": form.get("reason_code")}
    if form.get("note").strip():
        body["note"] = form.get("note")
    try:
        close_case(db_session(), runtime(), ctx, case_id, body)
    except Problem as problem:
        if not _refused_form(problem, form):
            raise
        return _close_page(_case_state(case_id, ctx), form, purpose, 422)
    flash(gettext("Casus {case} is afgesloten.", case=case_id))
    return redirect(url_for("web.history", case_id=case_id, purpose=purpose), 303)


def texts() -> list[str]:
    """The Dutch texts this module holds (labels, match kinds, close reasons), to check their
    translation."""
    out = [*MATCH_LABELS.values(), *CLOSE_REASONS.values()]
    for labels in (_TRACK_LABELS, _DIRECTOR_LABELS, _CLOSE_LABELS):
        out += labels.values()
    return out
