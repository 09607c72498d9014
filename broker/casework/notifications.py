"""Notifications: the persons of a party that joins a case team, and a newly named case director,
are told which case and track — never a value; each person reads and marks only their own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker.core.context import Context, audit_and_commit
from broker.core.problems import Problem
from broker.core.runtime import Runtime
from broker.storage.models import (
    Case,
    Notification,
    Person,
    utcnow,
)

from .guards import (
    case_roles,
)

__all__ = [
    "list_notifications",
    "mark_notification_read",
    "notify",
]


def notify(
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
        roles = case_roles(c)
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
