"""Corrections (AVG art. 16) and deletions of signals (art. 17), handled by the privacy officer
for a young person: the answers say what was done, never a value, and every change is audited
by field name. Objections (art. 21) are in `objections`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, delete, func, select, update
from sqlalchemy.orm import Session

from broker.casework.matching import refresh_match_keys
from broker.casework.restrictions import restrictions, restrictions_for
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.storage.models import (
    Case,
    FieldValue,
    RightsAction,
    Signal,
    YoungPerson,
    utcnow,
)

from .requests import (
    acting_officer,
    checked,
    correction_schema,
    deletion_schema,
    young_person_key,
)

__all__ = [
    "CORRECTION_BASIS",
    "DELETION_BASIS",
    "correct_value",
    "delete_signal",
    "restrictions",
    "restrictions_for",
]


CORRECTION_BASIS = "AVG art. 16 (rectificatie); Wpg art. 28"
DELETION_BASIS = "AVG art. 17 (gegevenswissing); Wpg art. 28"


# ── input checks ────────────────────────────────────────────────────────────────────────────


# ── corrections ─────────────────────────────────────────────────────────────────────────────


def correct_value(session: Session, rt: Runtime, ctx: Context, body: Any) -> dict[str, Any]:
    """Correct a field on the young person's open case: the current values are superseded and
    erased, the corrected value (checked as in a signal) takes their place; audited by name."""
    c = rt.convenant
    doc = checked(correction_schema, rt, body, "invalid_correction", "correction")
    name, reason = doc["field"], doc["reason"]
    key = young_person_key(rt, doc["subject"])
    value = rt.validator.validate_value(name, body["value"])
    case = session.scalar(
        select(Case)
        .join(YoungPerson, YoungPerson.id == Case.young_person_id)
        .where(YoungPerson.subject_key == key, Case.closed_at.is_(None))
        .with_for_update(of=Case)
    )
    if case is None:
        raise Problem(
            404,
            "no_open_case",
            "This young person has no open case; nothing was changed.",
            audit={"subject": key},
        )
    current = session.scalars(
        select(FieldValue)
        .where(
            FieldValue.case_id == case.id,
            FieldValue.field == name,
            FieldValue.superseded_at.is_(None),
        )
        .order_by(FieldValue.id)
    ).all()
    if not current:
        raise Problem(
            404,
            "value_not_found",
            f"The case holds no value of {name} to correct; nothing was changed.",
            audit={"subject": key, "case_id": case.id},
        )
    officer, newest, now = acting_officer(ctx), current[-1], utcnow()
    action = RightsAction(
        kind="correction",
        case_id=case.id,
        field=name,
        reason=reason,
        recorded_by_id=officer.person_id,
        recorded_at=now,
    )
    session.add(action)
    session.flush()
    session.execute(
        update(FieldValue)
        .where(FieldValue.id.in_([v.id for v in current]))
        .values(superseded_at=now, value=JSON.NULL)
        .execution_options(synchronize_session=False)
    )
    session.add(
        FieldValue(
            case_id=case.id,
            signal_id=newest.signal_id,
            field=name,
            value=value,
            party=newest.party,
            person_id=officer.person_id,
            regime=newest.regime,
            supplied_at=now,
            correction_id=action.id,
        )
    )
    session.flush()
    refresh_match_keys(session, rt.subject_secret, case.id, [name])
    case.updated_at = now
    entry = ctx.entry(
        "subject.correction",
        "update",
        "success",
        subject=key,
        case_id=case.id,
        convenant_hash=c.hash,
        legal_basis=CORRECTION_BASIS,
        detail={
            "field": name,
            "superseded": len(current),
            "supplier": newest.party,
            "correction_id": action.id,
        },
    )
    audit_and_commit(session, rt, [entry])
    return {
        "correction_id": action.id,
        "case_id": case.id,
        "field": name,
        "supplier": newest.party,
        "superseded": len(current),
        "corrected_at": now.isoformat(),
    }


# ── deletions ───────────────────────────────────────────────────────────────────────────────


def delete_signal(
    session: Session, rt: Runtime, ctx: Context, signal_id: str, reason: Any
) -> dict[str, Any]:
    """Delete a signal and its values (the audit records stay); audited, never a value."""
    doc = checked(deletion_schema, rt, {"reason": reason}, "invalid_deletion", "deletion")
    text = doc["reason"]
    signal = session.scalar(select(Signal).where(Signal.id == signal_id).with_for_update())
    if signal is None:
        raise Problem(
            404,
            "signal_not_found",
            "There is no signal with this id; nothing was changed.",
            audit={"reason": "unknown_signal"},
        )
    case = session.scalar(select(Case).where(Case.id == signal.case_id).with_for_update())
    assert case is not None
    key = session.scalar(
        select(YoungPerson.subject_key).where(YoungPerson.id == case.young_person_id)
    )
    if case.purged_at is not None:
        raise Problem(
            409,
            "case_purged",
            "Retention already removed this case's data; nothing was changed.",
            audit={"subject": key, "case_id": case.id},
        )
    names = set(session.scalars(select(FieldValue.field).where(FieldValue.signal_id == signal.id)))
    values = session.scalar(
        select(func.count()).select_from(FieldValue).where(FieldValue.signal_id == signal.id)
    )
    party, now = signal.party, utcnow()
    session.execute(delete(FieldValue).where(FieldValue.signal_id == signal.id))
    session.execute(delete(Signal).where(Signal.id == signal.id))
    session.add(
        RightsAction(
            kind="deletion",
            case_id=case.id,
            signal_id=signal_id,
            reason=text,
            recorded_by_id=acting_officer(ctx).person_id,
            recorded_at=now,
        )
    )
    session.flush()
    refresh_match_keys(session, rt.subject_secret, case.id, names)
    case.updated_at = now
    entry = ctx.entry(
        "signal.delete",
        "delete",
        "success",
        subject=key,
        case_id=case.id,
        convenant_hash=rt.convenant.hash,
        legal_basis=DELETION_BASIS,
        detail={"signal_id": signal_id, "values": values or 0, "signal_party": party},
    )
    audit_and_commit(session, rt, [entry])
    return {
        "signal_id": signal_id,
        "case_id": case.id,
        "values_deleted": values or 0,
        "deleted_at": now.isoformat(),
    }


# ── objections ──────────────────────────────────────────────────────────────────────────────


# ── explain, for one case ───────────────────────────────────────────────────────────────────
