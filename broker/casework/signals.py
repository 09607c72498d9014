"""Signal intake: a partner's signal checked against the convenant's field definitions, its young
person found by the keyed pseudonym of the BSN (never the BSN itself), the open case found or
opened in the initial track, the values stored with their supplier, the matches refreshed — and
the intake audited in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broker.core.context import Context, audit_and_commit
from broker.core.runtime import Runtime
from broker.core.validation import ValidSignal
from broker.identity.actors import Actor
from broker.identity.subjects import subject_key
from broker.storage.models import (
    Case,
    FieldValue,
    Signal,
    TrackChange,
    YoungPerson,
    utcnow,
)

from .matching import refresh_match_keys

__all__ = [
    "SignalReceipt",
    "submit_signal",
]


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
                    FieldValue.case_id == case.id,
                    FieldValue.field.in_(signal.subject_fields),
                    FieldValue.superseded_at.is_(None),
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
    refresh_match_keys(session, rt.subject_secret, case.id, supplied)
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
