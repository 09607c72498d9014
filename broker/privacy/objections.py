"""Objections (AVG art. 21) recorded, listed and lifted by the privacy officer: a restriction for
one young person laid over the convenant that can only withhold; and a case's explanation for
the case worker that names the fields an objection withholds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import policies
from broker.casework.restrictions import restrictions
from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.storage.models import (
    Case,
    FieldValue,
    Objection,
    Person,
    YoungPerson,
    utcnow,
)

from .requests import acting_officer, checked, legal_basis, objection_schema, young_person_key

__all__ = [
    "OBJECTION_BASIS",
    "explain_case",
    "lift_objection",
    "list_objections",
    "record_objection",
]


OBJECTION_BASIS = policies.OBJECTION_LEGAL_BASIS


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
    doc = checked(objection_schema, rt, body, "invalid_objection", "objection")
    targets, parties = sorted(set(doc["targets"])), sorted(set(doc.get("parties") or []))
    reason = doc["reason"]
    key = young_person_key(rt, doc["subject"])
    person = session.scalar(select(YoungPerson).where(YoungPerson.subject_key == key))
    if person is None:
        raise Problem(
            404,
            "subject_not_found",
            "The broker holds nothing about this young person; nothing was recorded.",
        )
    officer, now = acting_officer(ctx), utcnow()
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
    key = young_person_key(rt, subject)
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
        legal_basis=legal_basis(rt, ctx),
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
    officer, now = acting_officer(ctx), utcnow()
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
