"""Objections as the restriction every view lays over the convenant: which fields are withheld
from which receiving party for one young person. Kept apart from the use cases (no audit, no
commit) so that every view can call it: `views.case_view`, `views.list_cases`, triage.

    restriction = restrictions(session, rt.convenant, young_person_id=...)   # or subject=key
    decision = policies.restrict(policies.decide(...), restriction)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import policies
from broker.storage.models import Objection, YoungPerson

__all__ = ["restrictions", "restrictions_for"]


def _restriction(c: policies.Convenant, rows: Iterable[Any]) -> policies.Restriction:
    objections = tuple(policies.objection(c, targets, parties) for targets, parties in rows)
    return policies.Restriction(objections) if objections else policies.NO_RESTRICTION


def restrictions(
    session: Session,
    c: policies.Convenant,
    *,
    young_person_id: int | None = None,
    subject: str | None = None,
) -> policies.Restriction:
    """The objections in force for one young person (by id or subject key), as a restriction
    for `policies.restrict`; `policies.NO_RESTRICTION` when there are none."""
    query = select(Objection.targets, Objection.parties).where(Objection.lifted_at.is_(None))
    if young_person_id is not None:
        query = query.where(Objection.young_person_id == young_person_id)
    elif subject is not None:
        query = query.join(YoungPerson, YoungPerson.id == Objection.young_person_id).where(
            YoungPerson.subject_key == subject
        )
    else:
        raise ValueError("restrictions needs a young_person_id or a subject key")
    return _restriction(c, session.execute(query.order_by(Objection.id)))


def restrictions_for(
    session: Session, c: policies.Convenant, young_person_ids: Iterable[int]
) -> dict[int, policies.Restriction]:
    """The restrictions of several young people in one query (a list of cases); those without
    an objection in force are absent (use `policies.NO_RESTRICTION`)."""
    ids = sorted(set(young_person_ids))
    if not ids:
        return {}
    rows: dict[int, list[tuple[Any, Any]]] = {}
    for person_id, targets, parties in session.execute(
        select(Objection.young_person_id, Objection.targets, Objection.parties)
        .where(Objection.young_person_id.in_(ids), Objection.lifted_at.is_(None))
        .order_by(Objection.id)
    ):
        rows.setdefault(person_id, []).append((targets, parties))
    return {person_id: _restriction(c, found) for person_id, found in rows.items()}
