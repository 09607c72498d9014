"""The coordinator's work: the triage queue, tracks and the case director, closing a case, its
history, notifications and the plan of approach.

Use cases as in `broker.services` (load → decide → write → audit → commit, session passed in):
every success appends its audit record in the same transaction as its writes, every refusal is
a Problem the edge audits, and a refused request changes nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from cerberus import Validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

import policies
from audit import AuditEntry
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.core.validation import _Validator, _ValueFreeErrors
from broker.identity.subjects import parse_date
from broker.storage.models import (
    Case,
    MatchKey,
    Notification,
    Person,
    PlanVersion,
    Signal,
    TrackChange,
    YoungPerson,
    utcnow,
)
from policies import View

from .restrictions import restrictions_for
from .services import _values

__all__ = [
    "CLOSE_REASONS",
    "PlanRights",
    "assign_track",
    "case_history",
    "close_case",
    "director_candidates",
    "list_notifications",
    "mark_notification_read",
    "name_case_director",
    "plan_rights",
    "plan_versions",
    "read_plan",
    "record_close",
    "triage_queue",
    "write_plan",
]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

# Why a case is closed (afsluitreden): code → what the history says when no note is given.
CLOSE_REASONS: Mapping[str, str] = {
    "doel_bereikt": "Doelen van het plan van aanpak bereikt",
    "verhuisd": "Jongere is verhuisd buiten het werkgebied",
    "leeftijdsgrens": "Jongere heeft de leeftijdsgrens (23 jaar) bereikt",
    "overgedragen": "Overgedragen aan een andere aanpak of organisatie",
    "geen_grond": "Geen grond voor een aanpak door het MultiTeam",
}
MAX_REASON = 2000
MAX_TEXT = 4000

_NOT_FOUND = "There is no case with this id that you may see."


# ── validation (Cerberus, messages that name the field and the rule, never the value) ───────


class _BodyValidator(_Validator):
    """The signal validator's checks, plus: text that is not only white space."""

    def _check_with_not_blank(self, field: str, value: Any) -> None:
        if isinstance(value, str) and not value.strip():
            self._error(field, "must not be blank")


def _clean(max_length: int) -> dict[str, Any]:
    return {
        "type": "string",
        "empty": False,
        "maxlength": max_length,
        "check_with": ["clean_text", "not_blank"],
    }


_SCHEMAS: Mapping[str, dict[str, Any]] = {
    "track": {
        "track": {"type": "string", "required": True},
        "reason": {**_clean(MAX_REASON), "required": True},
        "case_director": {"type": "string", "nullable": True, "maxlength": 64},
    },
    "director": {
        "case_director": {"type": "string", "required": True, "empty": False, "maxlength": 64},
        "reason": {**_clean(MAX_REASON), "required": True},
    },
    "close": {
        "reason_code": {"type": "string", "required": True},
        "note": {**_clean(MAX_REASON), "nullable": True},
    },
    "plan": {
        "concerns": {**_clean(MAX_TEXT), "required": True},
        "goals": {
            "type": "list",
            "required": True,
            "minlength": 1,
            "maxlength": 20,
            "schema": _clean(1000),
        },
        "agreements": {
            "type": "list",
            "required": True,
            "maxlength": 50,
            "schema": {
                "type": "dict",
                "schema": {
                    "party": {"type": "string", "required": True, "empty": False},
                    "agreement": {**_clean(MAX_REASON), "required": True},
                },
            },
        },
        "review_date": {"type": "string", "required": True, "check_with": "date"},
    },
}
_local = threading.local()


def _flatten(tree: Mapping[Any, Any], prefix: str = "") -> list[dict[str, str]]:
    """Cerberus' nested errors as [{field: "agreements.0.party", problem: ...}]."""
    out: list[dict[str, str]] = []
    for key, messages in sorted(tree.items(), key=lambda item: str(item[0])):
        name = f"{prefix}.{key}" if prefix else str(key)
        for message in messages:
            if isinstance(message, Mapping):
                out += _flatten(message, name)
            else:
                out.append({"field": name, "problem": str(message)})
    return out


def _checked(kind: str, body: Any, code: str, what: str) -> tuple[dict[str, Any], list[Any]]:
    """The body checked against its schema, and the errors found (field paths, no values)."""
    if not isinstance(body, dict):
        raise _refuse(code, what, [{"field": "body", "problem": "must be a JSON object"}])
    cache: dict[str, Validator] = _local.__dict__.setdefault("validators", {})
    if kind not in cache:
        cache[kind] = _BodyValidator(_SCHEMAS[kind], error_handler=_ValueFreeErrors)
    validator = cache[kind]
    if validator.validate(body):
        return dict(validator.document), []
    return dict(body), _flatten(validator.errors)


def _refuse(code: str, what: str, errors: list[dict[str, str]], **audit: Any) -> Problem:
    return Problem(
        422,
        code,
        f"The {what} is not valid; nothing was changed.",
        errors=errors,
        audit={"problems": len(errors), **audit},
    )


# ── shared steps ────────────────────────────────────────────────────────────────────────────


def _case(session: Session, case_id: str, *, for_update: bool = False) -> tuple[Case, str]:
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
            _NOT_FOUND,
            audit={"case_id": case_id if len(case_id) <= 64 else None},
        )
    return row[0], row[1]


def _require_team(rt: Runtime, ctx: Context, case: Case, subject: str) -> policies.Decision:
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
            _NOT_FOUND,
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


def _require_open(case: Case, subject: str, what: str) -> None:
    if case.closed_at is not None:
        raise Problem(
            409,
            "case_closed",
            f"The case is closed; {what}.",
            audit={"case_id": case.id, "subject": subject},
        )


def _require_coordinator(ctx: Context, case_id: str, what: str) -> None:
    if ctx.role != "coordinator":
        raise Problem(
            403, "coordinator_only", f"Only the coordinator {what}.", audit={"case_id": case_id}
        )


def _case_roles(c: policies.Convenant) -> set[str]:
    """The roles that work on cases: those that may use a purpose with a case view."""
    return {r for p in c.purposes.values() if p.view is View.CASE for r in p.roles}


def _legal_basis(rt: Runtime, ctx: Context) -> str | None:
    return rt.convenant.purposes[ctx.purpose].legal_basis if ctx.purpose else None


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
    elif not set(person.roles) & _case_roles(c):
        problem = "this person has no role that works on cases"
    elif person.party not in c.tracks[track].case_team:
        problem = f"party {person.party} is not on the case team of {track}"
    if problem is not None or person is None:
        raise _refuse(code, what, [{"field": "case_director", "problem": problem or ""}], **audit)
    return person


def director_candidates(session: Session, rt: Runtime) -> list[dict[str, Any]]:
    """Who can be named case director: active persons with a role that works on cases, with
    their party and the tracks on whose case team that party sits (`_director` decides)."""
    c = rt.convenant
    roles = _case_roles(c)
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


def _notify(
    session: Session,
    rt: Runtime,
    case: Case,
    actor_id: int | None,
    added_parties: set[str],
    director: Person | None,
    now: dt.datetime,
) -> int:
    """Notify the persons of the parties that joined the case team, and a newly named case
    director; the messages name the case, the track and what happened, never a value."""
    c = rt.convenant
    track = c.tracks[case.track]
    sent: set[int] = set()
    if director is not None and director.id != actor_id:
        session.add(
            Notification(
                person_id=director.id,
                case_id=case.id,
                kind="case_director",
                message=f"U bent casusregisseur van casus {case.id} "
                f"(traject {track.id}: {track.description}).",
                created_at=now,
            )
        )
        sent.add(director.id)
    if added_parties:
        roles = _case_roles(c)
        for person in session.scalars(
            select(Person)
            .where(Person.party.in_(sorted(added_parties)), Person.disabled.is_(False))
            .order_by(Person.id)
        ):
            if person.id in sent or person.id == actor_id or not set(person.roles) & roles:
                continue
            session.add(
                Notification(
                    person_id=person.id,
                    case_id=case.id,
                    kind="case_team",
                    message=f"Casus {case.id} is toegewezen aan traject {track.id} "
                    f"({track.description}); uw partij ({person.party}) zit nu in het "
                    "casusteam.",
                    created_at=now,
                )
            )
            sent.add(person.id)
    return len(sent)


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


def _director_username(session: Session, case: Case) -> str | None:
    if case.case_director_id is None:
        return None
    return session.scalar(select(Person.username).where(Person.id == case.case_director_id))


# ── the triage queue ────────────────────────────────────────────────────────────────────────


def triage_queue(
    session: Session, rt: Runtime, ctx: Context, page: int, per_page: int
) -> dict[str, Any]:
    """The open cases in the initial track (signaal) with DAT-information only: who signalled
    and when, which categories hold data, the identification the convenant shows for triage,
    and the matches (Verwijsindex): several parties, another case at the same address, another
    young person with the same parent — by keyed hashes, never by comparing or showing values.
    One audit record per listed case."""
    actor, role, purpose = ctx.actor, ctx.role, ctx.purpose
    assert actor is not None and role is not None and purpose is not None
    c = rt.convenant
    if c.purposes[purpose].view is not View.DAT:
        raise Problem(
            403, "purpose_not_for_triage", "The triage queue serves a triage purpose only."
        )
    track = c.initial_track
    decision = policies.decide(c, actor.party, role, purpose, track)
    if decision.denial is not None:
        raise Problem(403, decision.denial, decision.denial_reason or "Refused.")
    where = (Case.track == track, Case.closed_at.is_(None), Case.purged_at.is_(None))
    total = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    rows = session.execute(
        select(
            Case.id, Case.opened_at, Case.updated_at, YoungPerson.subject_key, Case.young_person_id
        )
        .join(YoungPerson, YoungPerson.id == Case.young_person_id)
        .where(*where)
        .order_by(Case.opened_at, Case.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    ids = [row.id for row in rows]
    signals: dict[str, list[tuple[str, dt.datetime]]] = defaultdict(list)
    matches: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    if ids:
        for case_id, party, at in session.execute(
            select(Signal.case_id, Signal.party, Signal.received_at)
            .where(Signal.case_id.in_(ids))
            .order_by(Signal.received_at, Signal.id)
        ):
            signals[case_id].append((party, at))
        mine, theirs = aliased(MatchKey), aliased(MatchKey)
        for case_id, kind, other_id, other_track in session.execute(
            select(mine.case_id, mine.kind, theirs.case_id, Case.track)
            .join(
                theirs,
                (theirs.kind == mine.kind)
                & (theirs.key == mine.key)
                & (theirs.case_id != mine.case_id),
            )
            .join(Case, Case.id == theirs.case_id)
            .where(mine.case_id.in_(ids), Case.closed_at.is_(None), Case.purged_at.is_(None))
            .order_by(mine.kind, Case.opened_at, Case.id)
        ):
            matches[case_id].append((kind, other_id, other_track))
    visible: dict[str, bool] = {}

    def may_see(other_track: str) -> bool:
        if other_track not in visible:
            other = policies.decide(c, actor.party, role, purpose, other_track)
            visible[other_track] = other.denial is None
        return visible[other_track]

    # the young people's objections, laid over the convenant as in every other view
    restricted = restrictions_for(session, c, [row.young_person_id for row in rows])
    items, entries = [], []
    for row in rows:
        current = _values(session, row.id)
        restriction = restricted.get(row.young_person_id, policies.NO_RESTRICTION)
        # without sources: the rules' triage view (no own data lifted into a DAT-only queue)
        view = policies.apply(
            policies.restrict(decision, restriction), current.values, None, rt.pseudonym_key
        )
        case_signals = signals[row.id]
        parties = sorted({party for party, _ in case_signals})
        found: list[dict[str, Any]] = []
        if len(parties) > 1:
            found.append({"kind": "second_party", "parties": parties})
        found += [
            {"kind": kind, "case_id": other_id if may_see(other_track) else None}
            for kind, other_id, other_track in matches[row.id]
        ]
        items.append(
            {
                "case_id": row.id,
                "opened_at": row.opened_at.isoformat(),
                "updated_at": row.updated_at.isoformat(),
                "identification": view.fields,
                "effects": view.disclosed,
                "involvement": {
                    "categories": list(view.involvement.categories) if view.involvement else [],
                    "parties": parties,
                    "signals": [
                        {"party": party, "received_at": at.isoformat()}
                        for party, at in case_signals
                    ],
                },
                "matches": found,
            }
        )
        entries.append(
            ctx.entry(
                "triage.list",
                "search",
                "success",
                subject=row.subject_key,
                case_id=row.id,
                convenant_hash=c.hash,
                legal_basis=c.purposes[purpose].legal_basis,
                fields_disclosed=view.disclosed,
                detail={
                    "track": track,
                    "page": page,
                    "signals": len(case_signals),
                    "match_kinds": ",".join(sorted({m["kind"] for m in found})) or None,
                    "matched_cases": sum(1 for m in found if m.get("case_id")),
                },
            )
        )
    if not entries:
        entries.append(
            ctx.entry(
                "triage.list",
                "search",
                "success",
                convenant_hash=c.hash,
                detail={"track": track, "page": page, "results": 0},
            )
        )
    audit_and_commit(session, rt, entries)
    return {
        "track": track,
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "purpose": purpose,
        "role": role,
    }


# ── tracks, the case director, closing ──────────────────────────────────────────────────────


def _add_step(
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


def _case_entry(
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
        legal_basis=_legal_basis(rt, ctx),
        **kw,
    )


def assign_track(
    session: Session, rt: Runtime, ctx: Context, case_id: str, body: Any
) -> dict[str, Any]:
    """Assign a case to a track (coordinator), with a reason and optionally a case director;
    the persons of the parties that join the case team, and the director, are notified."""
    c = rt.convenant
    _require_coordinator(ctx, case_id, "assigns tracks")
    code, what = "invalid_track_change", "track change"
    doc, errors = _checked("track", body, code, what)
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
        raise _refuse(code, what, errors)
    case, subject = _case(session, case_id, for_update=True)
    _require_team(rt, ctx, case, subject)
    _require_open(case, subject, "its track cannot change")
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
    _add_step(
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
    notified = _notify(session, rt, case, actor.person_id, added, named, now)
    session.flush()
    entry = _case_entry(
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
        "case_director": _director_username(session, case),
        "history": _history(session, rt, ctx, case.id),
    }
    audit_and_commit(session, rt, [entry])
    return body_out


def name_case_director(
    session: Session, rt: Runtime, ctx: Context, case_id: str, body: Any
) -> dict[str, Any]:
    """Name or change the case director (casusregisseur; coordinator): a person of a party on
    the case team of the current track, with a reason. The director is notified."""
    _require_coordinator(ctx, case_id, "names the case director")
    code, what = "invalid_director_change", "case director change"
    doc, errors = _checked("director", body, code, what)
    if errors:
        raise _refuse(code, what, errors)
    case, subject = _case(session, case_id, for_update=True)
    _require_team(rt, ctx, case, subject)
    _require_open(case, subject, "its case director cannot change")
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
    previous = _director_username(session, case)
    now = utcnow()
    case.case_director_id = named.id
    case.updated_at = now
    _add_step(
        session,
        case,
        "director",
        doc["reason"].strip(),
        actor.person_id,
        now,
        case_director_id=named.id,
    )
    notified = _notify(session, rt, case, actor.person_id, set(), named, now)
    session.flush()
    entry = _case_entry(
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
    _add_step(
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
    _require_coordinator(ctx, case_id, "closes a case")
    code, what = "invalid_close", "closing"
    doc, errors = _checked("close", body, code, what)
    reason_code = doc.get("reason_code")
    if isinstance(reason_code, str) and reason_code not in CLOSE_REASONS:
        errors.append(
            {"field": "reason_code", "problem": "must be one of " + ", ".join(CLOSE_REASONS)}
        )
    if errors or not isinstance(reason_code, str):
        raise _refuse(code, what, errors)
    case, subject = _case(session, case_id, for_update=True)
    _require_team(rt, ctx, case, subject)
    _require_open(case, subject, "it cannot be closed again")
    actor = ctx.actor
    assert actor is not None
    now = utcnow()
    note = doc.get("note")
    record_close(session, case, reason_code, note.strip() if note else None, actor.person_id, now)
    session.flush()
    entry = _case_entry(
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
    case, subject = _case(session, case_id)
    _require_team(rt, ctx, case, subject)
    steps = _history(session, rt, ctx, case.id)
    body = {
        "case_id": case.id,
        "track": case.track,
        "case_director": _director_username(session, case),
        "opened_at": case.opened_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "close_reason": case.close_reason,
        "history": steps,
    }
    entry = _case_entry(
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


def _notification(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "case_id": n.case_id,
        "kind": n.kind,
        "message": n.message,
        "created_at": n.created_at.isoformat(),
        "read_at": n.read_at.isoformat() if n.read_at else None,
    }


def list_notifications(
    session: Session, rt: Runtime, ctx: Context, unread_only: bool, page: int, per_page: int
) -> dict[str, Any]:
    """The caller's own notifications, newest first (only the unread ones when asked)."""
    actor = ctx.actor
    assert actor is not None and actor.person_id is not None
    where = [Notification.person_id == actor.person_id]
    unread = session.scalar(
        select(func.count()).select_from(Notification).where(*where, Notification.read_at.is_(None))
    )
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = session.scalar(select(func.count()).select_from(Notification).where(*where)) or 0
    items = [
        _notification(n)
        for n in session.scalars(
            select(Notification)
            .where(*where)
            .order_by(Notification.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    ]
    entry = ctx.entry(
        "notification.list",
        "search",
        "success",
        detail={"unread_only": unread_only, "page": page, "results": len(items)},
    )
    audit_and_commit(session, rt, [entry])
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "unread": unread or 0,
    }


def mark_notification_read(
    session: Session, rt: Runtime, ctx: Context, notification_id: int
) -> dict[str, Any]:
    """Mark one of the caller's own notifications read (anyone else's: 404)."""
    actor = ctx.actor
    assert actor is not None
    found = session.get(Notification, notification_id)
    if found is None or found.person_id != actor.person_id:
        raise Problem(
            404,
            "notification_not_found",
            "There is no notification with this id for you.",
            audit={"reason": "not_found_or_not_own"},
        )
    if found.read_at is None:
        found.read_at = utcnow()
    session.flush()
    entry = ctx.entry(
        "notification.read",
        "update",
        "success",
        case_id=found.case_id,
        detail={"notification_id": found.id},
    )
    out = _notification(found)
    audit_and_commit(session, rt, [entry])
    return out


# ── the plan of approach ────────────────────────────────────────────────────────────────────

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
    case, subject = _case(session, case_id)
    _require_team(rt, ctx, case, subject)
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
    entry = _case_entry(
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
    case, subject = _case(session, case_id)
    _require_team(rt, ctx, case, subject)
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
    entry = _case_entry(
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
    case, subject = _case(session, case_id, for_update=True)
    _require_team(rt, ctx, case, subject)
    actor = ctx.actor
    assert actor is not None
    if not _writes_plan(ctx, case):
        raise Problem(
            403,
            "plan_writer_only",
            "Only the coordinator or the case director writes the plan of approach.",
            audit={"case_id": case.id, "subject": subject},
        )
    _require_open(case, subject, "its plan of approach cannot change")
    code, what = "invalid_plan", "plan of approach"
    doc, errors = _checked("plan", body, code, what)
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
        raise _refuse(code, what, errors, case_id=case.id, subject=subject)
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
    entry = _case_entry(
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
