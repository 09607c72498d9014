"""The broker's use cases: load → decide → transform → audit → commit, session passed in.

Every function appends its audit record last, in the same transaction as its own writes, and
commits before anything is returned: if the audit record cannot be written, nothing leaves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

import policies
from audit import AuditEntry, AuditError

from .auth import Actor
from .identity import subject_key
from .limits import ViewLimits, bulk_view_alarm, check_view_rate
from .models import Case, FieldValue, Person, Signal, TrackChange, YoungPerson, utcnow
from .problems import Problem
from .runtime import Runtime
from .validation import ValidSignal

__all__ = [
    "Context",
    "audit_and_commit",
    "case_view",
    "change_track",
    "explain",
    "list_cases",
    "submit_signal",
]


@dataclass(frozen=True)
class Context:
    """Who asks, how, and for what: everything an audit record needs besides the event."""

    actor: Actor | None
    request_id: str | None
    source_address: str | None
    role: str | None = None
    purpose: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def entry(self, event: str, action: str, outcome: str, **kw: Any) -> AuditEntry:
        """An audit entry for this context."""
        a = self.actor
        person = a if a is not None and not a.is_client else None
        fields: dict[str, Any] = {
            # a partner system is named by its client_id alone
            "person_id": person.username if person else None,
            "person_name": person.name if person else None,
            "role": self.role,
            "party": a.party if a else None,
            "client_id": a.client_id if a else None,
            "purpose": self.purpose,
            "request_id": self.request_id,
            "source_address": self.source_address,
        }
        fields.update(kw)
        return AuditEntry(event=event, action=action, outcome=outcome, **fields)


def audit_and_commit(session: Session, rt: Runtime, entries: Sequence[AuditEntry]) -> None:
    """Append the audit records and commit; 503 Problem (and nothing stored) when that fails."""
    try:
        rt.audit.append(session, entries)
        session.commit()
    except (AuditError, SQLAlchemyError, OSError):
        session.rollback()
        raise Problem(
            503,
            "audit_unavailable",
            "The audit log could not be written, so nothing was done and no data "
            "was sent. Try again later.",
            audit={"skip": True},
        ) from None


# ── signals ─────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class SignalReceipt:
    """What intake returns: the signal and the case it landed on."""

    signal_id: str
    case_id: str
    new_case: bool


def _young_person(session: Session, key: str) -> YoungPerson:
    """The young person with this subject key, created if new (safe under concurrency)."""
    found = session.scalar(select(YoungPerson).where(YoungPerson.subject_key == key))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            person = YoungPerson(subject_key=key)
            session.add(person)
        return person
    except IntegrityError:
        return session.scalars(select(YoungPerson).where(YoungPerson.subject_key == key)).one()


def _open_case(
    session: Session, rt: Runtime, person: YoungPerson, actor: Actor
) -> tuple[Case, bool]:
    """The young person's open case, or a new one in the convenant's initial track."""
    query = select(Case).where(Case.young_person_id == person.id, Case.closed_at.is_(None))
    found = session.scalar(query)
    if found is not None:
        return found, False
    initial = rt.convenant.initial_track
    try:
        with session.begin_nested():
            case = Case(young_person_id=person.id, track=initial)
            session.add(case)
            session.flush()
            session.add(
                TrackChange(
                    case_id=case.id,
                    from_track=None,
                    to_track=initial,
                    reason="Signaal ontvangen",
                    decided_by_id=actor.person_id,
                )
            )
        return case, True
    except IntegrityError:
        return session.scalars(query).one(), False


def submit_signal(
    session: Session, rt: Runtime, ctx: Context, signal: ValidSignal
) -> SignalReceipt:
    """Store a validated signal with the provenance of every value, on the young person's case."""
    actor = ctx.actor
    assert actor is not None
    key = subject_key(rt.subject_secret, bsn=signal.bsn, identity=signal.identity)
    person = _young_person(session, key)
    case, new_case = _open_case(session, rt, person, actor)
    regime = rt.convenant.parties[actor.party].regime
    now = utcnow()
    record = Signal(
        case_id=case.id,
        party=actor.party,
        person_id=actor.person_id,
        client_id=actor.client_id,
        summary=signal.summary,
        regime=regime,
        received_at=now,
    )
    session.add(record)
    session.flush()
    supplied = dict(signal.fields)
    if signal.subject_fields:
        held = set(
            session.scalars(
                select(FieldValue.field).where(
                    FieldValue.case_id == case.id, FieldValue.field.in_(signal.subject_fields)
                )
            )
        )
        supplied.update(
            {k: v for k, v in signal.subject_fields.items() if k not in held and k not in supplied}
        )
    session.add_all(
        FieldValue(
            case_id=case.id,
            signal_id=record.id,
            field=name,
            value=value,
            party=actor.party,
            person_id=actor.person_id,
            regime=regime,
            supplied_at=now,
        )
        for name, value in supplied.items()
    )
    case.updated_at = now
    entry = ctx.entry(
        "signal.create",
        "create",
        "success",
        subject=key,
        case_id=case.id,
        convenant_hash=rt.convenant.hash,
        legal_basis=rt.convenant.parties[actor.party].legal_basis,
        detail={"signal_id": record.id, "new_case": new_case, "fields_supplied": len(supplied)},
    )
    audit_and_commit(session, rt, [entry])
    return SignalReceipt(record.id, case.id, new_case)


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


def _load_case(session: Session, case_id: str) -> CaseHeader | None:
    """The case's header, with its young person's key and case director, in one query."""
    row = session.execute(
        select(Case.id, Case.track, Case.opened_at, YoungPerson.subject_key, Person.username)
        .join(YoungPerson, YoungPerson.id == Case.young_person_id)
        .outerjoin(Person, Person.id == Case.case_director_id)
        .where(Case.id == case_id)
    ).one_or_none()
    return CaseHeader(*row) if row is not None else None


def _values(session: Session, case_id: str) -> CaseValues:
    rows = session.execute(
        select(FieldValue.field, FieldValue.value, FieldValue.party, FieldValue.supplied_at)
        .where(FieldValue.case_id == case_id)
        .order_by(FieldValue.id)
    )
    out = CaseValues({}, {}, {})
    for name, value, party, supplied_at in rows:
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
    case = _load_case(session, case_id)
    if case is None:
        raise Problem(
            404,
            "case_not_found",
            "There is no case with this id that you may see.",
            audit={"case_id": case_id if len(case_id) <= 64 else None},
        )
    decision = policies.decide(rt.convenant, actor.party, role, purpose, case.track)
    subject = case.subject
    current = _values(session, case.id)
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
    for case in cases:
        decision = policies.decide(rt.convenant, actor.party, role, purpose, case.track)
        current = _values(session, case.id)
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


def change_track(
    session: Session, rt: Runtime, ctx: Context, case_id: str, body: Any
) -> dict[str, Any]:
    """Assign a case to a track (coordinator), with a reason and optionally a case director."""
    c = rt.convenant
    if not isinstance(body, dict):
        raise Problem(422, "invalid_track_change", "The body must be a JSON object.")
    errors: list[dict[str, str]] = []
    unknown = sorted(set(body) - {"track", "case_director", "reason"})
    errors += [{"field": k, "problem": "unknown member"} for k in unknown]
    track, reason, director = body.get("track"), body.get("reason"), body.get("case_director")
    if not isinstance(track, str) or track not in c.tracks:
        errors.append(
            {
                "field": "track",
                "problem": "must be one of "
                + ", ".join(t for t in c.tracks if t != c.initial_track),
            }
        )
    elif track == c.initial_track:
        errors.append({"field": "track", "problem": f"a case cannot go back to {track}"})
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
        errors.append({"field": "reason", "problem": "give the reason (1–2000 characters)"})
    if director is not None and not isinstance(director, str):
        errors.append({"field": "case_director", "problem": "must be a username"})
    if errors:
        raise Problem(
            422,
            "invalid_track_change",
            "The track change is not valid; nothing was changed.",
            errors=errors,
        )
    case = session.get(Case, case_id)
    if case is None:
        raise Problem(
            404,
            "case_not_found",
            "There is no case with this id.",
            audit={"case_id": case_id if len(case_id) <= 64 else None},
        )
    if case.closed_at is not None:
        raise Problem(409, "case_closed", "The case is closed; its track cannot change.")
    director_person = None
    if director is not None:
        director_person = session.scalar(select(Person).where(Person.username == director))
        if director_person is None or director_person.disabled:
            raise Problem(
                422,
                "invalid_track_change",
                "The case director is not a known, active person.",
                errors=[{"field": "case_director", "problem": "unknown person"}],
            )
        if director_person.party not in c.tracks[track].case_team:
            raise Problem(
                422,
                "invalid_track_change",
                "The case director must belong to a party on the case team of the new track.",
                errors=[
                    {
                        "field": "case_director",
                        "problem": f"party {director_person.party} is not on the "
                        f"case team of {track}",
                    }
                ],
            )
    if track == case.track and director_person is None:
        raise Problem(409, "same_track", f"The case is already in track {track}.")
    previous = case.track
    actor = ctx.actor
    assert actor is not None
    now = utcnow()
    case.track = track
    if director_person is not None:
        case.case_director_id = director_person.id
    case.updated_at = now
    session.add(
        TrackChange(
            case_id=case.id,
            from_track=previous,
            to_track=track,
            reason=reason.strip(),
            decided_by_id=actor.person_id,
            decided_at=now,
        )
    )
    session.flush()
    entry = ctx.entry(
        "track.change",
        "update",
        "success",
        subject=case.young_person.subject_key,
        case_id=case.id,
        convenant_hash=c.hash,
        legal_basis=c.purposes[ctx.purpose].legal_basis if ctx.purpose else None,
        detail={
            "from_track": previous,
            "to_track": track,
            "case_director": director_person.username if director_person else None,
        },
    )
    audit_and_commit(session, rt, [entry])
    session.refresh(case)
    return {
        "case_id": case.id,
        "track": case.track,
        "case_director": case.case_director.username if case.case_director else None,
        "history": [
            {
                "from": h.from_track,
                "to": h.to_track,
                "reason": h.reason,
                "decided_by": h.decided_by.username if h.decided_by else None,
                "decided_at": h.decided_at.isoformat(),
            }
            for h in case.track_changes
        ],
    }


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
