"""The coordinator's acts on a case: assigning a track (with its case team and, optionally, a
case director), naming a case director, closing a case with a reason (and the retention that
starts), and the case's history for its case team.

Use cases (load → decide → write → audit → commit, session passed in): every success appends
its audit record in the same transaction as its writes, every refusal is a Problem the edge
audits, and a refused request changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.storage.models import (
    Case,
    Person,
    TrackChange,
    utcnow,
)
from policies import View

from .guards import (
    add_step,
    case_entry,
    case_roles,
    director_username,
    find_case,
    require_coordinator,
    require_open,
    require_team,
)
from .notifications import notify
from .schemas import CLOSE_REASONS, checked_body, refusal

__all__ = [
    "CLOSE_REASONS",
    "assign_track",
    "case_history",
    "change_track",
    "close_case",
    "director_candidates",
    "name_case_director",
    "record_close",
]


# Why a case is closed (afsluitreden): code → what the history says when no note is given.


# ── validation (Cerberus, messages that name the field and the rule, never the value) ───────


# ── shared steps ────────────────────────────────────────────────────────────────────────────


def _director(
    session: Session,
    rt: Runtime,
    username: str,
    track: str,
    code: str,
    what: str,
    **audit: Any,
) -> Person:
    """The person named as case director: known, active, working on cases, of a party on the
    case team of `track`; 422 naming the field otherwise."""
    c = rt.convenant
    person = session.scalar(select(Person).where(Person.username == username))
    problem = None
    if person is None or person.disabled:
        problem = "unknown person"
    elif not set(person.roles) & case_roles(c):
        problem = "this person has no role that works on cases"
    elif person.party not in c.tracks[track].case_team:
        problem = f"party {person.party} is not on the case team of {track}"
    if problem is not None or person is None:
        raise refusal(code, what, [{"field": "case_director", "problem": problem or ""}], **audit)
    return person


def director_candidates(session: Session, rt: Runtime) -> list[dict[str, Any]]:
    """Who can be named case director: active persons with a role that works on cases, with
    their party and the tracks on whose case team that party sits (`_director` decides)."""
    c = rt.convenant
    roles = case_roles(c)
    out = []
    for username, name, party, held in session.execute(
        select(Person.username, Person.name, Person.party, Person.roles)
        .where(Person.disabled.is_(False))
        .order_by(Person.party, Person.name, Person.username)
    ):
        if not set(held) & roles:
            continue
        tracks = [t.id for t in c.tracks.values() if party in t.case_team]
        if tracks:
            out.append({"username": username, "name": name, "party": party, "tracks": tracks})
    return out


def _history(session: Session, rt: Runtime, ctx: Context, case_id: str) -> list[dict[str, Any]]:
    """The case's track history, oldest first. Who signalled (the intake step) is
    DAT-information: only a role with a triage purpose sees who that was."""
    decider, director = aliased(Person), aliased(Person)
    sees_intake = any(
        p.view is View.DAT and ctx.role in p.roles for p in rt.convenant.purposes.values()
    )
    rows = session.execute(
        select(
            TrackChange.kind,
            TrackChange.from_track,
            TrackChange.to_track,
            TrackChange.reason,
            TrackChange.decided_at,
            decider.username,
            decider.name,
            decider.party,
            director.username,
            director.name,
        )
        .outerjoin(decider, decider.id == TrackChange.decided_by_id)
        .outerjoin(director, director.id == TrackChange.case_director_id)
        .where(TrackChange.case_id == case_id)
        .order_by(TrackChange.id)
    )
    out = []
    for kind, from_track, to_track, reason, at, by, by_name, by_party, cd, cd_name in rows:
        intake = from_track is None
        shown = not intake or sees_intake
        out.append(
            {
                "kind": kind,
                "from_track": from_track,
                "to_track": to_track,
                "case_director": {"username": cd, "name": cd_name} if cd else None,
                "reason": reason,
                "decided_by": {"username": by, "name": by_name, "party": by_party}
                if by and shown
                else None,
                "decided_at": at.isoformat(),
            }
        )
    return out


# ── the triage queue ────────────────────────────────────────────────────────────────────────


# ── tracks, the case director, closing ──────────────────────────────────────────────────────


def assign_track(
    session: Session, rt: Runtime, ctx: Context, case_id: str, body: Any
) -> dict[str, Any]:
    """Assign a case to a track (coordinator), with a reason and optionally a case director;
    the persons of the parties that join the case team, and the director, are notified."""
    c = rt.convenant
    require_coordinator(ctx, case_id, "assigns tracks")
    code, what = "invalid_track_change", "track change"
    doc, errors = checked_body("track", body, code, what, rt.convenant)
    track, director = doc.get("track"), doc.get("case_director")
    if isinstance(track, str) and track == c.initial_track:
        errors.append({"field": "track", "problem": f"a case cannot go back to {track}"})
    elif not isinstance(track, str) or track not in c.tracks:
        errors = [e for e in errors if e["field"] != "track"]
        errors.append(
            {
                "field": "track",
                "problem": "must be one of "
                + ", ".join(t for t in c.tracks if t != c.initial_track),
            }
        )
    if errors or not isinstance(track, str):
        raise refusal(code, what, errors)
    case, subject = find_case(session, case_id, for_update=True)
    require_team(rt, ctx, case, subject)
    require_open(case, subject, "its track cannot change")
    named = (
        _director(session, rt, director, track, code, what, case_id=case.id, subject=subject)
        if director
        else None
    )
    previous = case.track
    if track == previous and (named is None or named.id == case.case_director_id):
        raise Problem(
            409,
            "same_track",
            f"The case is already in track {track}.",
            audit={"case_id": case.id, "subject": subject},
        )
    actor = ctx.actor
    assert actor is not None
    now = utcnow()
    cleared = False
    if named is not None:
        case.case_director_id = named.id
    elif case.case_director_id is not None:
        current = session.get(Person, case.case_director_id)
        if current is None or current.party not in c.tracks[track].case_team:
            case.case_director_id, cleared = None, True
    case.track = track
    case.updated_at = now
    add_step(
        session,
        case,
        "track" if track != previous else "director",
        doc["reason"].strip(),
        actor.person_id,
        now,
        from_track=previous,
        case_director_id=named.id if named else None,
    )
    added = set(c.tracks[track].case_team) - set(c.tracks[previous].case_team)
    notified = notify(session, rt, case, actor.person_id, added, named, now)
    session.flush()
    entry = case_entry(
        rt,
        ctx,
        case,
        subject,
        "track.change",
        "update",
        detail={
            "from_track": previous,
            "to_track": track,
            "case_director": named.username if named else None,
            "case_director_cleared": cleared,
            "notified": notified,
        },
    )
    body_out = {
        "case_id": case.id,
        "track": case.track,
        "case_director": director_username(session, case),
        "history": _history(session, rt, ctx, case.id),
    }
    audit_and_commit(session, rt, [entry])
    return body_out


def name_case_director(
    session: Session, rt: Runtime, ctx: Context, case_id: str, body: Any
) -> dict[str, Any]:
    """Name or change the case director (casusregisseur; coordinator): a person of a party on
    the case team of the current track, with a reason. The director is notified."""
    require_coordinator(ctx, case_id, "names the case director")
    code, what = "invalid_director_change", "case director change"
    doc, errors = checked_body("director", body, code, what, rt.convenant)
    if errors:
        raise refusal(code, what, errors)
    case, subject = find_case(session, case_id, for_update=True)
    require_team(rt, ctx, case, subject)
    require_open(case, subject, "its case director cannot change")
    named = _director(
        session, rt, doc["case_director"], case.track, code, what, case_id=case.id, subject=subject
    )
    if named.id == case.case_director_id:
        raise Problem(
            409,
            "same_case_director",
            "This person is already the case director.",
            audit={"case_id": case.id, "subject": subject},
        )
    actor = ctx.actor
    assert actor is not None
    previous = director_username(session, case)
    now = utcnow()
    case.case_director_id = named.id
    case.updated_at = now
    add_step(
        session,
        case,
        "director",
        doc["reason"].strip(),
        actor.person_id,
        now,
        case_director_id=named.id,
    )
    notified = notify(session, rt, case, actor.person_id, set(), named, now)
    session.flush()
    entry = case_entry(
        rt,
        ctx,
        case,
        subject,
        "case_director.change",
        "update",
        detail={
            "track": case.track,
            "case_director": named.username,
            "previous_case_director": previous,
            "notified": notified,
        },
    )
    out = {"case_id": case.id, "track": case.track, "case_director": named.username}
    audit_and_commit(session, rt, [entry])
    return out


def record_close(
    session: Session,
    case: Case,
    reason_code: str,
    note: str | None,
    by_person_id: int | None,
    now: dt.datetime,
) -> None:
    """Close the case and add the close step to its history (no audit record, no commit:
    the caller does both in the same transaction)."""
    case.closed_at = now
    case.close_reason = reason_code
    case.closed_by_id = by_person_id
    case.updated_at = now
    add_step(
        session,
        case,
        "close",
        note or CLOSE_REASONS.get(reason_code, reason_code),
        by_person_id,
        now,
    )


def close_case(
    session: Session, rt: Runtime, ctx: Context, case_id: str, body: Any
) -> dict[str, Any]:
    """Close a case (coordinator) with a reason code and an optional note; its retention
    starts, and it takes no more track or director changes."""
    require_coordinator(ctx, case_id, "closes a case")
    code, what = "invalid_close", "closing"
    doc, errors = checked_body("close", body, code, what, rt.convenant)
    reason_code = doc.get("reason_code")
    if isinstance(reason_code, str) and reason_code not in CLOSE_REASONS:
        errors = [e for e in errors if e["field"] != "reason_code"]
        errors.append(
            {"field": "reason_code", "problem": "must be one of " + ", ".join(CLOSE_REASONS)}
        )
    if errors or not isinstance(reason_code, str):
        raise refusal(code, what, errors)
    case, subject = find_case(session, case_id, for_update=True)
    require_team(rt, ctx, case, subject)
    require_open(case, subject, "it cannot be closed again")
    actor = ctx.actor
    assert actor is not None
    now = utcnow()
    note = doc.get("note")
    record_close(session, case, reason_code, note.strip() if note else None, actor.person_id, now)
    session.flush()
    entry = case_entry(
        rt,
        ctx,
        case,
        subject,
        "case.close",
        "update",
        detail={"track": case.track, "reason_code": reason_code},
    )
    out = {
        "case_id": case.id,
        "track": case.track,
        "closed_at": now.isoformat(),
        "close_reason": reason_code,
        "closed_by": actor.username,
    }
    audit_and_commit(session, rt, [entry])
    return out


def case_history(session: Session, rt: Runtime, ctx: Context, case_id: str) -> dict[str, Any]:
    """Who decided what about the case, when and why (track, director, close), for its case
    team: the coordinator and the parties on the team of the current track."""
    case, subject = find_case(session, case_id)
    require_team(rt, ctx, case, subject)
    steps = _history(session, rt, ctx, case.id)
    body = {
        "case_id": case.id,
        "track": case.track,
        "case_director": director_username(session, case),
        "opened_at": case.opened_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "close_reason": case.close_reason,
        "history": steps,
    }
    entry = case_entry(
        rt,
        ctx,
        case,
        subject,
        "case.history",
        "read",
        detail={"track": case.track, "steps": len(steps)},
    )
    audit_and_commit(session, rt, [entry])
    return body


# ── notifications ───────────────────────────────────────────────────────────────────────────


# ── the plan of approach ────────────────────────────────────────────────────────────────────


def change_track(
    session: Session, rt: Runtime, ctx: Context, case_id: str, body: Any
) -> dict[str, Any]:
    """Assign a case to a track (coordinator), with a reason and optionally a case director:
    `broker.casework.assign_track`, which builds on this module (hence the late import)."""
    from .tracks import assign_track

    return assign_track(session, rt, ctx, case_id, body)
