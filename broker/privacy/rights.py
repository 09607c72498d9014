"""The rights of the young person, handled by the privacy officer: corrections (AVG art. 16),
deletions of signals (art. 17) and objections (art. 21), and the objections as a restriction
that every view lays over the convenant.

The privacy officer never sees case content: these functions take values in and report what
was done (fields, counts, ids), never a value. Every change is audited in its transaction.

Decisions taken here:
- A correction supersedes every current value of the field on the young person's open case and
  erases their content (JSON null); their provenance stays (party, regime, time, superseded_at).
  The corrected value keeps the supplier and regime of the value it replaces (the data stays
  that party's data: were it the privacy officer's party's own, the own-data rule would show it
  to the municipality), is entered by the privacy officer and points at the correction
  (`rights_actions`, with the reason). The BSN is not corrected: it is what identifies the young
  person (delete the signals that hold a wrong one and have them sent again).
- An objection withholds, never widens; it does not hide what a party supplied itself (see
  `policies.restrict`). It applies to the young person, in every case, until it is lifted.
- Reasons are kept in the database (`rights_actions`, `objections`), never in the audit log:
  a reason is free text and might repeat a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import JSON, delete, func, select, update
from sqlalchemy.orm import Session

import policies
from broker.casework.matching import refresh_match_keys
from broker.casework.restrictions import restrictions, restrictions_for
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.identity.actors import Actor
from broker.identity.subjects import subject_key
from broker.storage.models import (
    Case,
    FieldValue,
    Objection,
    Person,
    RightsAction,
    Signal,
    YoungPerson,
    utcnow,
)

__all__ = [
    "CORRECTION_BASIS",
    "DELETION_BASIS",
    "OBJECTION_BASIS",
    "correct_value",
    "delete_signal",
    "explain_case",
    "lift_objection",
    "list_objections",
    "record_objection",
    "restrictions",
    "restrictions_for",
]

CORRECTION_BASIS = "AVG art. 16 (rectificatie); Wpg art. 28"
DELETION_BASIS = "AVG art. 17 (gegevenswissing); Wpg art. 28"
OBJECTION_BASIS = policies.OBJECTION_LEGAL_BASIS
MAX_REASON = 2000
MAX_TARGETS = 64


# ── input checks ────────────────────────────────────────────────────────────────────────────


def _members(body: Any, allowed: set[str], code: str) -> list[dict[str, str]]:
    if not isinstance(body, dict):
        raise Problem(422, code, "The body must be a JSON object; nothing was changed.")
    return [{"field": k, "problem": "unknown member"} for k in sorted(set(body) - allowed)]


def _check_reason(reason: Any, errors: list[dict[str, str]]) -> str:
    if (
        not isinstance(reason, str)
        or not reason.strip()
        or len(reason) > MAX_REASON
        or not _is_clean(reason)
    ):
        errors.append(
            {"field": "reason", "problem": f"give the reason (1–{MAX_REASON} characters of text)"}
        )
        return ""
    return reason.strip()


def _is_clean(text: str) -> bool:
    return all(ch >= " " or ch in "\t\n\r" for ch in text) and "\x7f" not in text


def _refuse(code: str, detail: str, errors: list[dict[str, str]]) -> None:
    if errors:
        raise Problem(422, code, detail, errors=errors)


def _young_person_key(rt: Runtime, subject: Any) -> str:
    bsn, identity = rt.validator.validate_subject(subject)
    return subject_key(rt.subject_secret, bsn=bsn, identity=identity)


def _officer(ctx: Context) -> Actor:
    actor = ctx.actor
    assert actor is not None and actor.person_id is not None
    return actor


def _basis(rt: Runtime, ctx: Context) -> str | None:
    purpose = rt.convenant.purposes.get(ctx.purpose or "")
    return purpose.legal_basis if purpose else None


# ── corrections ─────────────────────────────────────────────────────────────────────────────


def correct_value(session: Session, rt: Runtime, ctx: Context, body: Any) -> dict[str, Any]:
    """Correct a field on the young person's open case: the current values are superseded and
    erased, the corrected value (checked as in a signal) takes their place; audited by name."""
    c = rt.convenant
    errors = _members(body, {"subject", "field", "value", "reason"}, "invalid_correction")
    name = body.get("field")
    if not isinstance(name, str) or name not in c.fields:
        errors.append({"field": "field", "problem": "must be a field of the convenant"})
    elif name == "bsn":
        errors.append(
            {
                "field": "field",
                "problem": "the BSN identifies the young person and is not corrected: delete "
                "the signals that hold a wrong one and have them sent again",
            }
        )
    if "value" not in body:
        errors.append({"field": "value", "problem": "required"})
    reason = _check_reason(body.get("reason"), errors)
    _refuse("invalid_correction", "The correction is not valid; nothing was changed.", errors)
    key = _young_person_key(rt, body.get("subject"))
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
    officer, newest, now = _officer(ctx), current[-1], utcnow()
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
    errors: list[dict[str, str]] = []
    text = _check_reason(reason, errors)
    _refuse("invalid_deletion", "The deletion is not valid; nothing was changed.", errors)
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
            recorded_by_id=_officer(ctx).person_id,
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


def _names(
    raw: Any, member: str, known: Mapping[str, Any], errors: list[dict[str, str]], empty: bool
) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        errors.append({"field": member, "problem": "must be a list of names"})
        return []
    if not raw and not empty:
        errors.append({"field": member, "problem": "name at least one"})
    if len(raw) > MAX_TARGETS:
        errors.append({"field": member, "problem": f"at most {MAX_TARGETS} names"})
    unknown = sorted({x for x in raw if x not in known})
    errors += [
        {"field": f"{member}[{raw.index(x)}]", "problem": "not a name of the convenant"}
        for x in unknown
    ]
    return sorted(set(raw))


def _objection_dict(o: Objection, names: Mapping[int, str]) -> dict[str, Any]:
    return {
        "objection_id": o.id,
        "targets": list(o.targets),
        "parties": list(o.parties),
        "reason": o.reason,
        "recorded_by": names.get(o.recorded_by_id),
        "recorded_at": o.recorded_at.isoformat(),
        "lifted_at": o.lifted_at.isoformat() if o.lifted_at else None,
        "lifted_by": names.get(o.lifted_by_id) if o.lifted_by_id else None,
        "in_force": o.lifted_at is None,
    }


def _usernames(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(select(Person.id, Person.username).where(Person.id.in_(wanted)))
    return {person_id: username for person_id, username in rows}


def record_objection(session: Session, rt: Runtime, ctx: Context, body: Any) -> dict[str, Any]:
    """Record a young person's objection: the fields and categories it withholds, from which
    parties (none named: every party); audited with the fields it withholds."""
    c = rt.convenant
    errors = _members(body, {"subject", "targets", "parties", "reason"}, "invalid_objection")
    known_targets = {**c.categories, **c.fields}
    targets = _names(body.get("targets"), "targets", known_targets, errors, empty=False)
    parties = _names(body.get("parties", []), "parties", c.parties, errors, empty=True)
    reason = _check_reason(body.get("reason"), errors)
    _refuse("invalid_objection", "The objection is not valid; nothing was changed.", errors)
    key = _young_person_key(rt, body.get("subject"))
    person = session.scalar(select(YoungPerson).where(YoungPerson.subject_key == key))
    if person is None:
        raise Problem(
            404,
            "subject_not_found",
            "The broker holds nothing about this young person; nothing was recorded.",
        )
    officer, now = _officer(ctx), utcnow()
    record = Objection(
        young_person_id=person.id,
        targets=targets,
        parties=parties,
        reason=reason,
        recorded_by_id=officer.person_id,
        recorded_at=now,
    )
    session.add(record)
    session.flush()
    fields = sorted(policies.objection(c, targets, parties).fields)
    entry = ctx.entry(
        "subject.objection",
        "create",
        "success",
        subject=key,
        convenant_hash=c.hash,
        legal_basis=OBJECTION_BASIS,
        fields_withheld=fields,
        detail={
            "objection_id": record.id,
            "parties": ",".join(parties) if parties else "all",
            "targets": len(targets),
        },
    )
    audit_and_commit(session, rt, [entry])
    return {
        **_objection_dict(record, {officer.person_id or 0: officer.username}),
        "fields": fields,
    }


def list_objections(session: Session, rt: Runtime, ctx: Context, subject: Any) -> dict[str, Any]:
    """The young person's objections, in force and lifted (the read is audited)."""
    key = _young_person_key(rt, subject)
    found = session.scalars(
        select(Objection)
        .join(YoungPerson, YoungPerson.id == Objection.young_person_id)
        .where(YoungPerson.subject_key == key)
        .order_by(Objection.id)
    ).all()
    names = _usernames(session, [i for o in found for i in (o.recorded_by_id, o.lifted_by_id)])
    entry = ctx.entry(
        "subject.objections",
        "read",
        "success",
        subject=key,
        legal_basis=_basis(rt, ctx),
        detail={"objections": len(found), "in_force": sum(o.lifted_at is None for o in found)},
    )
    audit_and_commit(session, rt, [entry])
    return {"subject": key, "items": [_objection_dict(o, names) for o in found]}


def lift_objection(
    session: Session, rt: Runtime, ctx: Context, objection_id: int
) -> dict[str, Any]:
    """Lift an objection: from now on the convenant alone decides again; audited."""
    record = session.scalar(select(Objection).where(Objection.id == objection_id).with_for_update())
    if record is None:
        raise Problem(404, "objection_not_found", "There is no objection with this id.")
    key = session.scalar(
        select(YoungPerson.subject_key).where(YoungPerson.id == record.young_person_id)
    )
    if record.lifted_at is not None:
        raise Problem(
            409,
            "objection_lifted",
            "This objection was lifted already; nothing was changed.",
            audit={"subject": key},
        )
    officer, now = _officer(ctx), utcnow()
    record.lifted_at, record.lifted_by_id = now, officer.person_id
    session.flush()
    entry = ctx.entry(
        "subject.objection_lift",
        "update",
        "success",
        subject=key,
        convenant_hash=rt.convenant.hash,
        legal_basis=OBJECTION_BASIS,
        detail={"objection_id": record.id},
    )
    audit_and_commit(session, rt, [entry])
    names = _usernames(session, [record.recorded_by_id, record.lifted_by_id])
    return _objection_dict(record, names)


# ── explain, for one case ───────────────────────────────────────────────────────────────────


def explain_case(session: Session, rt: Runtime, ctx: Context, case_id: str) -> dict[str, Any]:
    """The convenant's explanation for the caller's view of one case, with the fields an
    objection withholds (naming no one but this case's young person). The same refusals as
    the case view: 404 for a case the party may not see at all."""
    actor, role, purpose = ctx.actor, ctx.role, ctx.purpose
    assert actor is not None and role is not None and purpose is not None
    c = rt.convenant
    if c.purposes[purpose].view is policies.View.NONE:
        raise Problem(
            403, "no_case_content", f"The purpose {purpose!r} gives no access to case content."
        )
    row = session.execute(
        select(Case.id, Case.track, Case.young_person_id, YoungPerson.subject_key)
        .join(YoungPerson, YoungPerson.id == Case.young_person_id)
        .where(Case.id == case_id, Case.purged_at.is_(None))
    ).one_or_none()
    if row is None:
        raise Problem(
            404,
            "case_not_found",
            "There is no case with this id that you may see.",
            audit={"case_id": case_id if len(case_id) <= 64 else None},
        )
    case_id, track, young_person_id, key = row
    decision = policies.decide(c, actor.party, role, purpose, track)
    if decision.denial == "not_on_case_team":
        newest: dict[str, str] = {}
        for name, party in session.execute(
            select(FieldValue.field, FieldValue.party)
            .where(FieldValue.case_id == case_id, FieldValue.superseded_at.is_(None))
            .order_by(FieldValue.id)
        ):
            newest[name] = party
        if actor.party not in newest.values():  # as the case view: own data, or not found
            raise Problem(
                404,
                "case_not_found",
                "There is no case with this id that you may see.",
                audit={
                    "case_id": case_id,
                    "subject": key,
                    "reason": "not_on_case_team",
                    "track": track,
                },
            )
    elif decision.denial is not None:
        raise Problem(
            403,
            decision.denial,
            decision.denial_reason or "Refused.",
            audit={"case_id": case_id, "subject": key},
        )
    restriction = restrictions(session, c, young_person_id=young_person_id)
    result = policies.explain(c, actor.party, role, purpose, track, restriction)
    objected = sorted(f["field"] for f in result["fields"] if f["rule"] == policies.OBJECTION_RULE)
    entry = ctx.entry(
        "case.explain",
        "read",
        "success",
        subject=key,
        case_id=case_id,
        convenant_hash=c.hash,
        legal_basis=c.purposes[purpose].legal_basis,
        detail={"track": track, "withheld_by_objection": len(objected)},
    )
    audit_and_commit(session, rt, [entry])
    return {"case_id": case_id, **result, "withheld_by_objection": objected}
