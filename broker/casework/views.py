"""Case views, field by field: one case as the convenant lets the caller see it (within the
person's view limits), the cases a caller may see for a purpose, and the convenant's
explanation of a cell.

A view is one decision lookup plus applying it to the case's newest values, with the young
person's objections laid over it; its audit record (the fields disclosed with their effect
and those withheld, never a value) is appended and committed before anything is returned: if
it cannot be written, nothing leaves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session

import policies
from broker.core.context import Context, audit_and_commit
from broker.core.limits import ViewLimits, bulk_view_alarm, check_view_rate
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.storage.models import (
    Case,
    FieldValue,
    Objection,
    Person,
    Signal,
    YoungPerson,
    utcnow,
)

from .restrictions import restrictions, restrictions_for

__all__ = [
    "case_view",
    "explain",
    "list_cases",
]


# ── signals ─────────────────────────────────────────────────────────────────────────────────


# ── case views ──────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class CaseValues:
    """A case's current values (the newest per field) and where each came from."""

    values: dict[str, Any]
    sources: dict[str, str]
    supplied_at: dict[str, dt.datetime]


@dataclass(frozen=True, slots=True)
class CaseHeader:
    """What a view needs to know of a case besides its values."""

    id: str
    track: str
    opened_at: dt.datetime
    subject: str
    case_director: str | None
    young_person_id: int
    # whether the young person has an objection in force (then `rights` restricts the view)
    has_objection: bool
    closed_at: dt.datetime | None


# The statements of a case view, built once: building a statement cost more than running it.
_CASE_HEADER = (
    select(
        Case.id,
        Case.track,
        Case.opened_at,
        YoungPerson.subject_key,
        Person.username,
        Case.young_person_id,
        exists()
        .where(Objection.young_person_id == Case.young_person_id, Objection.lifted_at.is_(None))
        .label("has_objection"),
        Case.closed_at,
    )
    .join(YoungPerson, YoungPerson.id == Case.young_person_id)
    .outerjoin(Person, Person.id == Case.case_director_id)
    .where(Case.id == bindparam("case_id"), Case.purged_at.is_(None))
)
_CASE_VALUES = (
    select(FieldValue.field, FieldValue.value, FieldValue.party, FieldValue.supplied_at)
    .where(FieldValue.case_id == bindparam("case_id"), FieldValue.superseded_at.is_(None))
    .order_by(FieldValue.id)
)


def case_header(session: Session, case_id: str) -> CaseHeader | None:
    """The case's header, with its young person's key and case director, in one query."""
    row = session.connection().execute(_CASE_HEADER, {"case_id": case_id}).one_or_none()
    return CaseHeader(*row) if row is not None else None


def case_values(session: Session, case_id: str) -> CaseValues:
    """The case's current values: per field the newest one not superseded by a correction."""
    out = CaseValues({}, {}, {})
    for name, value, party, supplied_at in session.connection().execute(
        _CASE_VALUES, {"case_id": case_id}
    ):
        out.values[name] = value
        out.sources[name] = party
        out.supplied_at[name] = supplied_at
    return out


def _require_case_view(rt: Runtime, purpose: str) -> None:
    view = rt.convenant.purposes[purpose].view
    if view is policies.View.NONE:
        raise Problem(
            403, "no_case_content", f"The purpose {purpose!r} gives no access to case content."
        )


def case_view(
    session: Session, rt: Runtime, ctx: Context, case_id: str, limits: ViewLimits | None = None
) -> dict[str, Any]:
    """The case as the convenant lets this party, role and purpose see it; with `limits`, a
    person over the view rate is refused (429) and crossing the bulk limit raises an alarm."""
    actor, role, purpose = ctx.actor, ctx.role, ctx.purpose
    assert actor is not None and role is not None and purpose is not None
    now = utcnow()
    if limits is not None and not actor.is_client:
        check_view_rate(session, actor.username, limits.per_minute, now)
    _require_case_view(rt, purpose)
    case = case_header(session, case_id)
    if case is None:
        raise Problem(
            404,
            "case_not_found",
            "There is no case with this id that you may see.",
            audit={"case_id": case_id if len(case_id) <= 64 else None},
        )
    decision = policies.decide(rt.convenant, actor.party, role, purpose, case.track)
    if case.has_objection:  # the young person's objections, laid over the convenant
        restriction = restrictions(session, rt.convenant, young_person_id=case.young_person_id)
        decision = policies.restrict(decision, restriction)
    subject = case.subject
    current = case_values(session, case.id)
    if decision.denial == "not_on_case_team" and actor.party not in current.sources.values():
        raise Problem(
            404,
            "case_not_found",
            "There is no case with this id that you may see.",
            audit={
                "case_id": case.id,
                "subject": subject,
                "reason": "not_on_case_team",
                "track": case.track,
            },
        )
    if decision.denial is not None and decision.denial != "not_on_case_team":
        raise Problem(
            403,
            decision.denial,
            decision.denial_reason or "Refused.",
            audit={"case_id": case.id, "subject": subject},
        )
    view = policies.apply(decision, current.values, current.sources, rt.pseudonym_key)
    body: dict[str, Any] = {
        "case_id": case.id,
        "track": case.track,
        "purpose": purpose,
        "role": role,
        "convenant_version": rt.convenant.version,
        "convenant_hash": rt.convenant.hash,
        "on_case_team": decision.denial is None,
        "fields": view.fields,
        "effects": view.disclosed,
        "own_data": list(view.own_data),
        "withheld": [w.as_dict() for w in view.withheld],
        "sources": {
            name: {
                "party": current.sources[name],
                "supplied_at": current.supplied_at[name].isoformat(),
            }
            for name in view.fields
        },
    }
    if decision.denial is None:
        body["case_director"] = case.case_director
        body["opened_at"] = case.opened_at.isoformat()
        body["closed_at"] = case.closed_at.isoformat() if case.closed_at else None
    if view.involvement is not None:
        body["involvement"] = {
            "categories": list(view.involvement.categories),
            "parties": list(view.involvement.suppliers),
            "signals": [
                {"party": party, "received_at": at.isoformat()}
                for party, at in session.execute(
                    select(Signal.party, Signal.received_at)
                    .where(Signal.case_id == case.id)
                    .order_by(Signal.received_at)
                )
            ],
        }
    withheld_names = [w.field for w in view.withheld]
    entry = ctx.entry(
        "case.view",
        "read",
        "success",
        subject=subject,
        case_id=case.id,
        convenant_hash=rt.convenant.hash,
        legal_basis=rt.convenant.purposes[purpose].legal_basis,
        fields_disclosed=view.disclosed,
        fields_withheld=withheld_names,
        detail={"track": case.track, "own_data_only": decision.denial is not None},
    )
    entries = [entry]
    if limits is not None:
        alarm = bulk_view_alarm(session, ctx, subject, limits.bulk_per_hour, now)
        if alarm is not None:
            entries.append(alarm)
    audit_and_commit(session, rt, entries)
    return body


def _visible_tracks(rt: Runtime, party: str) -> list[str]:
    return [t.id for t in rt.convenant.tracks.values() if party in t.case_team]


def list_cases(
    session: Session, rt: Runtime, ctx: Context, page: int, per_page: int
) -> dict[str, Any]:
    """The open cases on whose case team the caller's party is, with what it may see of names."""
    actor, role, purpose = ctx.actor, ctx.role, ctx.purpose
    assert actor is not None and role is not None and purpose is not None
    _require_case_view(rt, purpose)
    tracks = _visible_tracks(rt, actor.party)
    where = (Case.track.in_(tracks), Case.closed_at.is_(None))
    total = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    cases = session.scalars(
        select(Case)
        .where(*where)
        .order_by(Case.opened_at.desc(), Case.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    items, entries = [], []
    names = ("surname", "given_names", "wijk")
    restricted = restrictions_for(session, rt.convenant, [c.young_person_id for c in cases])
    for case in cases:
        decision = policies.decide(rt.convenant, actor.party, role, purpose, case.track)
        if case.young_person_id in restricted:
            decision = policies.restrict(decision, restricted[case.young_person_id])
        current = case_values(session, case.id)
        shown = {k: v for k, v in current.values.items() if k in names}
        view = policies.apply(decision, shown, current.sources, rt.pseudonym_key)
        items.append(
            {
                "case_id": case.id,
                "track": case.track,
                "opened_at": case.opened_at.isoformat(),
                "updated_at": case.updated_at.isoformat(),
                "name": view.fields,
            }
        )
        entries.append(
            ctx.entry(
                "case.list",
                "search",
                "success",
                subject=case.young_person.subject_key,
                case_id=case.id,
                convenant_hash=rt.convenant.hash,
                legal_basis=rt.convenant.purposes[purpose].legal_basis,
                fields_disclosed=view.disclosed,
                detail={"track": case.track, "page": page},
            )
        )
    if not entries:
        entries.append(
            ctx.entry(
                "case.list",
                "search",
                "success",
                convenant_hash=rt.convenant.hash,
                detail={"page": page, "results": 0},
            )
        )
    audit_and_commit(session, rt, entries)
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "purpose": purpose,
        "role": role,
    }


# ── tracks ──────────────────────────────────────────────────────────────────────────────────


def explain(
    session: Session, rt: Runtime, ctx: Context, party: str, role: str, purpose: str, track: str
) -> dict[str, Any]:
    """The convenant's explanation for one request (audited: it is a read of the convenant)."""
    result = policies.explain(rt.convenant, party, role, purpose, track)
    entry = ctx.entry(
        "convenant.explain",
        "read",
        "success",
        convenant_hash=rt.convenant.hash,
        detail={
            "asked_party": party[:64],
            "asked_role": role[:64],
            "asked_purpose": purpose[:64],
            "asked_track": track[:64],
        },
    )
    audit_and_commit(session, rt, [entry])
    return result
