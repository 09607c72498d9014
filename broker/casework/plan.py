"""The plan of approach (plan van aanpak): versioned, written by the coordinator or the case
director, read in full by the case team only (404 for anyone else); a save names the version it
started from, so nothing is overwritten unseen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.identity.subjects import parse_date
from broker.storage.models import (
    Case,
    Person,
    PlanVersion,
    utcnow,
)
from policies import View

from .guards import (
    case_entry,
    find_case,
    require_open,
    require_team,
)
from .schemas import checked_body, refusal

__all__ = [
    "AMSTERDAM",
    "PLAN_PARTS",
    "PlanRights",
    "plan_rights",
    "plan_versions",
    "read_plan",
    "write_plan",
]


PLAN_PARTS = ("concerns", "goals", "agreements", "review_date")


def _require_case_purpose(rt: Runtime, ctx: Context) -> None:
    purpose = ctx.purpose
    assert purpose is not None
    if rt.convenant.purposes[purpose].view is not View.CASE:
        raise Problem(
            403,
            "purpose_not_for_plan",
            f"The plan of approach is read and written for a case purpose "
            f"({', '.join(p for p, d in rt.convenant.purposes.items() if d.view is View.CASE)}),"
            f" not {purpose!r}.",
        )


def _plan(session: Session, case_id: str, version: int | None) -> PlanVersion | None:
    query = select(PlanVersion).where(PlanVersion.case_id == case_id)
    if version is not None:
        query = query.where(PlanVersion.version == version)
    return session.scalar(query.order_by(PlanVersion.version.desc()).limit(1))


def _plan_body(session: Session, plan: PlanVersion, versions: int) -> dict[str, Any]:
    author = session.execute(
        select(Person.username, Person.name, Person.party).where(Person.id == plan.author_id)
    ).one()
    return {
        "case_id": plan.case_id,
        "version": plan.version,
        "versions": versions,
        "concerns": plan.concerns,
        "goals": list(plan.goals),
        "agreements": [dict(a) for a in plan.agreements],
        "review_date": plan.review_date.isoformat() if plan.review_date else None,
        "author": {"username": author.username, "name": author.name, "party": author.party},
        "created_at": plan.created_at.isoformat(),
    }


def _version_count(session: Session, case_id: str) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(PlanVersion).where(PlanVersion.case_id == case_id)
        )
        or 0
    )


def read_plan(
    session: Session, rt: Runtime, ctx: Context, case_id: str, version: int | None
) -> dict[str, Any]:
    """The plan of approach (newest, or the version asked), in full, for the case team of
    the current track only (404 for anyone else, as for a case view)."""
    _require_case_purpose(rt, ctx)
    case, subject = find_case(session, case_id)
    require_team(rt, ctx, case, subject)
    plan = _plan(session, case.id, version)
    if plan is None:
        raise Problem(
            404,
            "plan_not_found",
            "This case has no plan of approach"
            + (" with this version." if version is not None else " yet."),
            audit={"case_id": case.id, "subject": subject},
        )
    body = _plan_body(session, plan, _version_count(session, case.id))
    entry = case_entry(
        rt,
        ctx,
        case,
        subject,
        "plan.view",
        "read",
        fields_disclosed={f"plan_{part}": "show" for part in PLAN_PARTS},
        detail={"track": case.track, "version": plan.version},
    )
    audit_and_commit(session, rt, [entry])
    return body


def plan_versions(session: Session, rt: Runtime, ctx: Context, case_id: str) -> dict[str, Any]:
    """The versions of the case's plan of approach: number, author and time (case team only)."""
    _require_case_purpose(rt, ctx)
    case, subject = find_case(session, case_id)
    require_team(rt, ctx, case, subject)
    items = [
        {
            "version": version,
            "created_at": at.isoformat(),
            "author": {"username": username, "name": name, "party": party},
        }
        for version, at, username, name, party in session.execute(
            select(
                PlanVersion.version,
                PlanVersion.created_at,
                Person.username,
                Person.name,
                Person.party,
            )
            .join(Person, Person.id == PlanVersion.author_id)
            .where(PlanVersion.case_id == case.id)
            .order_by(PlanVersion.version.desc())
        )
    ]
    entry = case_entry(
        rt,
        ctx,
        case,
        subject,
        "plan.versions",
        "read",
        detail={"track": case.track, "versions": len(items)},
    )
    audit_and_commit(session, rt, [entry])
    return {"case_id": case.id, "items": items}


def _writes_plan(ctx: Context, case: Case) -> bool:
    actor = ctx.actor
    return ctx.role == "coordinator" or (
        actor is not None
        and actor.person_id is not None
        and actor.person_id == case.case_director_id
    )


@dataclass(frozen=True, slots=True)
class PlanRights:
    """What a page offers around the plan of approach: whether this person writes it, and the
    parties of the case team (those an agreement can be with)."""

    may_write: bool
    case_team: tuple[str, ...]


def plan_rights(session: Session, rt: Runtime, ctx: Context, case_id: str) -> PlanRights:
    """For a page, after the case team's audited read of the case: whether this person writes
    its plan (the coordinator, or the case director, while the case is open) and its case team.
    To offer the form, not to allow it: `write_plan` decides that."""
    case = session.get(Case, case_id)
    if case is None:
        return PlanRights(False, ())
    team = tuple(rt.convenant.tracks[case.track].case_team)
    return PlanRights(case.closed_at is None and _writes_plan(ctx, case), team)


def _today() -> dt.date:
    return dt.datetime.now(AMSTERDAM).date()


def write_plan(
    session: Session,
    rt: Runtime,
    ctx: Context,
    case_id: str,
    body: Any,
    today: Callable[[], dt.date] = _today,
    base_version: int | None = None,
) -> dict[str, Any]:
    """Save a new version of the plan of approach: concerns, goals, agreements per party on
    the case team, the next review date. Written by the coordinator or the case director.

    With `base_version` (the version the writer started from, 0 for none) the save is refused
    (409 `plan_changed`) when another version was saved in the meantime, so nobody overwrites
    a colleague's changes unseen."""
    _require_case_purpose(rt, ctx)
    case, subject = find_case(session, case_id, for_update=True)
    require_team(rt, ctx, case, subject)
    actor = ctx.actor
    assert actor is not None
    if not _writes_plan(ctx, case):
        raise Problem(
            403,
            "plan_writer_only",
            "Only the coordinator or the case director writes the plan of approach.",
            audit={"case_id": case.id, "subject": subject},
        )
    require_open(case, subject, "its plan of approach cannot change")
    code, what = "invalid_plan", "plan of approach"
    doc, errors = checked_body("plan", body, code, what, rt.convenant)
    team = rt.convenant.tracks[case.track].case_team
    agreements = doc.get("agreements")
    if isinstance(agreements, list):
        for i, agreement in enumerate(agreements):
            party = agreement.get("party") if isinstance(agreement, dict) else None
            if isinstance(party, str) and party and party not in team:
                errors.append(
                    {
                        "field": f"agreements.{i}.party",
                        "problem": f"must be a party on the case team of track {case.track} "
                        f"({', '.join(team)})",
                    }
                )
    review = parse_date(doc.get("review_date"))
    if review is not None and review < today():
        errors.append({"field": "review_date", "problem": "lies in the past"})
    if errors:
        raise refusal(code, what, errors, case_id=case.id, subject=subject)
    assert review is not None
    newest = (
        session.scalar(select(func.max(PlanVersion.version)).where(PlanVersion.case_id == case.id))
        or 0
    )
    if base_version is not None and base_version != newest:
        raise Problem(
            409,
            "plan_changed",
            f"Version {newest} of the plan was saved after version {base_version}, which these "
            "changes start from; nothing was changed.",
            audit={"case_id": case.id, "subject": subject},
            newest_version=newest,
        )
    version = newest + 1
    now = utcnow()
    plan = PlanVersion(
        case_id=case.id,
        version=version,
        concerns=doc["concerns"],
        goals=list(doc["goals"]),
        agreements=[{"party": a["party"], "agreement": a["agreement"]} for a in agreements or []],
        review_date=review,
        author_id=actor.person_id,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(plan)
    except IntegrityError:
        raise Problem(
            409,
            "plan_version_conflict",
            "Another version of the plan was saved at the same moment; nothing was changed. "
            "Read the plan again and save your changes on top of it.",
            audit={"case_id": case.id, "subject": subject},
        ) from None
    case.updated_at = now
    entry = case_entry(
        rt,
        ctx,
        case,
        subject,
        "plan.write",
        "create",
        detail={
            "track": case.track,
            "version": version,
            "goals": len(plan.goals),
            "agreements": len(plan.agreements),
        },
    )
    out = _plan_body(session, plan, version)
    audit_and_commit(session, rt, [entry])
    return out


AMSTERDAM = ZoneInfo("Europe/Amsterdam")
