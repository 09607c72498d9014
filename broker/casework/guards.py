"""The checks every act on a case starts with — the case and its young person (404 when unknown),
the caller on the case team of its track (404 otherwise, as for a case view), the case still
open (409), the coordinator only (403) — and the audit entry and history step an act ends with.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import policies
from audit import AuditEntry
from broker.core.context import Context
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.storage.models import (
    Case,
    Person,
    TrackChange,
    YoungPerson,
)
from policies import View

__all__ = [
    "NOT_FOUND",
    "add_step",
    "case_entry",
    "case_roles",
    "director_username",
    "find_case",
    "legal_basis",
    "require_coordinator",
    "require_open",
    "require_team",
]


NOT_FOUND = "There is no case with this id that you may see."


def find_case(session: Session, case_id: str, *, for_update: bool = False) -> tuple[Case, str]:
    """The case and its young person's key; 404 (audited with the id) when there is none.

    `for_update` locks the case row for the rest of the transaction (PostgreSQL; SQLite's
    write transaction holds the whole database already), so concurrent changes of one case,
    such as closing it and changing its track, happen one after the other."""
    query = (
        select(Case, YoungPerson.subject_key)
        .join(YoungPerson, YoungPerson.id == Case.young_person_id)
        .where(Case.id == case_id)
    )
    if for_update:
        query = query.with_for_update(of=Case)
    row = session.execute(query).one_or_none()
    if row is None:
        raise Problem(
            404,
            "case_not_found",
            NOT_FOUND,
            audit={"case_id": case_id if len(case_id) <= 64 else None},
        )
    return row[0], row[1]


def require_team(rt: Runtime, ctx: Context, case: Case, subject: str) -> policies.Decision:
    """The convenant's decision for this caller on the case's current track: a party not on the
    case team gets 404 (as for a case view), any other denial 403."""
    actor, role, purpose = ctx.actor, ctx.role, ctx.purpose
    assert actor is not None and role is not None and purpose is not None
    if rt.convenant.purposes[purpose].view is View.NONE:
        raise Problem(
            403,
            "no_case_content",
            f"The purpose {purpose!r} gives no access to case content.",
            audit={"case_id": case.id, "subject": subject},
        )
    decision = policies.decide(rt.convenant, actor.party, role, purpose, case.track)
    if decision.denial == "not_on_case_team":
        raise Problem(
            404,
            "case_not_found",
            NOT_FOUND,
            audit={
                "case_id": case.id,
                "subject": subject,
                "reason": "not_on_case_team",
                "track": case.track,
            },
        )
    if decision.denial is not None:
        raise Problem(
            403,
            decision.denial,
            decision.denial_reason or "Refused.",
            audit={"case_id": case.id, "subject": subject},
        )
    return decision


def require_open(case: Case, subject: str, what: str) -> None:
    if case.closed_at is not None:
        raise Problem(
            409,
            "case_closed",
            f"The case is closed; {what}.",
            audit={"case_id": case.id, "subject": subject},
        )


def require_coordinator(ctx: Context, case_id: str, what: str) -> None:
    if ctx.role != "coordinator":
        raise Problem(
            403, "coordinator_only", f"Only the coordinator {what}.", audit={"case_id": case_id}
        )


def case_roles(c: policies.Convenant) -> set[str]:
    """The roles that work on cases: those that may use a purpose with a case view."""
    return {r for p in c.purposes.values() if p.view is View.CASE for r in p.roles}


def legal_basis(rt: Runtime, ctx: Context) -> str | None:
    return rt.convenant.purposes[ctx.purpose].legal_basis if ctx.purpose else None


def director_username(session: Session, case: Case) -> str | None:
    if case.case_director_id is None:
        return None
    return session.scalar(select(Person.username).where(Person.id == case.case_director_id))


def add_step(
    session: Session,
    case: Case,
    kind: str,
    reason: str,
    by_person_id: int | None,
    at: dt.datetime,
    *,
    from_track: str | None = None,
    case_director_id: int | None = None,
) -> None:
    """Add a step to the case's history, to its current track (from `from_track`, else from
    the same track)."""
    session.add(
        TrackChange(
            case_id=case.id,
            kind=kind,
            from_track=from_track or case.track,
            to_track=case.track,
            case_director_id=case_director_id,
            reason=reason,
            decided_by_id=by_person_id,
            decided_at=at,
        )
    )


def case_entry(
    rt: Runtime, ctx: Context, case: Case, subject: str, event: str, action: str, **kw: Any
) -> AuditEntry:
    """The audit entry of a successful act on one case: its young person, the convenant in
    force and the legal basis of the request's purpose."""
    return ctx.entry(
        event,
        action,
        "success",
        subject=subject,
        case_id=case.id,
        convenant_hash=rt.convenant.hash,
        legal_basis=legal_basis(rt, ctx),
        **kw,
    )
